/**
 * `startMux`: the library entry that runs one service in-process and returns a handle.
 * @module
 */

import { isMuxError } from "../errors.ts";
import type { DashboardSource } from "../http/dashboard.ts";
import type { HttpClient, HttpDoor } from "../http/door.ts";
import { type HttpFront, startHttpFront } from "../http/front.ts";
import type { HttpSession } from "../http/session.ts";
import type { ClientPort, MuxClient } from "./client.ts";
import { descriptorPressure } from "./descriptors.ts";
import type { ServiceDoor } from "./door.ts";
import { envelopeProblem } from "./era2026/modern.ts";
import { defaultLogger, type MuxLogger } from "./logger.ts";
import { HTTP_DEFAULTS, type HttpOptions, type MuxOptions, resolveServiceOptions } from "./options.ts";
import type { Recorder } from "./record.ts";
import { MuxService } from "./service.ts";
import type { StatusSnapshot } from "./status.ts";

/** A running mux service. */
export interface MuxHandle extends AsyncDisposable {
  /** The socket clients connect to. */
  readonly socket: string;
  readonly serviceName: string;
  /** A status snapshot. */
  status(): StatusSnapshot;
  /** Shut down: stop accepting, answer in-flight requests, stop the child tree, remove the socket. */
  close(): Promise<void>;
  /** Resolves once the mux has closed (by `close()` or the abort signal). */
  readonly closed: Promise<void>;
  /** The Streamable HTTP endpoint (`http://127.0.0.1:8765/mcp`), when `http` was given and serves. */
  readonly httpUrl?: string;
  /** Why the HTTP front is not serving, when it was asked for and could not start. */
  readonly httpError?: string;
  /** The one door every transport reaches the service through (the socket, the HTTP front, one of your own). */
  readonly door: ServiceDoor;
  /** The service's record of what flowed (`mux logs`, the dashboard). */
  readonly recorder: Recorder;
}

/** The records of running services, by name (the control socket's `mcp-mux/logs`, the dashboard). */
export function recordsOf(handles: ReadonlyMap<string, MuxHandle>): Map<string, Recorder> {
  return new Map([...handles].map(([name, h]) => [name, h.recorder]));
}

/**
 * Start an HTTP front on `http` for the services `routes` names: the option table's defaults
 * applied, and the mux's hooks handed in (descriptor pressure, the 2026-07-28 envelope check),
 * so the front itself imports nothing of mux.
 */
export function startFront(
  http: HttpOptions,
  routes: () => ReadonlyMap<string, ServiceDoor>,
  logger: MuxLogger,
  dashboard: DashboardSource,
): HttpFront {
  return startHttpFront({
    ...HTTP_DEFAULTS,
    ...http,
    routes,
    logger,
    dashboard,
    envelope: envelopeProblem,
    pressure: descriptorPressure(),
  });
}

/** Start one mux service: bind its socket and (unless lazy) start its child. */
export async function startMux(options: MuxOptions): Promise<MuxHandle> {
  const resolved = resolveServiceOptions(options);
  const logger = options.logger ?? defaultLogger(resolved.serviceName);
  const service = new MuxService(resolved, logger, options.stateDir);
  await service.start();
  let front: HttpFront | undefined;
  let httpError: string | undefined;
  if (options.http) {
    // A front that cannot start (its port is taken) is an error of its own: the socket serves
    // on, and `httpError` and the log say why HTTP is missing.
    try {
      front = startFront(options.http, () => new Map([["/mcp", service]]), logger, {
        status: () => [service.status()],
        records: () => new Map([[resolved.serviceName, service.recorder]]),
      });
      logger.info(`serving Streamable HTTP at ${front.url}/mcp`);
    } catch (error) {
      if (isMuxError(error)) {
        await service.close();
        throw error;
      }
      httpError = httpUnavailable(options.http.listen, error);
      logger.error(`${httpError}; the socket serves without it`);
    }
  }
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => {
    resolveClosed = r;
  });
  const close = async (): Promise<void> => {
    await front?.close();
    await service.close();
    resolveClosed();
  };
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  if (options.signal?.aborted) await close();
  const handle: MuxHandle = {
    httpUrl: front ? `${front.url}/mcp` : undefined,
    httpError,
    socket: resolved.socket,
    serviceName: resolved.serviceName,
    status: () => service.status(),
    close,
    closed,
    door: service,
    recorder: service.recorder,
    [Symbol.asyncDispose]: close,
  };
  return handle;
}

// --- internal ---

/** `T`, checked to fit `U` (compile time only). */
type Fits<T extends U, U> = T;
/**
 * The HTTP front declares what it needs of a service, its clients and its sessions in
 * src/http/door.ts (so http imports nothing of mux); the mux's types fit those declarations.
 */
export type HttpFitsMux = [Fits<MuxService, HttpDoor>, Fits<MuxClient, HttpClient>, Fits<HttpSession, ClientPort>];

/** The message for a front that could not bind, naming the usual cause. */
export function httpUnavailable(listen: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const inUse = /EADDRINUSE|in use/i.test(message) || (error as { code?: string })?.code === "EADDRINUSE";
  return `cannot serve HTTP on ${listen}: ${inUse ? "the port is in use by another program (choose another with http.listen / --http)" : message}`;
}
