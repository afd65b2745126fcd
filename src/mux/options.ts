/**
 * Options of one mux service, their defaults, and their resolution.
 * @module
 */

import type { ChildCapabilities } from "./handshake.ts";
import type { MuxLogger } from "./logger.ts";
import type { RootsPolicy } from "./roots.ts";
import type { AmbiguousRoute } from "./router.ts";

/** Everything that describes one service. Only `socket` and `cmd` are required. */
export interface ServiceOptions {
  /** Unix socket path the clients connect to. */
  socket: string;
  /** The MCP server command. */
  cmd: string;
  args?: string[];
  /** Added to the inherited environment of the child. */
  env?: Record<string, string>;
  cwd?: string;
  /** Name in logs and status; defaults to the socket file name without extension. */
  serviceName?: string;
  /** At most this many clients have requests in flight at the child at once (default 5). */
  maxActiveClients?: number;
  /** Spawn the child on the first client request instead of at start (default false). */
  lazyStart?: boolean;
  /** Largest client message in bytes (default 1 MiB). */
  maxRequestBytes?: number;
  /** Deadline of each request (default 30 s). */
  requestTimeoutMs?: number;
  /** First restart delay (default 1 s); doubles per consecutive failure. */
  restartBackoffMs?: number;
  /** Largest restart delay (default 30 s). */
  restartBackoffMaxMs?: number;
  /** Consecutive failures tolerated before the service is `failed` (default 5, 0 = unlimited). */
  maxRestarts?: number;
  /** A child that stays up this long resets the failure count and backoff (default 60 s). */
  healthyAfterMs?: number;
  /** JSON status snapshot file, written atomically on change. */
  statusFile?: string;
  /** How the child's `roots/list` is answered (default `intersection`). */
  rootsPolicy?: RootsPolicy;
  /** Where an ambiguous sampling/elicitation request goes (default `error`). */
  ambiguousRoute?: AmbiguousRoute;
  /** SIGTERM → SIGKILL grace for the child's process tree (default 2 s). */
  killGraceMs?: number;
  /** How long shutdown lets in-flight requests finish (default 1 s). */
  shutdownGraceMs?: number;
  /** Give each client its own child (for servers whose state must not be shared). Default false. */
  isolated?: boolean;
  /**
   * How clients share the server: `global` (one child for all, the default), `workspace` (one
   * child per workspace, started in it, shared by the clients from that folder), `client` (one
   * child per client: the same as `isolated`).
   */
  share?: SharePolicy;
  /** `share: workspace`: the key of a workspace: its exact real path (`path`, default) or the nearest folder with `.git` (`git-root`). */
  workspaceKey?: WorkspaceKeyMode;
  /** `share: workspace`: at most this many workspace children at once (default 16); a client from another folder is refused. */
  maxWorkspaces?: number;
  /** `share: workspace`: a workspace child whose last client left is stopped after this long (default 60 s). */
  workspaceGraceMs?: number;
  /** Isolated mode: at most this many children at once, whatever the transport (default 16); further clients are refused. */
  maxIsolatedChildren?: number;
  /**
   * At most this many client requests at the child at once, across all clients (0: no limit,
   * the default). 1 runs them strictly one at a time, for servers that lose writes when two
   * requests overlap (server-memory's load-modify-save); the others wait in arrival order.
   * `ping` and `subscriptions/listen` never wait.
   */
  maxConcurrentRequests?: number;
  /** At most this many requests of one client are in flight; beyond it the client is not read (default 64). */
  maxClientInflight?: number;
  /**
   * Outbound high-water mark per client (default 4 MiB): above it the client is not read, and
   * its progress and log notifications are dropped (list_changed and updates are coalesced).
   */
  clientHighWaterBytes?: number;
  /** A client that takes none of its queued bytes for this long is disconnected (default 30 s). */
  clientStallTimeoutMs?: number;
  /** While this many bytes wait for the child's stdin, no client is read (default 1 MiB). */
  childHighWaterBytes?: number;
  /** Variable names a client's `mux-proxy --env` may forward (default: none). */
  forwardEnv?: string[];
  /** At most this many children for distinct forwarded environments (default 8). */
  maxEnvChildren?: number;
  /** Client capabilities declared to the child: `auto` (the first client's, default), `all`, or a list. */
  childCapabilities?: ChildCapabilities;
}

/** See {@link ServiceOptions.share}. */
export type SharePolicy = "global" | "workspace" | "client";
/** See {@link ServiceOptions.workspaceKey}. */
export type WorkspaceKeyMode = "path" | "git-root";
/** The share policies, for parsing. */
export const SHARE_POLICIES: readonly SharePolicy[] = ["global", "workspace", "client"];

/** The Streamable HTTP front of a daemon. */
export interface HttpOptions {
  /** `host:port` to listen on (`127.0.0.1:0` picks a port). */
  listen: string;
  /** Bearer token every request must carry: required unless `auth` is `"none"`. */
  token?: string;
  /** `"none"` serves without a token (loopback only, and only when asked for). Default `"token"`. */
  auth?: "token" | "none";
  /** Host names accepted in `Host`/`Origin` besides the loopback ones; whole origins (`http://localhost:6274`) for `Origin`. */
  allowedHosts?: string[];
  /** A session without streams or requests for this long ends (default 30 min). */
  sessionIdleMs?: number;
  /** At most this many sessions (default 256): a new one ends the oldest idle one, or gets 503. */
  maxSessions?: number;
  /** Stored events (for resumption) of all sessions together, in bytes (default 64 MiB). */
  storeBytesTotal?: number;
  /** A request body must arrive within this long (default 10 s). */
  bodyTimeoutMs?: number;
  /** A connection with nothing moving for this long is closed (default 10 s; open streams exempt). */
  connectionIdleMs?: number;
}

/** Options of {@link startMux}. */
export interface MuxOptions extends ServiceOptions {
  logger?: MuxLogger;
  /** Aborting it closes the mux, like `close()`. */
  signal?: AbortSignal;
  /** Also serve the service over Streamable HTTP at `/mcp`. */
  http?: HttpOptions;
}

/** Options with every default applied. */
export type ResolvedServiceOptions = Required<Omit<ServiceOptions, "env" | "cwd" | "statusFile">> &
  Pick<ServiceOptions, "env" | "cwd" | "statusFile">;

/** The defaults of every optional setting. */
export const DEFAULTS = {
  maxActiveClients: 5,
  lazyStart: false,
  maxRequestBytes: 1_048_576,
  requestTimeoutMs: 30_000,
  restartBackoffMs: 1_000,
  restartBackoffMaxMs: 30_000,
  maxRestarts: 5,
  healthyAfterMs: 60_000,
  rootsPolicy: "intersection",
  ambiguousRoute: "error",
  killGraceMs: 2_000,
  shutdownGraceMs: 1_000,
  isolated: false,
  share: "global" as SharePolicy,
  workspaceKey: "path" as WorkspaceKeyMode,
  maxWorkspaces: 16,
  workspaceGraceMs: 60_000,
  maxIsolatedChildren: 16,
  maxClientInflight: 64,
  maxConcurrentRequests: 0,
  clientHighWaterBytes: 4 * 1_048_576,
  clientStallTimeoutMs: 30_000,
  childHighWaterBytes: 1_048_576,
  forwardEnv: [] as string[],
  maxEnvChildren: 8,
  childCapabilities: "auto" as ChildCapabilities,
} as const satisfies Partial<ServiceOptions>;

/** Apply defaults. `share: client` and `isolated` are one setting: either sets both. */
export function resolveServiceOptions(options: ServiceOptions): ResolvedServiceOptions {
  const out = {
    ...DEFAULTS,
    args: [],
    serviceName: defaultServiceName(options.socket),
    ...withoutUndefined(options),
  } as ResolvedServiceOptions;
  if (options.share === undefined) out.share = out.isolated ? "client" : "global";
  out.isolated = out.share === "client";
  return out;
}

/** Default service name: the socket file name without its extension. */
export function defaultServiceName(socket: string): string {
  const base = socket.split("/").pop() ?? "mux";
  return base.replace(/\.[^.]*$/, "") || "mux";
}

// --- internal ---

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
