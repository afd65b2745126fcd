/**
 * `startMux`: the library entry that runs one service in-process and returns a handle.
 * @module
 */

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
}

/** Start one mux service: bind its socket and (unless lazy) start its child. */
export async function startMux(options: MuxOptions): Promise<MuxHandle> {
  const resolved = resolveServiceOptions(options);
  const logger = options.logger ?? defaultLogger(resolved.serviceName);
  const service = new MuxService(resolved, logger);
  await service.start();
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => {
    resolveClosed = r;
  });
  const close = async (): Promise<void> => {
    await service.close();
    resolveClosed();
  };
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  if (options.signal?.aborted) await close();
  return {
    socket: resolved.socket,
    serviceName: resolved.serviceName,
    status: () => service.status(),
    close,
    closed,
    [Symbol.asyncDispose]: close,
  };
}
