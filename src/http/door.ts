/**
 * What the HTTP front needs of the services it serves, declared here so that src/http imports
 * nothing of src/mux: a service's door (`HttpDoor`, which mux's `ServiceDoor` satisfies), the
 * client it opens (`HttpClient`, which `MuxClient` satisfies), the port a session is
 * (`HttpPort`, mux's `ClientPort`), the logger, and the hooks the caller hands in (descriptor
 * pressure, the 2026-07-28 envelope check). mux/serve.ts wires them and checks the fit.
 * @module
 */

import type { WorkspaceHint } from "../protocol/hello.ts";
import type { Message, WireLine } from "../protocol/message.ts";

/** A service as the HTTP front sees it (a subset of mux's `ServiceDoor`). */
export interface HttpDoor {
  /** The per-client limits the front applies itself. */
  readonly options: { readonly maxRequestBytes: number; readonly clientStallTimeoutMs: number };
  /** True once the service is shutting down (new requests get 503). */
  readonly shuttingDown: boolean;
  /** A new client (a session, or one stateless request); `workspace` is its untrusted hint. */
  openClient(port: HttpPort, transport: string, workspace?: WorkspaceHint): HttpClient;
  /** One message the front parsed (`line`: its text, or its bytes when big): never parsed again. */
  clientMessage(client: HttpClient, line: string | Uint8Array, msg: Message): void;
  /** The client gave up request `key` (its stream closed): cancelled at the child if it got there. */
  cancelRequest(client: HttpClient, key: string, reason: string): void;
  /** True once the server serving `client` failed for good (a new client may be served by another). */
  clientFailed(client: HttpClient): boolean;
  /** The client is gone: release everything it held. */
  closeClient(client: HttpClient, reason: string): void;
  /** True while no new message of `client` should go in (its server's stdin is behind). */
  clientBusy(client: HttpClient): boolean;
}

/** The mux client behind a session, as far as the front reads it. */
export interface HttpClient {
  /** At its limit of requests in flight, or behind on what it was sent. */
  readonly saturated: boolean;
  /** The version its initialize negotiated. */
  readonly protocolVersion: string | undefined;
  /** Initialized (`notifications/initialized` seen). */
  readonly operational: boolean;
  /** Its requests in flight. */
  readonly inflight: { readonly size: number };
  /** Why it may not use the service (a limit, a refused workspace), if it may not. */
  readonly refusal: string | undefined;
  /** Server→client requests it has not answered yet. */
  readonly outbound: { readonly size: number };
  /** The transport took queued bytes: the client may get more. */
  drained(): void;
}

/** The transport side of a client (mux's `ClientPort`): what a session implements. */
export interface HttpPort {
  /** Deliver one line; `related` is the key of the client request it belongs to, when known. */
  write(line: WireLine, kind: string, related: string | undefined): void;
  close(reason: string): void;
  readonly backlog: number;
  wake(): void;
  readonly idle?: boolean;
}

/** What the front logs through (mux's `MuxLogger`, a consola instance). */
export interface HttpLogger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

/** The 2026-07-28 per-request envelope check (`_meta` version, capabilities), handed in by the caller. */
export type EnvelopeCheck = (
  params: Record<string, unknown> | undefined,
) => { code: number; message: string; data?: unknown } | undefined;
