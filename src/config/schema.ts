/**
 * The config file schema (rmcp-mux compatible, snake_case keys) and its one-pass parse from
 * `unknown` into typed `ServiceOptions`, collecting every problem with its service and field.
 * @module
 */

import { ROUTABLE_CAPABILITIES } from "../mux/handshake.ts";
import type { ServiceOptions } from "../mux/options.ts";
import { ROOTS_POLICIES } from "../mux/roots.ts";
import { isObject } from "../protocol/message.ts";
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

type Kind = "string" | "bool" | "int" | "strings" | "env" | "enum" | "capabilities";

interface Field {
  key: keyof RawService | "tray" | "mode" | "logLevel";
  kind: Kind;
  min?: number;
  values?: readonly string[];
}

/** Snake-case file keys → option fields. Keys rmcp-mux had that we ignore are listed below. */
export const FIELDS: Record<string, Field> = {
  socket: { key: "socket", kind: "string" },
  cmd: { key: "cmd", kind: "string" },
  args: { key: "args", kind: "strings" },
  env: { key: "env", kind: "env" },
  cwd: { key: "cwd", kind: "string" },
  service_name: { key: "serviceName", kind: "string" },
  max_active_clients: { key: "maxActiveClients", kind: "int", min: 1 },
  lazy_start: { key: "lazyStart", kind: "bool" },
  max_request_bytes: { key: "maxRequestBytes", kind: "int", min: 1024 },
  request_timeout_ms: { key: "requestTimeoutMs", kind: "int", min: 1 },
  restart_backoff_ms: { key: "restartBackoffMs", kind: "int", min: 0 },
  restart_backoff_max_ms: { key: "restartBackoffMaxMs", kind: "int", min: 0 },
  max_restarts: { key: "maxRestarts", kind: "int", min: 0 },
  healthy_after_ms: { key: "healthyAfterMs", kind: "int", min: 0 },
  status_file: { key: "statusFile", kind: "string" },
  log_level: { key: "logLevel", kind: "enum", values: ["trace", "debug", "info", "warn", "error"] },
  roots_policy: { key: "rootsPolicy", kind: "enum", values: ROOTS_POLICIES },
  ambiguous_route: { key: "ambiguousRoute", kind: "enum", values: ["error", "most-recent"] },
  mode: { key: "mode", kind: "enum", values: ["shared", "isolated"] },
  isolated: { key: "isolated", kind: "bool" },
  tray: { key: "tray", kind: "bool" },
  child_capabilities: { key: "childCapabilities", kind: "capabilities" },
  forward_env: { key: "forwardEnv", kind: "strings" },
  max_env_children: { key: "maxEnvChildren", kind: "int", min: 0 },
  max_client_inflight: { key: "maxClientInflight", kind: "int", min: 1 },
  max_concurrent_requests: { key: "maxConcurrentRequests", kind: "int", min: 0 },
};

/** rmcp-mux keys accepted so old configs load, but without effect (reported as warnings). */
export const IGNORED_FIELDS = new Set([
  "heartbeat_enabled",
  "heartbeat_interval_ms",
  "heartbeat_timeout_ms",
  "heartbeat_max_failures",
]);

/** Settings of the daemon as a whole (top-level keys beside `servers`). */
export interface DaemonSettings {
  /** An auto-started daemon exits after this long without clients (0 = never). */
  idleExitMs?: number;
  /** The Streamable HTTP front (`http = "127.0.0.1:8765"` or a table). */
  http?: { listen: string; tokenFile?: string; allowedHosts?: string[]; sessionIdleMs?: number };
  /** Show a status icon (`mux serve --tray`). */
  tray?: boolean;
}

/** Top-level keys beside `servers`. */
export const DAEMON_KEYS = ["idle_exit_ms", "http", "tray"] as const;

const HTTP_KEYS = ["listen", "token_file", "allowed_hosts", "session_idle_ms"];

/** The shortest idle time an HTTP session may be given (shorter would end sessions between calls). */
export const MIN_SESSION_IDLE_MS = 1000;

/** Parse the top-level daemon settings of a config. */
export function parseDaemonSettings(data: Record<string, unknown>, issues: ConfigIssue[]): DaemonSettings {
  const out: DaemonSettings = {};
  const idle = data.idle_exit_ms;
  if (idle !== undefined) {
    if (typeof idle !== "number" || !Number.isInteger(idle) || idle < 0)
      issues.push({
        field: "idle_exit_ms",
        message: `"idle_exit_ms" must be an integer ≥ 0 (0 = never), got ${describe(idle)}`,
      });
    else out.idleExitMs = idle;
  }
  if (data.tray !== undefined) {
    if (typeof data.tray !== "boolean")
      issues.push({ field: "tray", message: `"tray" must be true or false, got ${describe(data.tray)}` });
    else out.tray = data.tray;
  }
  const http = data.http;
  if (typeof http === "string") out.http = { listen: http };
  else if (isObject(http)) {
    const bad = (message: string): void => void issues.push({ field: "http", message });
    for (const key of Object.keys(http)) {
      if (!HTTP_KEYS.includes(key)) {
        const hint = suggest(key, HTTP_KEYS);
        bad(`unknown key "http.${key}"${hint ? ` (did you mean "${hint}"?)` : ""}`);
      }
    }
    if (typeof http.listen !== "string" || !/^(\[[^\]]+\]|[^:\s]+):\d+$/.test(http.listen))
      bad(`"http.listen" must be "HOST:PORT", got ${describe(http.listen)}`);
    else {
      out.http = { listen: http.listen };
      if (http.token_file !== undefined) {
        if (typeof http.token_file === "string" && http.token_file) out.http.tokenFile = http.token_file;
        else bad(`"http.token_file" must be a path, got ${describe(http.token_file)}`);
      }
      if (http.allowed_hosts !== undefined) {
        if (Array.isArray(http.allowed_hosts) && http.allowed_hosts.every((h) => typeof h === "string"))
          out.http.allowedHosts = http.allowed_hosts as string[];
        else bad(`"http.allowed_hosts" must be a list of host names, got ${describe(http.allowed_hosts)}`);
      }
      if (http.session_idle_ms !== undefined) {
        const n = http.session_idle_ms;
        if (typeof n === "number" && Number.isInteger(n) && n >= MIN_SESSION_IDLE_MS) out.http.sessionIdleMs = n;
        else bad(`"http.session_idle_ms" must be an integer ≥ ${MIN_SESSION_IDLE_MS}, got ${describe(n)}`);
      }
    }
  } else if (http !== undefined)
    issues.push({ field: "http", message: `"http" must be "HOST:PORT" or a table, got ${describe(http)}` });
  return out;
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
    const parsed = parseValue(field as Field, raw);
    if (typeof parsed === "object" && parsed !== null && "error" in parsed) {
      issues.push({ service: name, field: key, message: `"${key}" ${(parsed as { error: string }).error}` });
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

function parseValue(field: Field, raw: unknown): unknown {
  switch (field.kind) {
    case "string":
      return typeof raw === "string" && raw !== ""
        ? raw
        : { error: `must be a non-empty string, got ${describe(raw)}` };
    case "bool":
      return typeof raw === "boolean" ? raw : { error: `must be true or false, got ${describe(raw)}` };
    case "int": {
      if (typeof raw !== "number" && typeof raw !== "bigint")
        return { error: `must be an integer, got ${describe(raw)}` };
      const n = Number(raw);
      if (!Number.isInteger(n)) return { error: `must be an integer, got ${n}` };
      if (field.min !== undefined && n < field.min) return { error: `must be at least ${field.min}, got ${n}` };
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
    case "capabilities": {
      if (raw === "auto" || raw === "all") return raw;
      if (raw === "none") return [];
      const known = ROUTABLE_CAPABILITIES as readonly string[];
      return Array.isArray(raw) && raw.every((x) => typeof x === "string" && known.includes(x))
        ? raw
        : { error: `must be "auto", "all", "none" or a list of ${known.join(", ")}, got ${describe(raw)}` };
    }
    case "enum":
      return typeof raw === "string" && field.values?.includes(raw)
        ? raw
        : { error: `must be one of ${field.values?.join(", ")}, got ${describe(raw)}` };
  }
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  if (typeof value === "object") return "a table";
  return `${typeof value} ${JSON.stringify(value)}`;
}
