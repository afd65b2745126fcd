/**
 * The one table of options: every setting of a service, of the HTTP front and of the daemon,
 * declared once with its type, default, range, command-line flag, config key, status field and
 * help. `ServiceOptions`, `HttpOptions` and `DEFAULTS` (options.ts), the config schema
 * (config/schema.ts), the `mux serve` flags (cli/flags.ts), the status `settings` and the
 * README's option tables (checked by test/options.test.ts) all come from it. Adding an option
 * is one entry here plus its behaviour.
 *
 * It lives in `mux` so that `config` and `cli` may both import it (neither is imported here).
 * @module
 */

import type { ChildCapabilities } from "./handshake.ts";
import { ROUTABLE_CAPABILITIES } from "./handshake.ts";
import { ROOTS_POLICIES } from "./roots.ts";

/** How a value is written and checked. */
export type OptionKind =
  /** A non-empty string (paths too). */
  | "string"
  | "bool"
  /** An integer in `[min, max]`. */
  | "int"
  /** A list of strings (a comma list on the command line). */
  | "strings"
  /** A map of names to string values. */
  | "env"
  /** One of `values`. */
  | "enum"
  /** `auto`, `all`, `none` or a list of routable capabilities. */
  | "capabilities"
  /** `HOST:PORT`. */
  | "listen";

/**
 * Where an option belongs: a service (`ServiceOptions`), a service's entry as only the command
 * line uses it (`log_level`: the library takes a logger instead), the HTTP front
 * (`HttpOptions`; config keys inside the `http` table), or the daemon as a whole (top-level keys).
 */
export type OptionScope = "service" | "cli" | "http" | "daemon";

/** One option. Exactly one of `flag`/`noFlag`, of `key`/`noKey` and of `status`/`noStatus`. */
export interface OptionSpec {
  scope: OptionScope;
  kind: OptionKind;
  /** The value used when nothing sets it (none: optional, or required when `required`). */
  default?: unknown;
  /** The default as people read it, when it is not a plain value (computed, or depends). */
  defaultText?: string;
  required?: boolean;
  min?: number;
  max?: number;
  values?: readonly string[];
  /** The `mux serve` flag, without `--`. */
  flag?: string;
  /** A boolean flag that sets this value (`--http-no-auth` → `auth = "none"`; negated: the default). */
  flagSets?: string;
  /** Why there is no flag. */
  noFlag?: string;
  /** The config key (snake_case; for the `http` scope, the key inside the `http` table). */
  key?: string;
  /** Why there is no config key. */
  noKey?: string;
  /** Other config keys accepted for it (rmcp-mux's), each read by its own rule in config/schema.ts. */
  aliases?: readonly string[];
  /** The field of the status `settings` that shows it, when not the option's own name. */
  status?: string;
  /** Why the status `settings` do not show it. */
  noStatus?: string;
  /** One line of help: `mux serve --help` and the README tables. */
  help: string;
  /** What the README adds after the help (a pointer to its section). */
  docs?: string;
}

/** Every option, in the order of `--help` and the README tables. */
export const OPTIONS = {
  socket: {
    scope: "service",
    kind: "string",
    defaultText: "`<runtime dir>/<name>.sock`",
    flag: "socket",
    key: "socket",
    noStatus: "the snapshot's own `socket`",
    help: "Unix socket clients connect to (created 0600; its folder 0700 when created)",
  },
  cmd: {
    scope: "service",
    kind: "string",
    required: true,
    flag: "cmd",
    key: "cmd",
    help: "The MCP server command (on the command line its arguments go after --)",
  },
  args: {
    scope: "service",
    kind: "strings",
    default: [] as string[],
    noFlag: "the server's arguments go after -- on the command line",
    key: "args",
    help: "The server's arguments",
  },
  env: {
    scope: "service",
    kind: "env",
    noFlag: "the server inherits the environment mux serve runs in",
    key: "env",
    status: "envKeys",
    help: "Variables added to the server's inherited environment (status shows the names only)",
  },
  cwd: {
    scope: "service",
    kind: "string",
    defaultText: "inherited",
    noFlag: "the server starts in mux serve's own working directory",
    key: "cwd",
    help: "Working directory of the server",
  },
  serviceName: {
    scope: "service",
    kind: "string",
    defaultText: "the config entry's name, else the socket file name",
    flag: "service-name",
    key: "service_name",
    noStatus: "the snapshot's own `service`",
    help: "Name in logs and status",
  },
  maxActiveClients: {
    scope: "service",
    kind: "int",
    default: 5,
    min: 1,
    flag: "max-active-clients",
    key: "max_active_clients",
    help: "Clients with requests in flight at the server at once; the others queue in arrival order",
  },
  maxConcurrentRequests: {
    scope: "service",
    kind: "int",
    default: 0,
    defaultText: "0 (no limit)",
    min: 0,
    flag: "max-concurrent-requests",
    key: "max_concurrent_requests",
    help: "Requests at the server at once, across all clients (1: strictly one at a time)",
    docs: 'See "Servers that cannot take overlapping requests".',
  },
  lazyStart: {
    scope: "service",
    kind: "bool",
    default: false,
    flag: "lazy-start",
    key: "lazy_start",
    help: "Start the server on the first client request",
  },
  dormantAfterMs: {
    scope: "service",
    kind: "int",
    defaultText: "auto: 600000 for servers known to keep nothing in memory, else 0",
    min: 0,
    flag: "dormant-after-ms",
    key: "dormant_after_ms",
    help: "Stop an idle server after this long with nothing depending on it; the next request wakes it (0: never)",
    docs: 'See "Dormant servers".',
  },
  keepsState: {
    scope: "service",
    kind: "bool",
    default: false,
    flag: "keeps-state",
    key: "keeps_state",
    help: "The server keeps state in memory between requests: never stop it while idle, whatever dormant_after_ms says",
  },
  handshakeCache: {
    scope: "service",
    kind: "bool",
    default: true,
    flag: "handshake-cache",
    key: "handshake_cache",
    help: "Keep the server's initialize result and lists in the state folder; after a restart hosts are answered from it and the server starts at the first request that needs it (config daemons)",
  },
  maxRequestBytes: {
    scope: "service",
    kind: "int",
    default: 1_048_576,
    min: 1024,
    flag: "max-request-bytes",
    key: "max_request_bytes",
    help: "Largest client message; bigger ones get error -32032",
  },
  requestTimeoutMs: {
    scope: "service",
    kind: "int",
    default: 30_000,
    min: 1,
    flag: "request-timeout-ms",
    key: "request_timeout_ms",
    help: "Deadline of each request (queued time included)",
  },
  restartBackoffMs: {
    scope: "service",
    kind: "int",
    default: 1_000,
    min: 0,
    flag: "restart-backoff-ms",
    key: "restart_backoff_ms",
    help: "First restart delay; doubles per consecutive failure",
  },
  restartBackoffMaxMs: {
    scope: "service",
    kind: "int",
    default: 30_000,
    min: 0,
    flag: "restart-backoff-max-ms",
    key: "restart_backoff_max_ms",
    help: "Largest restart delay (a config's is at least its restart_backoff_ms)",
  },
  maxRestarts: {
    scope: "service",
    kind: "int",
    default: 5,
    min: 0,
    flag: "max-restarts",
    key: "max_restarts",
    help: "Consecutive failures before the service is failed (0: never give up)",
  },
  healthyAfterMs: {
    scope: "service",
    kind: "int",
    default: 60_000,
    min: 0,
    flag: "healthy-after-ms",
    key: "healthy_after_ms",
    help: "A server up this long resets the failure count and the backoff",
  },
  killGraceMs: {
    scope: "service",
    kind: "int",
    default: 2_000,
    min: 0,
    flag: "kill-grace-ms",
    key: "kill_grace_ms",
    help: "How long a stopping server's process tree gets between SIGTERM and SIGKILL",
  },
  shutdownGraceMs: {
    scope: "service",
    kind: "int",
    default: 1_000,
    min: 0,
    flag: "shutdown-grace-ms",
    key: "shutdown_grace_ms",
    help: "How long shutdown lets requests in flight finish",
  },
  statusFile: {
    scope: "service",
    kind: "string",
    flag: "status-file",
    key: "status_file",
    help: "Write JSON status snapshots here, atomically on change (never while idle)",
  },
  recordMaxEntries: {
    scope: "service",
    kind: "int",
    default: 5_000,
    min: 0,
    max: 1_000_000,
    flag: "record-max-entries",
    key: "record_max_entries",
    help: "Entries the service's record (mux logs, the dashboard) keeps, oldest dropped first (0: no record)",
    docs: 'See "Logs and dashboard".',
  },
  recordMaxBytes: {
    scope: "service",
    kind: "int",
    default: 4 * 1024 * 1024,
    min: 4096,
    max: 1024 * 1024 * 1024,
    flag: "record-max-bytes",
    key: "record_max_bytes",
    help: "About how many bytes the service's record keeps, oldest dropped first",
  },
  recordPayloads: {
    scope: "service",
    kind: "bool",
    default: false,
    flag: "record-payloads",
    key: "record_payloads",
    help: "Keep each message's payload in the record, redacted (off: summaries only)",
    docs: 'See "Logs and dashboard" for what is redacted.',
  },
  recordRedact: {
    scope: "service",
    kind: "strings",
    default: [] as string[],
    flag: "record-redact",
    key: "record_redact",
    help: "More payload keys whose values the record redacts (besides token, secret, password, authorization, api_key, cookie...)",
  },
  rootsPolicy: {
    scope: "service",
    kind: "enum",
    values: ROOTS_POLICIES,
    default: "intersection",
    flag: "roots-policy",
    key: "roots_policy",
    help: "How the server's roots/list is answered",
    docs: 'See "Roots" in "Routing behaviour you can observe".',
  },
  ambiguousRoute: {
    scope: "service",
    kind: "enum",
    values: ["error", "most-recent"],
    default: "error",
    flag: "ambiguous-route",
    key: "ambiguous_route",
    help: "Where an ambiguous sampling/elicitation request goes",
    docs: 'See "Routing behaviour you can observe".',
  },
  isolated: {
    scope: "service",
    kind: "bool",
    default: false,
    flag: "isolated",
    key: "isolated",
    aliases: ["mode"],
    help: "Give each client its own server process (state not shared)",
    docs: '`mode = "isolated"` (or `"shared"`) is the same; `isolated` wins when both are set.',
  },
  share: {
    scope: "service",
    kind: "enum",
    values: ["global", "workspace", "client"] as const,
    default: "global",
    defaultText: "`global` (`client` with `isolated`)",
    flag: "share",
    key: "share",
    help: "global: one server for all; workspace: one per project folder; client: one per client (= isolated)",
    docs: 'See "Sharing per workspace". `share = "client"` and `isolated = true` are one setting.',
  },
  workspaceKey: {
    scope: "service",
    kind: "enum",
    values: ["path", "git-root"] as const,
    default: "path",
    flag: "workspace-key",
    key: "workspace_key",
    help: "share = workspace: key a workspace by its exact real folder (path) or its nearest .git folder (git-root)",
  },
  maxWorkspaces: {
    scope: "service",
    kind: "int",
    default: 16,
    min: 1,
    flag: "max-workspaces",
    key: "max_workspaces",
    help: "share = workspace: workspace servers at once; a client from one more folder is refused",
  },
  workspaceGraceMs: {
    scope: "service",
    kind: "int",
    default: 60_000,
    min: 0,
    flag: "workspace-grace-ms",
    key: "workspace_grace_ms",
    help: "share = workspace: stop a workspace's server this long after its last client left",
  },
  maxIsolatedChildren: {
    scope: "service",
    kind: "int",
    default: 16,
    min: 1,
    flag: "max-isolated-children",
    key: "max_isolated_children",
    help: "Isolated: servers at once, socket and HTTP clients together; further clients are refused",
  },
  childCapabilities: {
    scope: "service",
    kind: "capabilities",
    default: "auto" as ChildCapabilities,
    flag: "child-capabilities",
    key: "child_capabilities",
    help: "Client capabilities the server is told about: auto (the first client's), all, none, or a list",
    docs: 'See "Capabilities" in "Routing behaviour you can observe".',
  },
  era: {
    scope: "service",
    kind: "enum",
    values: ["legacy", "auto", "modern"],
    default: "legacy",
    flag: "era",
    key: "era",
    help: "Which MCP era the server speaks: legacy (initialize, the default), modern (2026-07-28: server/discover, never initialize) or auto (probe server/discover briefly, else initialize)",
    docs: 'See "A 2026-07-28 server behind the mux" in "Routing behaviour you can observe".',
  },
  forwardEnv: {
    scope: "service",
    kind: "strings",
    default: [] as string[],
    flag: "forward-env",
    key: "forward_env",
    help: "Variable names a client's mux-proxy --env may forward; anything else is refused",
    docs: "`mux rewire` records them.",
  },
  maxEnvChildren: {
    scope: "service",
    kind: "int",
    default: 8,
    min: 0,
    flag: "max-env-children",
    key: "max_env_children",
    help: "Servers started for distinct forwarded environments; further ones are refused",
  },
  maxClientInflight: {
    scope: "service",
    kind: "int",
    default: 64,
    min: 1,
    flag: "max-client-inflight",
    key: "max_client_inflight",
    help: "Requests of one client in flight (queued or at the server) before that client is not read",
  },
  clientHighWaterBytes: {
    scope: "service",
    kind: "int",
    default: 4 * 1_048_576,
    min: 1024,
    flag: "client-high-water-bytes",
    key: "client_high_water_bytes",
    help: "Bytes queued to one client above which it is not read and its progress and log notifications are dropped",
  },
  clientStallTimeoutMs: {
    scope: "service",
    kind: "int",
    default: 30_000,
    min: 1,
    flag: "client-stall-timeout-ms",
    key: "client_stall_timeout_ms",
    help: "A client that takes none of its queued answers for this long is disconnected",
  },
  childHighWaterBytes: {
    scope: "service",
    kind: "int",
    default: 1_048_576,
    min: 1024,
    flag: "child-high-water-bytes",
    key: "child_high_water_bytes",
    help: "Bytes waiting for the server's stdin above which no client is read",
  },
  logLevel: {
    scope: "cli",
    kind: "enum",
    values: ["trace", "debug", "info", "warn", "error"],
    default: "info",
    flag: "log-level",
    key: "log_level",
    noStatus: "the daemon's log, not the service's",
    help: "Log level, to stderr only (the flag beats every service's)",
  },
  idleExitMs: {
    scope: "daemon",
    kind: "int",
    min: 0,
    defaultText: "0 (never); 600000 when a mux-proxy started the daemon",
    flag: "idle-exit-ms",
    key: "idle_exit_ms",
    noStatus: "a daemon setting, not a service's",
    help: "With a config: exit after this long without clients (0: never); the config's applies when a mux-proxy started the daemon",
  },
  tray: {
    scope: "daemon",
    kind: "bool",
    default: false,
    flag: "tray",
    key: "tray",
    aliases: ["tray"],
    noStatus: "a daemon setting, not a service's",
    help: "Show a status icon with a menu per service and Quit (needs a desktop)",
    docs: 'rmcp-mux\'s per-service `tray = true` turns it on too. See "Status icon".',
  },
  dashboard: {
    scope: "daemon",
    kind: "listen",
    defaultText: "off (the HTTP front serves it at /dashboard)",
    flag: "dashboard",
    key: "dashboard",
    noStatus: "a daemon setting, not a service's",
    help: "Serve the dashboard on its own loopback HOST:PORT (port 0: any free port), with or without the HTTP front",
    docs: 'See "Logs and dashboard".',
  },
  listen: {
    scope: "http",
    kind: "listen",
    defaultText: "off (`http = true`: your per-user port)",
    flag: "http",
    key: "listen",
    aliases: ["http"],
    noStatus: "a daemon setting, not a service's",
    help: "Also serve Streamable HTTP on HOST:PORT (/mcp, or /mcp/<service> with a config)",
    docs: '`http = "HOST:PORT"` and `http = true` are short for it. See "Streamable HTTP".',
  },
  tokenFile: {
    scope: "http",
    kind: "string",
    defaultText: "`http-token` in the config folder",
    flag: "http-token-file",
    key: "token_file",
    noStatus: "a daemon setting, not a service's",
    help: "The bearer token every HTTP request must carry, from this file (created 0600 if missing)",
  },
  auth: {
    scope: "http",
    kind: "enum",
    values: ["token", "none"],
    default: "token",
    flag: "http-no-auth",
    flagSets: "none",
    key: "auth",
    noStatus: "a daemon setting, not a service's",
    help: "none (--http-no-auth): serve HTTP without a token, on loopback only (any local user can then use the servers)",
  },
  allowedHosts: {
    scope: "http",
    kind: "strings",
    default: [] as string[],
    flag: "http-allow-host",
    key: "allowed_hosts",
    noStatus: "a daemon setting, not a service's",
    help: "Host names accepted besides localhost, or whole origins (http://localhost:6274)",
  },
  sessionIdleMs: {
    scope: "http",
    kind: "int",
    default: 1_800_000,
    min: 1000,
    flag: "http-session-idle-ms",
    key: "session_idle_ms",
    noStatus: "a daemon setting, not a service's",
    help: "End an HTTP session with no open stream and no request for this long",
  },
  maxSessions: {
    scope: "http",
    kind: "int",
    default: 256,
    min: 1,
    flag: "http-max-sessions",
    key: "max_sessions",
    noStatus: "a daemon setting, not a service's",
    help: "HTTP sessions at once: a new one ends the oldest idle one, or gets 503",
  },
  storeBytesTotal: {
    scope: "http",
    kind: "int",
    default: 64 * 1_048_576,
    min: 1_048_576,
    flag: "http-store-bytes-total",
    key: "store_bytes_total",
    noStatus: "a daemon setting, not a service's",
    help: "Bytes of stored events (for resumption) of all HTTP sessions together; oldest dropped first",
  },
  bodyTimeoutMs: {
    scope: "http",
    kind: "int",
    default: 10_000,
    min: 1000,
    flag: "http-body-timeout-ms",
    key: "body_timeout_ms",
    noStatus: "a daemon setting, not a service's",
    help: "An HTTP request body must arrive within this long (else 408)",
  },
  connectionIdleMs: {
    scope: "http",
    kind: "int",
    default: 10_000,
    min: 1000,
    max: 255_000,
    flag: "http-connection-idle-ms",
    key: "connection_idle_ms",
    noStatus: "a daemon setting, not a service's",
    help: "Close an HTTP connection with nothing moving for this long (open streams exempt; whole seconds)",
  },
} as const satisfies Record<string, OptionSpec>;

/** The name of an option (its field in the options object). */
export type OptionName = keyof typeof OPTIONS;

/** The names of the options of one scope. */
export type NamesOf<S extends OptionScope> = {
  [K in OptionName]: (typeof OPTIONS)[K]["scope"] extends S ? K : never;
}[OptionName];

/** The value type of one option, from its kind. */
export type ValueOf<K extends OptionName> = KindValue<(typeof OPTIONS)[K]>;

/** Every option of a scope, all optional, with its type. */
export type FieldsOf<S extends OptionScope> = { [K in NamesOf<S>]?: ValueOf<K> };

/** The entries of one scope, in table order. */
export function optionsOf(scope: OptionScope): [OptionName, OptionSpec][] {
  return (Object.entries(OPTIONS) as [OptionName, OptionSpec][]).filter(([, spec]) => spec.scope === scope);
}

/** The defaults of one scope (options with a plain default value), fresh arrays each call. */
export function defaultsOf(scope: OptionScope): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of optionsOf(scope))
    if (spec.default !== undefined) out[name] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
  return out;
}

/** The range of an int option as a phrase: `≥ 1`, `from 1000 to 255000`. */
export function rangeText(spec: OptionSpec): string {
  if (spec.min !== undefined && spec.max !== undefined) return `from ${spec.min} to ${spec.max}`;
  if (spec.min !== undefined) return `≥ ${spec.min}`;
  return spec.max !== undefined ? `≤ ${spec.max}` : "";
}

/** Whether `n` is an integer in the option's range. */
export function inRange(spec: OptionSpec, n: number): boolean {
  return Number.isInteger(n) && (spec.min === undefined || n >= spec.min) && (spec.max === undefined || n <= spec.max);
}

/** Capabilities from a word or a list: undefined when a name is not a routable capability. */
export function parseCapabilities(raw: unknown): ChildCapabilities | undefined {
  if (raw === "auto" || raw === "all") return raw;
  if (raw === "none") return [];
  const known = ROUTABLE_CAPABILITIES as readonly string[];
  return Array.isArray(raw) && raw.every((x) => typeof x === "string" && known.includes(x))
    ? (raw as ChildCapabilities)
    : undefined;
}

/**
 * The status `settings` of resolved service options: every service option the table shows,
 * under its status field (env as its names only; unset optional values as null).
 */
export function statusSettingsOf(options: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of optionsOf("service")) {
    if (spec.noStatus !== undefined) continue;
    const value = options[name];
    if (spec.kind === "env") out[spec.status ?? name] = Object.keys((value as Record<string, string>) ?? {});
    else out[spec.status ?? name] = value ?? null;
  }
  return out;
}

/** The status `settings` of a service: one field per shown service option. */
export type StatusSettingsOf = {
  [K in NamesOf<"service"> as (typeof OPTIONS)[K] extends { noStatus: string } | { kind: "env" }
    ? never
    : K]: (typeof OPTIONS)[K] extends { default: unknown } | { required: true } ? ValueOf<K> : ValueOf<K> | null;
} & { envKeys: string[] };

// --- internal ---

type KindValue<S> = S extends { kind: "int" }
  ? number
  : S extends { kind: "bool" }
    ? boolean
    : S extends { kind: "strings" }
      ? string[]
      : S extends { kind: "env" }
        ? Record<string, string>
        : S extends { kind: "capabilities" }
          ? ChildCapabilities
          : S extends { kind: "enum"; values: readonly (infer V)[] }
            ? V
            : string;
