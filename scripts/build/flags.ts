/**
 * The `bun build` flags of every executable we ship (and of the benchmark's comparison builds):
 * --minify --bytecode --format=esm start faster and use less memory (measured in
 * ../shared/reference/distribution.md); .env and bunfig.toml autoloading are off, so a folder a
 * host starts mux-proxy in cannot inject configuration or preload code. --splitting keeps
 * lazily imported modules in chunks of their own, loaded when first imported: `mux-proxy` is the
 * same executable as `mux` (src/cli/entry.ts) and loads only the proxy's chunks (measured: an
 * idle proxy's private memory 6.1 → 4.1 MB).
 */
export const COMPILE_FLAGS = [
  "--compile",
  "--minify",
  "--bytecode",
  "--format=esm",
  "--splitting",
  "--sourcemap=none",
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
];
