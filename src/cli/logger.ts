/**
 * The CLI's one consola instance. It writes everything to stderr: stdout of `mux-proxy` (and
 * of any command whose stdout is an MCP stream) carries the protocol only.
 * @module
 */

import { createConsola } from "consola";

/** CLI log levels, quietest first. */
export const CLI_LOG_LEVELS = ["error", "warn", "info", "debug", "trace"] as const;

/** Build the CLI logger at `level` (default info). */
export function createCliLogger(level = "info", tag?: string): ReturnType<typeof createConsola> {
  const consolaLevel = { error: 0, warn: 1, info: 3, debug: 4, trace: 5 }[level] ?? 3;
  const logger = createConsola({ level: consolaLevel, stdout: process.stderr, stderr: process.stderr });
  return tag ? logger.withTag(tag) : logger;
}

/** Print a one-line error to stderr and set a non-zero exit code. */
export function fail(message: string, code = 1): never {
  process.stderr.write(`mux: ${message}\n`);
  process.exit(code);
}
