/**
 * The `mux serve` option flags, from the option table (mux/option-table.ts): their citty
 * definitions and their parse into option overrides (unset flags stay undefined, so the config
 * file and then the defaults fill them in).
 * @module
 */

import { ROUTABLE_CAPABILITIES } from "../mux/handshake.ts";
import { OPTIONS, type OptionScope, type OptionSpec, optionsOf, rangeText } from "../mux/option-table.ts";
import type { ServiceOptions } from "../mux/options.ts";
import { fail } from "./logger.ts";

/** One citty arg definition. */
interface FlagDef {
  type: "string" | "boolean";
  description: string;
}

/** citty arg definitions of every option flag (services, their log level, the daemon, the HTTP front). */
export const optionFlags: Record<string, FlagDef> = Object.fromEntries(
  Object.values(OPTIONS as Record<string, OptionSpec>)
    .filter((spec) => spec.flag !== undefined)
    .map((spec) => [spec.flag as string, flagDef(spec)]),
);

/** Parse the flags of one scope that were given, into fields of that scope. */
export function parseFlags(args: Record<string, unknown>, scope: OptionScope): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of optionsOf(scope)) {
    if (spec.flag === undefined || args[spec.flag] === undefined) continue;
    out[name] = parseFlag(spec, args[spec.flag]);
  }
  return out;
}

/** Parse the per-service flags that were given (`--socket`/`--cmd` included). */
export function parseServiceFlags(args: Record<string, unknown>): Partial<ServiceOptions> {
  return parseFlags(args, "service") as Partial<ServiceOptions>;
}

/** Split a comma list flag. */
export function list(value: unknown): string[] | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  return value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

// --- internal ---

function flagDef(spec: OptionSpec): FlagDef {
  const boolean = spec.kind === "bool" || spec.flagSets !== undefined;
  const shown = spec.defaultText ?? (boolean || Array.isArray(spec.default) ? undefined : spec.default);
  const notes = [
    spec.kind === "enum" && !spec.flagSets ? spec.values?.join(" | ") : undefined,
    spec.kind === "strings" ? "a,b" : undefined,
    spec.kind === "int" ? rangeText(spec) : undefined,
    shown === undefined ? undefined : `default ${String(shown).replaceAll("`", "")}`,
  ].filter(Boolean);
  const description = notes.length > 0 ? `${spec.help} (${notes.join("; ")})` : spec.help;
  return { type: boolean ? "boolean" : "string", description };
}

function parseFlag(spec: OptionSpec, raw: unknown): unknown {
  const name = `--${spec.flag}`;
  if (spec.flagSets !== undefined) return raw === true ? spec.flagSets : spec.default;
  switch (spec.kind) {
    case "bool":
      return raw === true;
    case "int": {
      const n = Number(raw);
      const { min, max } = spec;
      if (!Number.isInteger(n) || (min !== undefined && n < min) || (max !== undefined && n > max))
        fail(`${name} must be an integer ${rangeText(spec)}, got ${String(raw)}`);
      return n;
    }
    case "strings":
      return list(raw);
    case "enum":
      if (typeof raw !== "string" || !spec.values?.includes(raw))
        fail(`${name} must be one of ${spec.values?.join(", ")}`);
      return raw;
    case "capabilities": {
      const value = String(raw);
      if (value === "auto" || value === "all") return value;
      if (value === "none") return [];
      const names = list(value) ?? [];
      const bad = names.find((n) => !(ROUTABLE_CAPABILITIES as readonly string[]).includes(n));
      if (bad)
        fail(`${name}: unknown capability ${bad} (auto, all, none, or a list of ${ROUTABLE_CAPABILITIES.join(", ")})`);
      return names;
    }
    default:
      return typeof raw === "string" ? raw : String(raw);
  }
}
