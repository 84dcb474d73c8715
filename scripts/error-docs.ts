// Generates `types/error-docs.ts` after every build: each custom error of the system's contracts with the NatSpec
// that documents it in the source (solc's userdoc and devdoc), so that the SDK's error sentences are the very text an
// auditor reads beside the `error` declaration, never a second copy of it.
//
// Conventions the generator reads from the NatSpec (IAgreementState.sol and the other interfaces follow them):
// - the `@notice` is the sentence; a parameter named in backticks (`requirement`) is replaced by its value;
// - a `@param` whose description ends in "(WAD)" is an 18-decimal value, one ending in "(Unix time)" a timestamp;
// - a parameter of an enum type is shown by its member's name.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";

/** How the SDK shows one parameter's value. */
export type ParamFormat = "wad" | "time" | "enum" | "raw";

export interface ErrorParamDoc {
  name: string;
  type: string;
  format: ParamFormat;
  /** An enum's member names, in declaration order (only for `format: "enum"`). */
  members?: string[];
}

export interface ErrorDoc {
  name: string;
  /** The `@notice` of the error's declaration, backticked parameter names included. */
  notice: string;
  params: ErrorParamDoc[];
  /** Where the error is declared, e.g. `contracts/interfaces/IMarginEngine.sol`. */
  source: string;
}

interface Artifact {
  sourceName: string;
  contractName: string;
  inputSourceName: string;
  buildInfoId: string;
  abi: Array<{ type: string; name?: string; inputs?: Array<{ name: string; type: string; internalType?: string }> }>;
}

interface AstNode {
  nodeType?: string;
  name?: string;
  canonicalName?: string;
  members?: Array<{ name: string }>;
  nodes?: AstNode[];
  [key: string]: unknown;
}

interface SolcOutput {
  output: {
    contracts: Record<string, Record<string, { userdoc?: Docs; devdoc?: Docs }>>;
    sources: Record<string, { ast: AstNode }>;
  };
}

interface Docs {
  errors?: Record<string, Array<{ notice?: string; params?: Record<string, string> }>>;
}

/** The product's own sources: their errors are ours to document; test doubles and libraries we import are not. */
const isProductSource = (sourceName: string) => {
  const name = sourceName.replace(/^project\//, ""); // the build info's input source names carry this prefix
  return name.startsWith("contracts/") && !name.startsWith("contracts/mocks/");
};

/** Every `error` and `enum` declared in `ast`, with the source unit that declares it. */
function declarations(ast: AstNode, source: string, errors: Map<string, string>, enums: Map<string, string[]>) {
  const visit = (node: AstNode) => {
    if (node.nodeType === "ErrorDefinition" && node.name) errors.set(node.name, source);
    if (node.nodeType === "EnumDefinition" && node.canonicalName && node.members) {
      enums.set(node.canonicalName, node.members.map((member) => member.name));
    }
    for (const child of node.nodes ?? []) visit(child);
  };
  visit(ast);
}

function formatOf(type: string, internalType: string | undefined, description: string | undefined): ParamFormat {
  if (internalType?.startsWith("enum ")) return "enum";
  if (!type.startsWith("uint")) return "raw";
  if (description?.trimEnd().endsWith("(WAD)")) return "wad";
  if (description?.trimEnd().endsWith("(Unix time)")) return "time";
  return "raw";
}

/**
 * Reads the errors of every product contract from its artifact and the build info beside it. Throws when one error
 * name is declared twice in the product (names must be unique) or a declared error has no `@notice`.
 */
export async function collectErrorDocs(artifactPaths: readonly string[], artifactsDir: string) {
  const artifacts: Artifact[] = [];
  for (const artifactPath of artifactPaths) {
    const artifact = JSON.parse(await readFile(artifactPath, "utf8")) as Artifact;
    if (isProductSource(artifact.sourceName)) artifacts.push(artifact);
  }
  const buildInfos = new Map<string, SolcOutput>();
  const readBuildInfo = async (id: string) => {
    let info = buildInfos.get(id);
    if (!info) {
      const file = path.join(artifactsDir, "build-info", `${id}.output.json`);
      info = JSON.parse(await readFile(file, "utf8")) as SolcOutput;
      buildInfos.set(id, info);
    }
    return info;
  };

  const declaredIn = new Map<string, string>();
  const enums = new Map<string, string[]>();
  const docs = new Map<string, ErrorDoc>();
  const walked = new Set<string>();
  for (const artifact of artifacts) {
    const { output } = await readBuildInfo(artifact.buildInfoId);
    // Many artifacts share one build info: walk its sources' declarations once.
    const sources = walked.has(artifact.buildInfoId) ? [] : Object.entries(output.sources);
    walked.add(artifact.buildInfoId);
    for (const [sourceName, { ast }] of sources) {
      const local = new Map<string, string>();
      declarations(ast, sourceName, local, enums);
      for (let [name, source] of local) {
        if (!isProductSource(source)) continue;
        const earlier = declaredIn.get(name);
        source = source.replace(/^project\//, "");
        if (earlier !== undefined && earlier !== source) {
          throw new Error(`error ${name} is declared in both ${earlier} and ${source}: error names must be unique`);
        }
        declaredIn.set(name, source);
      }
    }
    const contract = output.contracts[artifact.inputSourceName]?.[artifact.contractName];
    for (const fragment of artifact.abi) {
      if (fragment.type !== "error" || !fragment.name || !declaredIn.has(fragment.name)) continue;
      const inputs = fragment.inputs ?? [];
      const signature = `${fragment.name}(${inputs.map((input) => input.type).join(",")})`;
      if (docs.has(signature)) continue;
      const notice = contract?.userdoc?.errors?.[signature]?.[0]?.notice;
      if (!notice) throw new Error(`error ${signature} (${declaredIn.get(fragment.name)}) has no @notice`);
      const params = contract?.devdoc?.errors?.[signature]?.[0]?.params ?? {};
      docs.set(signature, {
        name: fragment.name,
        notice,
        source: declaredIn.get(fragment.name)!,
        params: inputs.map((input) => {
          const format = formatOf(input.type, input.internalType, params[input.name]);
          const members = format === "enum" ? enums.get(input.internalType!.slice("enum ".length)) : undefined;
          if (format === "enum" && !members) throw new Error(`enum of ${signature}.${input.name} not found`);
          return { name: input.name, type: input.type, format, ...(members ? { members } : {}) };
        }),
      });
    }
  }
  return Object.fromEntries([...docs].sort(([a], [b]) => a.localeCompare(b)));
}

/** The TypeScript module the SDK imports. */
export function renderErrorDocsModule(docs: Record<string, ErrorDoc>): string {
  return [
    "// Generated after each build by scripts/error-docs.ts from the contracts' NatSpec. Do not edit.",
    "",
    "/** One custom error of the system's contracts: its `@notice` and how to show each parameter. */",
    "export interface ErrorDoc {",
    "  name: string;",
    "  notice: string;",
    '  params: Array<{ name: string; type: string; format: "wad" | "time" | "enum" | "raw"; members?: string[] }>;',
    "  source: string;",
    "}",
    "",
    `export const ERROR_DOCS: Record<string, ErrorDoc> = ${JSON.stringify(docs, null, 2)};`,
    "",
  ].join("\n");
}

/** Writes `types/error-docs.ts` under `root` when its content changed. */
export async function writeErrorDocs(root: string, artifactPaths: readonly string[], artifactsDir: string) {
  const file = path.join(root, "types", "error-docs.ts");
  const content = renderErrorDocsModule(await collectErrorDocs(artifactPaths, artifactsDir));
  const current = await readFile(file, "utf8").catch(() => undefined);
  if (current === content) return;
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
}
