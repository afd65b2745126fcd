/**
 * `startServices`: run every service of a config in one process, each with its own socket and
 * child; one failing does not stop the others; `reload` applies a new config by difference.
 * @module
 */

import { isMuxError, MuxError } from "../errors.ts";
import type { HttpFront } from "../http/front.ts";
import type { ServiceDoor } from "./door.ts";
import { defaultLogger, type MuxLogger } from "./logger.ts";
import type { HttpOptions, ServiceOptions } from "./options.ts";
import { httpUnavailable, type MuxHandle, recordsOf, startFront, startMux } from "./serve.ts";
import type { StatusSnapshot } from "./status.ts";

/** One service of a set: its options plus an optional per-service log level. */
export type ConfiguredService = ServiceOptions & { logLevel?: string };

/** A set of services by name (what `loadConfig` returns satisfies it). */
export interface ServiceSet {
  services: Record<string, ConfiguredService>;
}

/** Options of {@link startServices}. */
export interface ServicesOptions {
  /** Run only these services. */
  only?: string[];
  /** Run all but these services. */
  except?: string[];
  /** Settings that beat the config file for every selected service (command-line flags). */
  overrides?: Partial<ServiceOptions>;
  /** Logger per service (default: warnings to stderr). */
  logger?: (name: string, service: ConfiguredService) => MuxLogger;
  signal?: AbortSignal;
  /** Close everything once no service has had a client for this long (default: never). */
  idleExitMs?: number;
  /** Called when the services close because they were idle. */
  onIdle?: () => void;
  /** Serve every service over Streamable HTTP at `/mcp/<name>` from one listener. */
  http?: HttpOptions;
  /** Logger of the HTTP front (default: warnings to stderr). */
  httpLogger?: MuxLogger;
  /** The per-user state folder, for the services' handshake caches (see `MuxOptions.stateDir`). */
  stateDir?: string;
}

/** What a reload did. */
export interface ReloadResult {
  added: string[];
  removed: string[];
  restarted: string[];
  unchanged: string[];
  /** Services that could not start, with the reason. */
  failed: Record<string, string>;
  /** Daemon settings (`http`, `idle_exit_ms`) that changed and were applied. */
  applied?: string[];
  /** Daemon settings that changed and need a restart of the daemon to take effect, with why. */
  needsRestart?: Record<string, string>;
}

/** Daemon settings a reload can apply beside the services. */
export interface DaemonReload {
  /** The HTTP front as the new config (and the flags) want it; undefined: none. */
  http?: HttpOptions;
  /** The new idle exit time (0: never). */
  idleExitMs?: number;
}

/** A status row: a running service's snapshot, or a service that could not start. */
export type ServiceStatus = StatusSnapshot | { service: string; socket: string; state: "failed"; failReason: string };

/** Several running services. */
export interface ServicesHandle extends AsyncDisposable {
  /** Running services by name. */
  readonly services: ReadonlyMap<string, MuxHandle>;
  /** Services that failed to start, with the reason. */
  readonly failures: ReadonlyMap<string, string>;
  status(): ServiceStatus[];
  /**
   * Apply a new config: start added, stop removed, restart changed, keep unchanged. With
   * `daemon`, the HTTP front is rebound when its settings changed (its sessions end: a new token
   * must not leave old sessions in) and the idle exit time is updated.
   */
  reload(config: ServiceSet, daemon?: DaemonReload): Promise<ReloadResult>;
  /** The Streamable HTTP base (`http://127.0.0.1:8765/mcp`; a service is at `<base>/<name>`), while the front serves. */
  readonly httpUrl?: string;
  /** Why the HTTP front is not serving (the port is taken, ...), when it was asked for and could not start. */
  readonly httpError?: string;
  /** The HTTP front's bearer token, while it serves with one (`mux dashboard` links). */
  readonly httpToken?: string;
  close(): Promise<void>;
  readonly closed: Promise<void>;
}

/** Start the selected services of `config`. Throws only for an invalid selection. */
export async function startServices(config: ServiceSet, options: ServicesOptions = {}): Promise<ServicesHandle> {
  const running = new Map<string, { handle: MuxHandle; key: string; socket: string }>();
  const failures = new Map<string, { reason: string; socket: string }>();
  const select = (cfg: ServiceSet): Map<string, ServiceOptions> => selectServices(cfg, options);

  const start = async (name: string, svc: ServiceOptions & { logLevel?: string }): Promise<void> => {
    const { logLevel: _l, ...opts } = svc as ConfiguredService;
    const logger = options.logger?.(name, svc as ConfiguredService) ?? defaultLogger(name);
    try {
      const handle = await startMux({ ...opts, logger, stateDir: options.stateDir });
      running.set(name, { handle, key: identity(svc), socket: svc.socket });
      failures.delete(name);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      logger.error(`service ${name} did not start: ${reason}`);
      failures.set(name, { reason, socket: svc.socket });
    }
  };

  const initial = select(config);
  if (initial.size === 0) throw new MuxError("CONFIG_INVALID", "no services to start (check --only/--except)");
  await Promise.all([...initial].map(([name, svc]) => start(name, svc)));
  const routes = (): Map<string, ServiceDoor> =>
    new Map([...running].map(([name, r]) => [`/mcp/${name}`, r.handle.door]));
  const httpLogger = options.httpLogger ?? defaultLogger("http");
  const dashboard = {
    status: () => [...running.values()].map((r) => r.handle.status()),
    records: () => recordsOf(new Map([...running].map(([name, r]) => [name, r.handle]))),
  };
  let front: HttpFront | undefined;
  let httpError: string | undefined;
  let httpToken: string | undefined;
  let httpKey = identity(options.http ?? null);
  // A front that cannot start (its port is taken) is an error of its own: the socket services
  // run on, and status and the log say why HTTP is missing.
  const openFront = (http: HttpOptions | undefined): void => {
    httpError = undefined;
    httpToken = undefined;
    if (!http) return;
    try {
      front = startFront(http, routes, httpLogger, dashboard);
      httpToken = http.auth === "none" ? undefined : http.token;
    } catch (error) {
      if (isMuxError(error)) throw error;
      httpError = httpUnavailable(http.listen, error);
      httpLogger.error(`${httpError}; the socket services run without it`);
    }
  };
  try {
    openFront(options.http);
  } catch (error) {
    await Promise.all([...running.values()].map((r) => r.handle.close()));
    throw error;
  }

  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => {
    resolveClosed = r;
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= Promise.all([front?.close(), ...[...running.values()].map((r) => r.handle.close())]).then(() => {
      running.clear();
      resolveClosed();
    });
    return closing;
  };
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  let idleLimit = options.idleExitMs ?? 0;
  let idleTimer: ReturnType<typeof setInterval> | undefined;
  const armIdle = (): void => {
    if (idleTimer) clearInterval(idleTimer);
    idleTimer = undefined;
    if (idleLimit <= 0) return;
    let idleSince = Date.now();
    const timer = setInterval(
      () => {
        // Live clients only: HTTP sessions of hosts that went away without DELETE do not keep a daemon up.
        const clients = [...running.values()].reduce((n, r) => {
          const s = r.handle.status();
          return n + s.connectedClients - (s.idleClients ?? 0);
        }, 0);
        if (clients > 0) idleSince = Date.now();
        else if (Date.now() - idleSince >= idleLimit) {
          clearInterval(timer);
          options.onIdle?.();
          void close();
        }
      },
      Math.min(1000, Math.max(50, idleLimit / 4)),
    );
    idleTimer = timer;
  };
  armIdle();
  void closed.then(() => idleTimer && clearInterval(idleTimer));

  return {
    get httpUrl() {
      return front ? `${front.url}/mcp` : undefined;
    },
    get httpError() {
      return httpError;
    },
    get httpToken() {
      return front ? httpToken : undefined;
    },
    get services() {
      return new Map([...running].map(([n, r]) => [n, r.handle]));
    },
    get failures() {
      return new Map([...failures].map(([n, f]) => [n, f.reason]));
    },
    status() {
      const rows: ServiceStatus[] = [...running.values()].map((r) => r.handle.status());
      for (const [name, f] of failures)
        rows.push({ service: name, socket: f.socket, state: "failed", failReason: f.reason });
      return rows.sort((a, b) => a.service.localeCompare(b.service));
    },
    async reload(next, daemon) {
      const wanted = select(next);
      const result: ReloadResult = { added: [], removed: [], restarted: [], unchanged: [], failed: {} };
      if (daemon) {
        const applied: string[] = [];
        const key = identity(daemon.http ?? null);
        if (key !== httpKey) {
          httpKey = key;
          const old = front;
          front = undefined;
          await old?.close();
          try {
            openFront(daemon.http);
          } catch (error) {
            httpError = error instanceof Error ? error.message : String(error);
          }
          applied.push("http");
          if (httpError) result.failed.http = httpError;
        }
        const idle = daemon.idleExitMs ?? 0;
        if (idle !== idleLimit) {
          idleLimit = idle;
          armIdle();
          applied.push("idle_exit_ms");
        }
        if (applied.length > 0) result.applied = applied;
      }
      const stops: Promise<void>[] = [];
      for (const [name, r] of running) {
        const svc = wanted.get(name);
        const drop = (): void => {
          running.delete(name);
          front?.dropService(r.handle.door);
          stops.push(r.handle.close());
        };
        if (!svc) {
          result.removed.push(name);
          drop();
        } else if (identity(svc) !== r.key) {
          result.restarted.push(name);
          drop();
        } else result.unchanged.push(name);
      }
      for (const name of failures.keys()) if (!wanted.has(name)) failures.delete(name);
      await Promise.all(stops);
      const starts: Promise<void>[] = [];
      for (const [name, svc] of wanted) {
        if (running.has(name)) continue;
        if (!result.restarted.includes(name)) result.added.push(name);
        starts.push(start(name, svc));
      }
      await Promise.all(starts);
      for (const [name, f] of failures) if (wanted.has(name)) result.failed[name] = f.reason;
      return result;
    },
    close,
    closed,
    [Symbol.asyncDispose]: close,
  };
}

/** Apply only/except and the overrides. Throws for unknown names. */
export function selectServices(
  config: ServiceSet,
  options: Pick<ServicesOptions, "only" | "except" | "overrides">,
): Map<string, ServiceOptions> {
  const names = Object.keys(config.services);
  for (const n of [...(options.only ?? []), ...(options.except ?? [])]) {
    if (!names.includes(n))
      throw new MuxError("CONFIG_INVALID", `no service "${n}" in the config (services: ${names.join(", ")})`);
  }
  const out = new Map<string, ServiceOptions>();
  for (const [name, svc] of Object.entries(config.services)) {
    if (options.only && !options.only.includes(name)) continue;
    if (options.except?.includes(name)) continue;
    out.set(name, { ...svc, ...withoutUndefined(options.overrides ?? {}) });
  }
  return out;
}

// --- internal ---

/** A stable text form of a service's settings (keys sorted at every level). */
function identity(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(identity).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${JSON.stringify(k)}:${identity(v)}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
