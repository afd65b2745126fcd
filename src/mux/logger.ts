/**
 * The logger interface the library accepts (consola-compatible), and a stderr default.
 * @module
 */

import { createConsola } from "consola";

/** What the library logs through. A consola instance satisfies it. */
export interface MuxLogger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

/** A logger that writes warnings and errors to stderr only (never stdout). */
export function defaultLogger(tag = "mux"): MuxLogger {
  return createConsola({ level: 1, stdout: process.stderr, stderr: process.stderr }).withTag(tag);
}
