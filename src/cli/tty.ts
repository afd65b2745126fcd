/**
 * Colour only for a terminal. Imported first by the entry points: citty and consola decide
 * on colour once, when they load, from `NO_COLOR`; this sets it when stdout or stderr is not
 * a terminal (a pipe, a log file, a host reading mux-proxy), unless `FORCE_COLOR` asks.
 * @module
 */

/** Should output carry ANSI colour? `NO_COLOR` and `TERM=dumb` say no, `FORCE_COLOR` yes. */
export function colorEnabled(env: Record<string, string | undefined> = process.env): boolean {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return true;
  if (env.NO_COLOR !== undefined || env.TERM === "dumb") return false;
  return Boolean(process.stdout.isTTY && process.stderr.isTTY);
}

if (!colorEnabled()) process.env.NO_COLOR = "1";
