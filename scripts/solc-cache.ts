import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * What `compute` returns, kept as JSON in `dir` under `<name>-<hash>.json`, where the hash covers every one of
 * `keyParts` (for a compile: the compiler's version and its exact standard-JSON input). A rerun with nothing changed
 * reads the file instead of compiling; any change to a source, a setting or the compiler is a new key. Shared by the
 * bench's peer compiles and the deployment check's recompiles.
 */
export function cachedJson<T>(
  dir: string,
  name: string,
  keyParts: string[],
  compute: () => T,
): { value: T; cached: boolean } {
  const hash = createHash("sha256");
  for (const part of keyParts) hash.update(part).update("\n");
  const file = path.join(dir, `${name}-${hash.digest("hex").slice(0, 16)}.json`);
  if (existsSync(file)) return { value: JSON.parse(readFileSync(file, "utf8")) as T, cached: true };
  const value = compute();
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, JSON.stringify(value));
  return { value, cached: false };
}
