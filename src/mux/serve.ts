/**
 * `startMux`: the library entry that runs one service in-process and returns a handle.
 * @module
 */

import { MuxError } from "../errors.ts";
import { type HttpFront, startHttpFront } from "../http/front.ts";
import { defaultLogger } from "./logger.ts";
import { type MuxOptions, resolveServiceOptions } from "./options.ts";
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
  /** The Streamable HTTP endpoint (`http://127.0.0.1:8765/mcp`), when `http` was given. */
  readonly httpUrl?: string;
}

/** The service behind a handle (for the multi-service HTTP front; not exported from the package). */
export function serviceOf(handle: MuxHandle): MuxService | undefined {
  return services.get(handle);
}

/** Start one mux service: bind its socket and (unless lazy) start its child. */
export async function startMux(options: MuxOptions): Promise<MuxHandle> {
  const resolved = resolveServiceOptions(options);
  const logger = options.logger ?? defaultLogger(resolved.serviceName);
  const service = new MuxService(resolved, logger);
  await service.start();
  let front: HttpFront | undefined;
  if (options.http) {
    try {
      front = startHttpFront({ ...options.http, routes: () => new Map([["/mcp", service]]), logger });
    } catch (error) {
      await service.close();
      throw new MuxError(
        "HTTP_UNAVAILABLE",
        `cannot serve HTTP on ${options.http.listen}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    logger.info(`serving Streamable HTTP at ${front.url}/mcp`);
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
    socket: resolved.socket,
    serviceName: resolved.serviceName,
    status: () => service.status(),
    close,
    closed,
    [Symbol.asyncDispose]: close,
  };
  services.set(handle, service);
  return handle;
}

// --- internal ---

const services = new WeakMap<MuxHandle, MuxService>();
