/**
 * `ServiceDoor`: the one way a transport reaches a service. A transport (the Unix socket, the
 * HTTP front, a future one) makes each of its clients a `ClientPort`, opens it at the door,
 * hands its lines in (text, or bytes when big, or parsed once by the transport itself), says when it ended or went away, and asks
 * whether to keep reading. Nothing else of the service is a transport's business.
 * @module
 */

import type { OversizedLine } from "../protocol/framing.ts";
import type { WorkspaceHint } from "../protocol/hello.ts";
import type { Message } from "../protocol/message.ts";
import type { ClientPort, MuxClient } from "./client.ts";

/** A service as its transports see it. */
export interface ServiceDoor {
  /** The per-client limits a transport applies itself. */
  readonly options: { readonly maxRequestBytes: number; readonly clientStallTimeoutMs: number };
  /** True once the service is shutting down (a transport refuses new clients). */
  readonly shuttingDown: boolean;
  /** A new client of `transport` ("socket", "http"); `workspace` is its untrusted hint, if any. */
  openClient(port: ClientPort, transport: string, workspace?: WorkspaceHint): MuxClient;
  /** One line from the client (text, or the bytes of a big one), parsed by the service. */
  clientLine(client: MuxClient, line: string | Uint8Array): void;
  /**
   * One message the transport parsed already (`parseMessage`, or `parseMessageBytes` when big),
   * with its `line` (text, or bytes) for the record: routed without being parsed again.
   */
  clientMessage(client: MuxClient, line: string | Uint8Array, msg: Message): void;
  /** A line over `max_request_bytes` (never read whole): answered by its guessed id, if a request. */
  clientOversized(client: MuxClient, info: OversizedLine): void;
  /** The client finished sending: close it once what it asked is answered. */
  clientEnded(client: MuxClient): void;
  /** The client gave up request `key` (an HTTP stream closed): cancelled at the child if it got there. */
  cancelRequest(client: MuxClient, key: string, reason: string): void;
  /** True once the server serving `client` failed for good. */
  clientFailed(client: MuxClient): boolean;
  /** The client is gone: release everything it held (once, however often it is said). */
  closeClient(client: MuxClient, reason: string): void;
  /** True while no new line of `client` should be taken (its server's stdin is behind). */
  clientBusy(client: MuxClient): boolean;
}
