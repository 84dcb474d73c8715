// The npm `solc` package (the wasm compiler) ships no type declarations; these are the parts the tests use.
declare module "solc" {
  interface Solc {
    /** e.g. "0.8.28+commit.7893614a.Emscripten.clang" */
    version(): string;
    /** Compiles a standard-JSON input (a JSON string) and returns the standard-JSON output (a JSON string). */
    compile(
      input: string,
      callbacks?: { import?: (path: string) => { contents?: string; error?: string } },
    ): string;
  }
  const solc: Solc;
  export default solc;
}
