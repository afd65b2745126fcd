/**
 * `startDaemon`: everything `mux serve --config` runs, as a library call. It loads the config,
 * takes the one-daemon-per-config lock, starts the services and the HTTP front (its token from
 * the chosen or the per-user default token file), answers the control socket (status, reload),
 * reloads with the daemon settings and closes itself once idle. It never exits the process,
 * reads argv or installs signal handlers: the command line does that around it.
 * @module
 */

import { dirname } from "node:path";
import { type HeldLock, tryLock } from "../client/lock.ts";
import { ensurePrivateDir } from "../client/safe-path.ts";
import { isMuxError, MuxError } from "../errors.ts";
import { isLoopback } from "../http/checks.ts";
import { type DashboardServer, startDashboard } from "../http/dashboard.ts";
import { loadOrCreateToken } from "../http/token.ts";
import { startControl } from "../mux/control.ts";
import type { Listener } from "../mux/listener.ts";
import { defaultLogger, type MuxLogger } from "../mux/logger.ts";
import {
  type ConfiguredService,
  type ReloadResult,
  type ServiceStatus,
  type ServicesHandle,
  startServices,
} from "../mux/multi.ts";
import type { FieldsOf } from "../mux/option-table.ts";
import type { HttpOptions, ServiceOptions } from "../mux/options.ts";
import type { Recorder } from "../mux/record.ts";
import { type MuxHandle, recordsOf } from "../mux/serve.ts";
import { loadConfig, type MuxConfig } from "./load.ts";
import { controlSocketPath, daemonFiles, defaultTokenFile, stateDir } from "./paths.ts";
import type { HttpSettings } from "./schema.ts";

/** How long an auto-started daemon stays without clients before it closes, unless the config says. */
export const DEFAULT_IDLE_EXIT_MS = 600_000;

/** Daemon settings that beat the config file's (the command-line flags). */
export type DaemonOverrides = FieldsOf<"daemon"> & { http?: FieldsOf<"http"> };

/** Options of {@link startDaemon}. */
export interface DaemonOptions {
  /** Run only these services. */
  only?: string[];
  /** Run all but these services. */
  except?: string[];
  /** Settings that beat the config file for every selected service (command-line flags). */
  overrides?: Partial<ServiceOptions>;
  /** Daemon and HTTP front settings that beat the config file's (command-line flags). */
  daemon?: DaemonOverrides;
  /**
   * Started by a `mux-proxy`: the daemon closes after `idle_exit_ms` (default 600000) without
   * clients. Otherwise it runs until closed, unless `daemon.idleExitMs` says otherwise.
   */
  autoStarted?: boolean;
  /** The daemon's own log: config warnings, reloads, the HTTP token (default: warnings to stderr). */
  logger?: MuxLogger;
  /** Logger per service (default: warnings to stderr). */
  serviceLogger?: (name: string, service: ConfiguredService) => MuxLogger;
  /** Logger of the HTTP front (default: warnings to stderr). */
  httpLogger?: MuxLogger;
  /** Environment for the config's `$VAR`s and the per-user paths (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** Aborting it closes the daemon, like `close()`. */
  signal?: AbortSignal;
  /** Called when the daemon closes because it had no client for its idle exit time. */
  onIdle?: (idleExitMs: number) => void;
}

/** What the control socket's `mcp-mux/status` answers. */
export interface DaemonStatus {
  config: string;
  muxPid: number;
  /** The dashboard page (its own listener, else the HTTP front's `/dashboard`), when served. */
  dashboard?: string;
  services: ServiceStatus[];
}

/** What a reload of the config file did (its warnings included). */
export type DaemonReloadResult = ReloadResult & { warnings?: string[] };

/** A running daemon. */
export interface DaemonHandle extends AsyncDisposable {
  /** The config file it runs. */
  readonly configPath: string;
  /** The config as last loaded (at start, or by the last successful reload). */
  readonly config: MuxConfig;
  /** Running services by name. */
  readonly services: ReadonlyMap<string, MuxHandle>;
  /** Services that failed to start, with the reason. */
  readonly failures: ReadonlyMap<string, string>;
  /** What `mux status --config` shows. */
  status(): DaemonStatus;
  /**
   * Re-read the config file and apply it (`mux reload`, SIGHUP): services by difference, the
   * HTTP front and the idle exit time; what needs a restart is in `needsRestart`. Rejects, with
   * everything left running, when the file is invalid.
   */
  reload(): Promise<DaemonReloadResult>;
  /** The Streamable HTTP base (`http://127.0.0.1:8765/mcp`; a service is at `<base>/<name>`), while the front serves. */
  readonly httpUrl?: string;
  /** Why the HTTP front is not serving, when it was asked for and could not start. */
  readonly httpError?: string;
  /** Whether the status icon is asked for (flag, else the config); the command line shows it. */
  readonly tray: boolean;
  /** The idle exit time in force (0: never). */
  readonly idleExitMs: number;
  /** The control socket, when it listens. */
  readonly controlSocket?: string;
  /** The dashboard page (its own listener, else the HTTP front's `/dashboard`), when served. */
  readonly dashboardUrl?: string;
  /** Why the dashboard's own listener is not serving, when it was asked for. */
  readonly dashboardError?: string;
  /** The dashboard link with its token in the fragment (what `mux dashboard` prints), when served. */
  dashboardLink(): string | undefined;
  /** Stop everything, remove the sockets and release the config's lock. */
  close(): Promise<void>;
  /** Resolves once the daemon has closed (by `close()`, the signal or idleness). */
  readonly closed: Promise<void>;
}

/**
 * Run every selected service of the config file at `path` in this process. Throws a
 * `ConfigError` for an invalid file, a `MuxError` `DAEMON_RUNNING` when another daemon runs the
 * config, `CONFIG_INVALID` for an unsafe HTTP front or a bad selection, `DAEMON_START_FAILED`
 * when no service could start.
 */
export async function startDaemon(path: string, options: DaemonOptions = {}): Promise<DaemonHandle> {
  const env = options.env ?? process.env;
  const log = options.logger ?? defaultLogger("daemon");
  let config = loadConfig(path, { env });
  for (const w of config.warnings) log.warn(w);
  const own = options.overrides ?? {};
  if (own.socket !== undefined || own.cmd !== undefined || own.args !== undefined) {
    const selected = options.only ?? Object.keys(config.services).filter((n) => !options.except?.includes(n));
    if (selected.length !== 1)
      throw new MuxError(
        "CONFIG_INVALID",
        "--socket, --cmd and server arguments need exactly one service (use --service NAME)",
      );
  }
  const lock = lockConfig(path, env);
  const overrides = options.daemon ?? {};
  const idleFor = (c: MuxConfig): number =>
    overrides.idleExitMs ?? (options.autoStarted ? (c.daemon.idleExitMs ?? DEFAULT_IDLE_EXIT_MS) : 0);
  let idleExitMs = idleFor(config);
  if (options.autoStarted)
    log.info(`auto-started (PATH=${env.PATH ?? ""}); exits after ${idleExitMs} ms without clients`);
  const httpFor = (c: MuxConfig, reloading: boolean): HttpOptions | undefined =>
    httpFront(c.daemon.http, overrides.http, env, reloading ? undefined : log);
  let services: ServicesHandle;
  try {
    services = await startServices(config, {
      only: options.only,
      except: options.except,
      overrides: options.overrides,
      logger: options.serviceLogger,
      idleExitMs,
      onIdle: () => options.onIdle?.(idleExitMs),
      http: httpFor(config, false),
      httpLogger: options.httpLogger,
      stateDir: stateDir(env),
    });
  } catch (error) {
    lock?.release();
    throw error;
  }
  if (services.services.size === 0) {
    await services.close();
    lock?.release();
    const reasons = [...services.failures].map(([n, r]) => `${n}: ${r}`).join("; ");
    throw new MuxError("DAEMON_START_FAILED", `no service could start: ${reasons}`);
  }
  const tray = overrides.tray ?? Boolean(config.daemon.tray);

  const reload = async (): Promise<DaemonReloadResult> => {
    let next: MuxConfig;
    let http: HttpOptions | undefined;
    try {
      next = loadConfig(path, { env });
      http = httpFor(next, true);
    } catch (error) {
      log.error(`reload rejected, services keep running: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    }
    for (const w of next.warnings) log.warn(w);
    const result: DaemonReloadResult = await services.reload(next, { http, idleExitMs: idleFor(next) });
    idleExitMs = idleFor(next);
    config = next;
    if (overrides.tray === undefined && Boolean(next.daemon.tray) !== tray)
      result.needsRestart = { ...result.needsRestart, tray: "the status icon starts with the daemon: restart it" };
    if (result.needsRestart)
      for (const [k, why] of Object.entries(result.needsRestart)) log.warn(`reload: ${k}: ${why}`);
    log.info(`reloaded ${path}: ${JSON.stringify(result)}`);
    for (const h of services.services.values()) h.recorder.event(`config reloaded: ${JSON.stringify(result)}`);
    if (result.applied?.includes("http"))
      log.info(
        services.httpUrl
          ? `HTTP front now at ${services.httpUrl}/<service>`
          : `HTTP front: ${services.httpError ?? "off"}`,
      );
    return next.warnings.length > 0 ? { ...result, warnings: next.warnings } : result;
  };
  // The dashboard on its own loopback port (the HTTP front, when on, serves it at /dashboard too).
  let dashboard: DashboardServer | undefined;
  let dashboardError: string | undefined;
  let dashboardToken: string | undefined;
  const dashboardListen = overrides.dashboard ?? config.daemon.dashboard;
  if (dashboardListen) {
    try {
      const front = httpFor(config, true);
      const token = front?.auth === "none" ? undefined : (front?.token ?? loadOrCreateToken(defaultTokenFile(env)));
      dashboardToken = token;
      dashboard = startDashboard({
        listen: dashboardListen,
        token,
        source: { status: () => services.status(), records: () => recordsOf(services.services) },
      });
    } catch (error) {
      dashboardError = `cannot serve the dashboard on ${dashboardListen}: ${error instanceof Error ? error.message : String(error)}`;
      log.error(dashboardError);
    }
  }
  const dashboardUrl = (): string | undefined =>
    dashboard?.url ?? (services.httpUrl ? `${services.httpUrl.replace(/\/mcp$/, "")}/dashboard` : undefined);
  if (dashboardUrl())
    log.info(`dashboard at ${dashboardUrl()} (the link with its token: mux dashboard --config ${path})`);
  const dashboardInfo = (): { url: string; token: string | null } | undefined => {
    const url = dashboardUrl();
    if (!url) return undefined;
    const token = dashboard ? dashboardToken : services.httpToken;
    return { url, token: token ?? null };
  };
  const status = (): DaemonStatus => ({
    config: path,
    muxPid: process.pid,
    ...(dashboardUrl() ? { dashboard: dashboardUrl() } : {}),
    services: services.status(),
  });
  const records = (): Map<string, Recorder> => recordsOf(services.services);

  const controlPath = controlSocketPath(path, env);
  let control: Listener<undefined> | undefined;
  try {
    control = await startControl(controlPath, {
      status,
      reload,
      records,
      dashboard: dashboardInfo,
    });
  } catch (error) {
    log.warn(`control socket unavailable (mux reload/status --config will not reach this daemon): ${String(error)}`);
  }

  const closed = services.closed.then(async () => {
    await dashboard?.close();
    control?.close();
    lock?.release();
  });
  const close = async (): Promise<void> => {
    await services.close();
    await closed;
  };
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  if (options.signal?.aborted) await close();
  return {
    configPath: path,
    get config() {
      return config;
    },
    get services() {
      return services.services;
    },
    get failures() {
      return services.failures;
    },
    status,
    reload,
    get httpUrl() {
      return services.httpUrl;
    },
    get httpError() {
      return services.httpError;
    },
    tray,
    get idleExitMs() {
      return idleExitMs;
    },
    controlSocket: control ? controlPath : undefined,
    get dashboardUrl() {
      return dashboardUrl();
    },
    dashboardError,
    dashboardLink() {
      const d = dashboardInfo();
      return d && (d.token ? `${d.url}#token=${encodeURIComponent(d.token)}` : d.url);
    },
    close,
    closed,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The HTTP front from the overrides (which win) and the config's `http`; undefined when neither
 * asks for one. Private by default: the token comes from the chosen token file, else the
 * per-user default one (created 0600 on first use), unless `auth` is `none`. Off loopback the
 * servers are reachable from the network: that takes a token file chosen on purpose, never the
 * default one, and never no token at all. Throws `CONFIG_INVALID` for what it refuses. With a
 * `log`, it says where the token is.
 */
export function httpFront(
  fromConfig: HttpSettings | undefined,
  overrides: FieldsOf<"http"> | undefined,
  env: Record<string, string | undefined> = process.env,
  log?: MuxLogger,
): HttpOptions | undefined {
  const merged = { ...fromConfig, ...withoutUndefined(overrides ?? {}) };
  const { listen, tokenFile: explicit, ...rest } = merged;
  if (!listen) return undefined;
  const noAuth = merged.auth === "none";
  const trimmed = listen.trim();
  const host = /^\d+$/.test(trimmed) ? "127.0.0.1" : trimmed.replace(/:\d+$/, "") || "127.0.0.1";
  if (!isLoopback(host) && (noAuth || !explicit))
    throw new MuxError(
      "CONFIG_INVALID",
      `listening on ${host} (not loopback) needs a bearer token: set http.token_file / --http-token-file${noAuth ? ' (auth "none" is for loopback only)' : ""}`,
    );
  const tokenFile = noAuth ? undefined : (explicit ?? defaultTokenFile(env));
  let token: string | undefined;
  if (tokenFile) {
    try {
      token = loadOrCreateToken(tokenFile);
    } catch (error) {
      if (isMuxError(error)) throw error;
      throw new MuxError("CONFIG_INVALID", error instanceof Error ? error.message : String(error));
    }
    log?.info(`HTTP requests need Authorization: Bearer <the token in ${tokenFile}>`);
  }
  return { ...rest, listen, token, auth: noAuth ? "none" : "token" };
}

// --- internal ---

/** One daemon per config: a second one would split the services between them. */
function lockConfig(path: string, env: Record<string, string | undefined>): HeldLock | null {
  let lock: HeldLock | undefined | null;
  try {
    const lockFile = daemonFiles(path, env).daemonLock;
    ensurePrivateDir(dirname(lockFile));
    lock = tryLock(lockFile);
  } catch (error) {
    if (isMuxError(error)) throw error;
    throw new MuxError("DAEMON_START_FAILED", `cannot lock the config: ${String(error)}`);
  }
  if (lock === undefined)
    throw new MuxError("DAEMON_RUNNING", `another mux daemon already runs ${path} (see: mux status --config ${path})`);
  return lock;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
