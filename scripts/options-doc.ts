/**
 * The README's option tables, rendered from the option table (src/mux/option-table.ts):
 * `bun scripts/options-doc.ts` rewrites them between their `<!-- options:NAME -->` markers;
 * test/options.test.ts fails when the README differs from what this renders.
 * @module
 */

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OPTIONS, type OptionSpec, rangeText } from "../src/mux/option-table.ts";

/** The generated regions of the README, by marker name. */
export function renderOptionTables(): Record<string, string> {
  const all = Object.values(OPTIONS as Record<string, OptionSpec>);
  return {
    flags: table(
      ["Option", "Default", "Values", "Meaning"],
      all.filter((s) => s.flag).map((s) => [`\`--${s.flag}\``, defaultOf(s, "flag"), valuesOf(s, "flag"), meaning(s)]),
    ),
    keys: table(
      ["Key", "Default", "Values", "Meaning"],
      all
        .filter((s) => (s.scope === "service" || s.scope === "cli") && s.key)
        .map((s) => [keyOf(s), defaultOf(s, "key"), valuesOf(s, "key"), meaning(s)]),
    ),
    "daemon-keys": table(
      ["Top-level key", "Default", "Values", "Meaning"],
      all
        .filter((s) => (s.scope === "daemon" || s.scope === "http") && s.key)
        .map((s) => [keyOf(s), defaultOf(s, "key"), valuesOf(s, "key"), meaning(s)]),
    ),
  };
}

/** `text` with every generated region replaced by its rendering. Throws for a missing marker. */
export function withOptionTables(text: string): string {
  let out = text;
  for (const [name, body] of Object.entries(renderOptionTables())) {
    const open = `<!-- options:${name} -->\n`;
    const close = `<!-- /options:${name} -->`;
    const start = out.indexOf(open);
    const end = out.indexOf(close);
    if (start < 0 || end < start) throw new Error(`README: no ${open.trim()} … ${close} region`);
    out = `${out.slice(0, start + open.length)}${body}${out.slice(end)}`;
  }
  return out;
}

if (import.meta.main) {
  const readme = join(import.meta.dir, "..", "README.md");
  writeFileSync(readme, withOptionTables(readFileSync(readme, "utf8")));
}

// --- internal ---

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.map((c) => c.replaceAll("|", "\\|")).join(" | ")} |\n`;
  return line(head) + line(head.map(() => "---")) + rows.map(line).join("");
}

function keyOf(spec: OptionSpec): string {
  const key = spec.scope === "http" ? `http.${spec.key}` : (spec.key as string);
  const aliases = (spec.aliases ?? []).filter((a) => a !== spec.key);
  return [key, ...aliases].map((k) => `\`${k}\``).join(" / ");
}

function defaultOf(spec: OptionSpec, form: "flag" | "key"): string {
  if (spec.flagSets && form === "flag") return "off";
  if (spec.defaultText) return spec.defaultText;
  if (spec.required) return "required";
  const value = spec.default;
  if (value === undefined) return "none";
  if (typeof value === "boolean") return form === "flag" ? (value ? "on" : "off") : `\`${value}\``;
  if (Array.isArray(value)) return form === "flag" || value.length > 0 ? "none" : "`[]`";
  return typeof value === "string" ? `\`${value}\`` : String(value);
}

function valuesOf(spec: OptionSpec, form: "flag" | "key"): string {
  const code = (xs: readonly string[]): string => xs.map((x) => `\`${x}\``).join(", ");
  if (spec.flagSets && form === "flag") return "";
  switch (spec.kind) {
    case "int":
      return rangeText(spec);
    case "enum":
      return code(spec.values ?? []);
    case "bool":
      return form === "flag" ? "" : "`true`, `false`";
    case "strings":
      return form === "flag" ? "`a,b`" : "a list";
    case "env":
      return "names → values";
    case "capabilities":
      return "`auto`, `all`, `none` or a list of `sampling`, `elicitation`, `roots`";
    case "listen":
      return "`HOST:PORT`";
    default:
      return "";
  }
}

function meaning(spec: OptionSpec): string {
  return spec.docs ? `${spec.help}. ${spec.docs}` : `${spec.help}.`;
}
