/**
 * Options of one mux service, their defaults, and their resolution.
 * @module
 */

import { autoDormancy } from "./known-servers.ts";
import type { MuxLogger } from "./logger.ts";
import { defaultsOf, type FieldsOf, type NamesOf, type OPTIONS, type ValueOf } from "./option-table.ts";

/**
 * Everything that describes one service. Only `socket` and `cmd` are required; every field is
 * declared (type, default, range, help) in the option table (option-table.ts).
 */
export interface ServiceOptions extends FieldsOf<"service"> {
  /** Unix socket path the clients connect to. */
  socket: string;
  /** The MCP server command. */
  cmd: string;
}

/** The Streamable HTTP front of a daemon (fields declared in the option table, scope `http`). */
export interface HttpOptions extends Omit<FieldsOf<"http">, "listen" | "tokenFile"> {
  /** `host:port` to listen on (`127.0.0.1:0` picks a port). */
  listen: string;
  /** Bearer token every request must carry: required unless `auth` is `"none"`. */
  token?: string;
}

/** Options of {@link startMux}. */
export interface MuxOptions extends ServiceOptions {
  logger?: MuxLogger;
  /** Aborting it closes the mux, like `close()`. */
  signal?: AbortSignal;
  /** Also serve the service over Streamable HTTP at `/mcp`. */
  http?: HttpOptions;
  /**
   * The per-user state folder (the config layer's `stateDir()`): where the handshake cache is
   * kept. None: no persisted cache (the library never picks a folder itself).
   */
  stateDir?: string;
}

/** Options with every default applied. */
export type ResolvedServiceOptions = Required<Omit<ServiceOptions, "env" | "cwd" | "statusFile">> &
  Pick<ServiceOptions, "env" | "cwd" | "statusFile">;

/** The defaults of every optional setting (from the option table). */
export const DEFAULTS: Readonly<Defaults> = Object.freeze(defaultsOf("service") as Defaults);

/** The defaults of the HTTP front's optional settings (from the option table). */
export const HTTP_DEFAULTS: Readonly<HttpDefaults> = Object.freeze(defaultsOf("http") as HttpDefaults);

/** See {@link ServiceOptions.share}. */
export type SharePolicy = ValueOf<"share">;
/** The share policies, for parsing. */
export const SHARE_POLICIES: readonly SharePolicy[] = ["global", "workspace", "client"];
/** See {@link ServiceOptions.workspaceKey}. */
export type WorkspaceKeyMode = ValueOf<"workspaceKey">;

/**
 * Apply defaults. `share: client` and `isolated` are one setting: either sets both. An unset
 * `dormantAfterMs` is chosen from the launch (known-servers.ts): 10 minutes for a server known
 * to keep nothing in memory between requests, else 0 (never).
 */
export function resolveServiceOptions(options: ServiceOptions): ResolvedServiceOptions {
  const out = {
    ...defaultsOf("service"),
    serviceName: defaultServiceName(options.socket),
    ...withoutUndefined(options),
  } as ResolvedServiceOptions;
  if (options.share === undefined) out.share = out.isolated ? "client" : "global";
  if (options.dormantAfterMs === undefined)
    out.dormantAfterMs = out.keepsState ? 0 : autoDormancy([options.cmd, ...(options.args ?? [])]).ms;
  out.isolated = out.share === "client";
  return out;
}

/** Default service name: the socket file name without its extension. */
export function defaultServiceName(socket: string): string {
  const base = socket.split("/").pop() ?? "mux";
  return base.replace(/\.[^.]*$/, "") || "mux";
}

// --- internal ---

type WithDefault<S extends "service" | "http"> = {
  [K in NamesOf<S>]: (typeof OPTIONS)[K] extends { default: unknown } ? K : never;
}[NamesOf<S>];
type Defaults = { [K in WithDefault<"service">]: ValueOf<K> };
type HttpDefaults = { [K in WithDefault<"http">]: ValueOf<K> };

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
