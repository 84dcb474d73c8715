// Checks an agreement file's shape against schemas/agreement.schema.json (JSON Schema 2020-12, with Ajv) before its
// values are read, so a misspelt or missing field is named in words rather than failing later as a conversion.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";

export const AGREEMENT_SCHEMA_PATH = fileURLToPath(
  new URL("../../schemas/agreement.schema.json", import.meta.url),
);

// Compiled on first use, not when a task module loads: most tasks never read an agreement file.
let validate: ValidateFunction | undefined;

/** "/schedule/0/haircutBps" as a reader writes it: "schedule[0].haircutBps". */
function fieldName(pointer: string): string {
  return pointer
    .split("/")
    .slice(1)
    .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part}`))
    .join("")
    .replace(/^\./, "");
}

/** One schema error in words: where it is, what the value was, what was expected. */
function describe(error: ErrorObject): string {
  const where = fieldName(error.instancePath) || "the file";
  const value = JSON.stringify(error.data);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required":
      return `${where} misses "${params.missingProperty}"`;
    case "additionalProperties":
      return `${where} has an unknown field "${params.additionalProperty}"`;
    case "type": {
      if (error.parentSchema?.description && !String(params.type).includes("integer")) {
        return `${where} must be ${expected(error.parentSchema.description)}, not the JSON ${typeof error.data} ${value}`;
      }
      const types = String(params.type).split(",");
      const wanted =
        types.includes("integer") && types.includes("string")
          ? "a whole number (a JSON integer or a string of digits)"
          : types.includes("integer")
            ? "a whole number"
            : `a ${types.join(" or ")}`;
      return `${where} must be ${wanted}, not ${value}`;
    }
    case "pattern":
      return error.parentSchema?.description
        ? `${where} is ${value}; expected ${expected(error.parentSchema.description)}`
        : `${where} is ${value}, which does not match ${params.pattern}`;
    case "minItems":
      return `${where} must list at least ${params.limit}, and lists ${(error.data as unknown[]).length}`;
    case "enum":
      return `${where} is ${value}; it must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return `${where} is ${value}: it ${error.message}`;
  }
}

/** A schema description as the end of a sentence: "A decimal string." -> "a decimal string". */
const expected = (description: string) =>
  description.charAt(0).toLowerCase() + description.slice(1).replace(/\.$/, "");

/** The first way `file` breaks the agreement schema, in words; undefined when it matches. */
export function agreementSchemaProblem(file: unknown): string | undefined {
  validate ??= new Ajv2020({ allErrors: false, allowUnionTypes: true, verbose: true }).compile(
    JSON.parse(readFileSync(AGREEMENT_SCHEMA_PATH, "utf8")),
  );
  if (validate(file)) return undefined;
  return describe(validate.errors![0]);
}
