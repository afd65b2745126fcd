/**
 * Server→client requests: the child's requests forwarded to one client under a mux-owned id
 * (its answer goes back with the child's id), the mux's own questions to clients (roots),
 * URL-elicitation owners, and the "could not route" answer.
 * @module
 */

import { idKeyOf, type JsonObject, type RequestMessage, type ResponseMessage } from "../../protocol/message.ts";
import { errorLine, RpcErrorCode } from "../../protocol/rpc-error.ts";
import { type Span, splice } from "../../protocol/scan.ts";
import type { MuxClient } from "../client.ts";
import type { ChildState, RouterHost, RouterOptions } from "./types.ts";
import { syntheticError } from "./wire.ts";

/** What this unit needs of the router. */
export interface ServerRequestsHost {
  readonly state: ChildState;
  readonly host: RouterHost;
  readonly options: RouterOptions;
}

/** The server→client requests of one child. */
export class ServerRequests {
  /** Child id key → the client it was sent to and the mux key it got there. */
  private readonly open = new Map<string, { client: MuxClient; muxKey: string }>();
  private readonly elicitations = new Map<string, MuxClient>();
  /** Questions the mux asked clients: mux id key → callback. */
  private readonly own = new Map<string, (msg: ResponseMessage) => void>();
  private next = 1;

  constructor(private readonly core: ServerRequestsHost) {}

  /** Server→client requests not answered yet, URL elicitations not completed, the mux's own questions. */
  get size(): number {
    return this.open.size + this.elicitations.size + this.own.size;
  }

  /** Send a child request to one client under a mux-owned id; its answer goes back with the child's id. */
  send(client: MuxClient, msg: RequestMessage, elicitationId?: string, related?: string): void {
    const muxKeyText = `"mux-${this.next++}"`;
    const muxKey = idKeyOf(muxKeyText);
    const timer = setTimeout(() => {
      client.outbound.delete(muxKey);
      this.open.delete(msg.key);
      client.send(cancelled(muxKey, "timed out in mcp-mux"), "request", related);
      this.answerUnrouted(msg.rawId, msg.method, "the client did not answer in time");
    }, this.core.options.requestTimeoutMs);
    client.outbound.set(muxKey, { childRawId: msg.rawId, method: msg.method, elicitationId, timer });
    this.open.set(msg.key, { client, muxKey });
    if (elicitationId !== undefined) this.elicitations.set(elicitationId, client);
    client.send(splice(msg.text, msg.idSpan, muxKeyText), "request", related);
  }

  /** Ask a client something on the mux's own behalf (e.g. its roots). */
  ask(
    client: MuxClient,
    method: string,
    onAnswer: (msg: ResponseMessage) => void,
    params?: JsonObject,
    related?: string,
  ): void {
    const muxKeyText = `"mux-${this.next++}"`;
    const muxKey = idKeyOf(muxKeyText);
    const timer = setTimeout(() => {
      this.own.delete(muxKey);
      if (client.outbound.delete(muxKey)) onAnswer(syntheticError(RpcErrorCode.RequestTimeout, `${method} timed out`));
    }, this.core.options.requestTimeoutMs);
    client.outbound.set(muxKey, { childRawId: "", method, timer });
    this.own.set(muxKey, onAnswer);
    const body = params === undefined ? "" : `,"params":${JSON.stringify(params)}`;
    client.send(`{"jsonrpc":"2.0","id":${muxKeyText},"method":${JSON.stringify(method)}${body}}`, "request", related);
  }

  /** A client answered (false: it was never asked that id): give it to the mux's callback, or back to the child with the child's id. */
  answered(client: MuxClient, msg: ResponseMessage): boolean {
    const out = client.outbound.get(msg.key);
    if (!out) return false;
    client.outbound.delete(msg.key);
    clearTimeout(out.timer);
    const own = this.own.get(msg.key);
    if (own) {
      this.own.delete(msg.key);
      own(msg);
      return true;
    }
    this.open.delete(idKeyOf(out.childRawId));
    client.wake();
    if (msg.idSpan && this.core.state === "ready")
      this.core.host.writeChild(splice(msg.text, msg.idSpan, out.childRawId));
    return true;
  }

  /** The child cancelled its request (`key`): tell the client under the mux id; the text's requestId span is given. */
  childCancelled(key: string, text: string, span: Span): void {
    const open = this.open.get(key);
    if (!open) return;
    this.open.delete(key);
    const out = open.client.outbound.get(open.muxKey);
    clearTimeout(out?.timer);
    open.client.outbound.delete(open.muxKey);
    open.client.send(splice(text, span, JSON.stringify(open.muxKey.slice(1))), "request");
  }

  /** Is a request of the child (by id key) open on a client? */
  isOpen(key: string): boolean {
    return this.open.has(key);
  }

  /** `client` owns these URL elicitations (from a -32042 error it was given). */
  noteElicitation(elicitationId: string, client: MuxClient): void {
    this.elicitations.set(elicitationId, client);
  }

  /** The elicitation completed: its owner (forgotten now), if known. */
  completeElicitation(elicitationId: string): MuxClient | undefined {
    const owner = this.elicitations.get(elicitationId);
    this.elicitations.delete(elicitationId);
    return owner;
  }

  /**
   * Answer the child's request with an error: no client could take it. Never a made-up
   * result: a server must be able to tell "nobody was asked" from a user's cancel.
   */
  answerUnrouted(childRawId: string, method: string, why: string): void {
    if (this.core.state !== "ready") return;
    this.core.host.writeChild(errorLine(childRawId, RpcErrorCode.NoRoute, `mcp-mux could not route ${method}: ${why}`));
  }

  /** A client left: the child's requests open on it are answered "could not route". */
  dropClient(client: MuxClient): void {
    for (const [muxKey, out] of client.outbound) {
      clearTimeout(out.timer);
      client.outbound.delete(muxKey);
      this.own.delete(muxKey);
      if (!out.childRawId) continue;
      this.open.delete(idKeyOf(out.childRawId));
      this.answerUnrouted(out.childRawId, out.method, "the client handling it disconnected");
    }
    for (const [id, owner] of this.elicitations) if (owner === client) this.elicitations.delete(id);
  }

  /** The child is gone: its requests open on clients are cancelled there. */
  childGone(clients: Iterable<MuxClient>): void {
    this.elicitations.clear();
    this.open.clear();
    for (const c of clients) {
      for (const [muxKey, out] of c.outbound) {
        if (!out.childRawId) continue;
        clearTimeout(out.timer);
        c.outbound.delete(muxKey);
        c.send(cancelled(muxKey, "MCP server exited"), "request");
      }
    }
  }
}

// --- internal ---

/** A cancellation of the mux's request `muxKey` (an id key: `s` + the string). */
function cancelled(muxKey: string, reason: string): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    method: "notifications/cancelled",
    params: { requestId: muxKey.slice(1), reason },
  });
}
