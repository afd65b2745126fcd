/**
 * The `bun build` flags of every executable we ship (and of the benchmark's comparison builds):
 * --minify --bytecode --format=esm start faster and use less memory (measured in
 * ../shared/reference/distribution.md); .env and bunfig.toml autoloading are off, so a folder a
 * host starts mux-proxy in cannot inject configuration or preload code.
 */
export const COMPILE_FLAGS = [
  "--compile",
  "--minify",
  "--bytecode",
  "--format=esm",
  "--sourcemap=none",
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
];
