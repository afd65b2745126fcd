/**
 * Colour only for a terminal. Imported first by the entry points: citty and consola decide
 * on colour once, when they load, from `NO_COLOR`; this sets it when stdout or stderr is not
 * a terminal (a pipe, a log file, a host reading mux-proxy), unless `FORCE_COLOR` asks (then
 * also in CI, where citty alone would drop it).
 * @module
 */

/** Should output carry ANSI colour? `NO_COLOR` and `TERM=dumb` say no, `FORCE_COLOR` yes. */
export function colorEnabled(env: Record<string, string | undefined> = process.env): boolean {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return true;
  if (env.NO_COLOR !== undefined || env.TERM === "dumb") return false;
  return Boolean(process.stdout.isTTY && process.stderr.isTTY);
}

/** `CI` and `TEST`, hidden while citty loads: citty turns its colour off for them even when asked. */
const hidden: Record<string, string> = {};

if (!colorEnabled()) process.env.NO_COLOR = "1";
else
  for (const name of ["CI", "TEST"]) {
    const value = process.env[name];
    if (value === undefined) continue;
    hidden[name] = value;
    delete process.env[name];
  }

/** Put back what was hidden from citty (called once citty has loaded; children see it again). */
export function restoreColorEnv(): void {
  for (const [name, value] of Object.entries(hidden)) process.env[name] = value;
}

/**
 * Untrusted text (host names, folder names, a server's stderr in a reason) made safe for a
 * terminal: control characters shown as `?`, and so are the Unicode format characters that
 * would disguise it: bidi overrides and isolates (`evil\u202Egnp.exe` reads as "evilexe.png"),
 * zero-width ones, line and paragraph separators.
 */
export function printable(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g, "?");
}
