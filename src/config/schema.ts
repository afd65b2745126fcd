/**
 * The config file schema (rmcp-mux compatible, snake_case keys) and its one-pass parse from
 * `unknown` into typed `ServiceOptions`, collecting every problem with its service and field.
 * Keys, kinds and ranges come from the option table (mux/option-table.ts).
 * @module
 */

import { ROUTABLE_CAPABILITIES } from "../mux/handshake.ts";
import { type FieldsOf, OPTIONS, type OptionSpec, optionsOf, parseCapabilities } from "../mux/option-table.ts";
import type { ServiceOptions } from "../mux/options.ts";
import { isObject } from "../protocol/message.ts";
import { defaultHttpListen } from "./paths.ts";
import { suggest } from "./suggest.ts";

/** One validation problem. `line` is filled in by the loader when it can locate the field. */
export interface ConfigIssue {
  service?: string;
  field?: string;
  line?: number;
  message: string;
}

/** A service entry before path expansion (file-relative paths still relative). */
export type RawService = Omit<ServiceOptions, "socket"> & { socket?: string; logLevel?: string };

/** One key of a service entry: the option it sets and how it is read. */
interface Field {
  key: string;
  spec: OptionSpec;
}

/**
 * Snake-case keys of a service entry → option fields, from the option table (scopes `service`
 * and `cli`), plus rmcp-mux's aliases: `mode` (`shared`/`isolated`, `isolated` wins when both
 * are set) and a service's `tray` (turns on the daemon's status icon). Keys rmcp-mux had that
 * we ignore are listed below.
 */
export const FIELDS: Record<string, Field> = {
  ...Object.fromEntries(
    [...optionsOf("service"), ...optionsOf("cli")]
      .filter(([, spec]) => spec.key !== undefined)
      .map(([name, spec]) => [spec.key as string, { key: name, spec }]),
  ),
  mode: { key: "mode", spec: { scope: "service", kind: "enum", values: ["shared", "isolated"], help: "" } },
  tray: { key: "tray", spec: OPTIONS.tray },
};

/** rmcp-mux keys accepted so old configs load, but without effect (reported as warnings). */
export const IGNORED_FIELDS = new Set([
  "heartbeat_enabled",
  "heartbeat_interval_ms",
  "heartbeat_timeout_ms",
  "heartbeat_max_failures",
]);

/** The HTTP front as a config asks for it (`token_file` still to be read). */
export type HttpSettings = FieldsOf<"http"> & { listen: string };

/** Settings of the daemon as a whole (top-level keys beside `servers`, option table scope `daemon`). */
export type DaemonSettings = FieldsOf<"daemon"> & {
  /** The Streamable HTTP front (`http = "127.0.0.1:8765"`, `http = true` or a table). */
  http?: HttpSettings;
};

/** Top-level keys beside `servers`. */
export const DAEMON_KEYS: readonly string[] = [...optionsOf("daemon").map(([, spec]) => spec.key as string), "http"];

/** Parse the top-level daemon settings of a config. */
export function parseDaemonSettings(data: Record<string, unknown>, issues: ConfigIssue[]): DaemonSettings {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of optionsOf("daemon")) {
    const key = spec.key as string;
    if (data[key] === undefined) continue;
    const parsed = parseValue(spec, data[key]);
    if (isProblem(parsed)) issues.push({ field: key, message: `"${key}" ${parsed.error}` });
    else out[name] = parsed;
  }
  const http = parseHttp(data.http, issues);
  if (http) out.http = http;
  return out as DaemonSettings;
}

/** Parse one `servers.<name>` entry. Problems go to `issues`; warnings to `warnings`. */
export function parseService(
  name: string,
  value: unknown,
  issues: ConfigIssue[],
  warnings: string[],
): RawService | undefined {
  if (!isObject(value)) {
    issues.push({ service: name, message: `service "${name}" must be a table/object of settings` });
    return undefined;
  }
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(value)) {
    const field = FIELDS[key];
    if (!field && !IGNORED_FIELDS.has(key)) {
      const hint = suggest(key, [...Object.keys(FIELDS), ...IGNORED_FIELDS]);
      issues.push({
        service: name,
        field: key,
        message: `unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ""}`,
      });
      continue;
    }
    if (IGNORED_FIELDS.has(key)) {
      warnings.push(`service "${name}": "${key}" is accepted for rmcp-mux compatibility but has no effect`);
      continue;
    }
    const parsed = parseValue((field as Field).spec, raw);
    if (isProblem(parsed)) {
      issues.push({ service: name, field: key, message: `"${key}" ${parsed.error}` });
      continue;
    }
    out[(field as Field).key] = parsed;
  }
  if (out.mode !== undefined) {
    if (out.isolated === undefined) out.isolated = out.mode === "isolated";
    delete out.mode;
  }
  if (typeof out.cmd !== "string" || out.cmd === "") {
    if (!issues.some((i) => i.service === name && i.field === "cmd"))
      issues.push({ service: name, field: "cmd", message: 'missing "cmd" (the MCP server command)' });
  }
  const min = out.restartBackoffMs as number | undefined;
  const max = out.restartBackoffMaxMs as number | undefined;
  if (min !== undefined && max !== undefined && max < min) {
    issues.push({
      service: name,
      field: "restart_backoff_max_ms",
      message: `"restart_backoff_max_ms" (${max}) is below "restart_backoff_ms" (${min})`,
    });
  }
  return out as RawService;
}

// --- internal ---

/** `HOST:PORT` of a listen address. */
const LISTEN = /^(\[[^\]]+\]|[^:\s]+):\d+$/;

/** The `http` key: a `HOST:PORT` string, `true` (the per-user default port) or a table. */
function parseHttp(http: unknown, issues: ConfigIssue[]): HttpSettings | undefined {
  if (http === undefined) return undefined;
  if (typeof http === "string") return { listen: http };
  if (http === true) return { listen: defaultHttpListen() };
  if (!isObject(http)) {
    issues.push({ field: "http", message: `"http" must be "HOST:PORT" or a table, got ${describe(http)}` });
    return undefined;
  }
  const specs = optionsOf("http");
  const keys = specs.map(([, spec]) => spec.key as string);
  const bad = (message: string): void => void issues.push({ field: "http", message });
  for (const key of Object.keys(http)) {
    if (!keys.includes(key)) {
      const hint = suggest(key, keys);
      bad(`unknown key "http.${key}"${hint ? ` (did you mean "${hint}"?)` : ""}`);
    }
  }
  const out: Record<string, unknown> = { listen: defaultHttpListen() };
  let listenOk = true;
  for (const [name, spec] of specs) {
    const key = spec.key as string;
    if (http[key] === undefined) continue;
    const parsed = parseValue(spec, http[key]);
    if (isProblem(parsed)) {
      bad(`"http.${key}" ${parsed.error}`);
      if (name === "listen") listenOk = false;
    } else out[name] = parsed;
  }
  return listenOk ? (out as HttpSettings) : undefined;
}

function parseValue(spec: OptionSpec, raw: unknown): unknown {
  switch (spec.kind) {
    case "string":
      return typeof raw === "string" && raw !== ""
        ? raw
        : { error: `must be a non-empty string, got ${describe(raw)}` };
    case "listen":
      return typeof raw === "string" && LISTEN.test(raw) ? raw : { error: `must be "HOST:PORT", got ${describe(raw)}` };
    case "bool":
      return typeof raw === "boolean" ? raw : { error: `must be true or false, got ${describe(raw)}` };
    case "int": {
      if (typeof raw !== "number" && typeof raw !== "bigint")
        return { error: `must be an integer, got ${describe(raw)}` };
      const n = Number(raw);
      if (!Number.isInteger(n)) return { error: `must be an integer, got ${n}` };
      if (spec.min !== undefined && n < spec.min) return { error: `must be at least ${spec.min}, got ${n}` };
      if (spec.max !== undefined && n > spec.max) return { error: `must be at most ${spec.max}, got ${n}` };
      return n;
    }
    case "strings":
      return Array.isArray(raw) && raw.every((x) => typeof x === "string")
        ? raw
        : { error: `must be a list of strings, got ${describe(raw)}` };
    case "env":
      return isObject(raw) && Object.values(raw).every((x) => typeof x === "string")
        ? raw
        : { error: `must map names to string values, got ${describe(raw)}` };
    case "capabilities":
      return (
        parseCapabilities(raw) ?? {
          error: `must be "auto", "all", "none" or a list of ${ROUTABLE_CAPABILITIES.join(", ")}, got ${describe(raw)}`,
        }
      );
    case "enum":
      return typeof raw === "string" && spec.values?.includes(raw)
        ? raw
        : { error: `must be one of ${spec.values?.join(", ")}, got ${describe(raw)}` };
  }
}

function isProblem(value: unknown): value is { error: string } {
  return typeof value === "object" && value !== null && !Array.isArray(value) && "error" in value;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  if (typeof value === "object") return "a table";
  return `${typeof value} ${JSON.stringify(value)}`;
}
