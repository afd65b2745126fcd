/**
 * MCP logging levels: validation, ordering, and the effective level the shared child gets
 * when each client keeps its own (routing spec §2.1).
 * @module
 */

/** Levels in increasing severity (`server/utilities/logging.mdx`). */
export const LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"] as const;

/** One MCP logging level. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** True for a valid MCP logging level. */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && (LOG_LEVELS as readonly string[]).includes(value);
}

/** Severity rank; unknown levels rank as the most severe so they are never filtered out. */
export function severity(level: unknown): number {
  const i = (LOG_LEVELS as readonly unknown[]).indexOf(level);
  return i < 0 ? LOG_LEVELS.length : i;
}

/**
 * The level to set on the child: the most verbose level any client asked for. A client that
 * never set a level wants the server default ("everything"), which after any explicit level
 * can only be restored with `debug`. Returns undefined when nothing needs to be set.
 */
export function effectiveLevel(
  clientLevels: (string | undefined)[],
  childLevel: string | undefined,
): string | undefined {
  if (clientLevels.length === 0) return childLevel;
  if (clientLevels.some((l) => l === undefined)) return childLevel === undefined ? undefined : "debug";
  let best: string | undefined;
  for (const l of clientLevels) if (best === undefined || severity(l) < severity(best)) best = l;
  return best;
}

/** Should a `notifications/message` at `messageLevel` reach a client whose level is `clientLevel`? */
export function passesLevel(messageLevel: unknown, clientLevel: string | undefined): boolean {
  return clientLevel === undefined || severity(messageLevel) >= severity(clientLevel);
}
