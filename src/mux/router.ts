/**
 * The router of one child: its clients, the client side of routing (lines in, requests held,
 * forwarded with a mux id, cancelled), the child's lifecycle (started, gone, failed, shutdown)
 * and the fan-out to the units that own each kind of state: pending requests
 * (`routing/pending.ts`), progress tokens, subscriptions, tasks, server→client requests; the
 * child's lines are `routing/child-lines.ts`, per-method behaviour is `rules.ts`, the handshake,
 * slots and deadlines are units of their own. A client is a `MuxClient`, whatever transport it
 * came through.
 * @module
 */

import { decodeSpan } from "../protocol/json-bytes.ts";
import {
  isObject,
  type JsonObject,
  type Message,
  type RequestMessage,
  type ResponseMessage,
} from "../protocol/message.ts";
import { errorLine, RpcErrorCode } from "../protocol/rpc-error.ts";
import type { Span } from "../protocol/scan.ts";
import type { MuxClient, SendKind } from "./client.ts";
import { cancelOrphanTasks } from "./era2026/legacy-tasks.ts";
import { childListensReady, childSubscription, muxEnvelope } from "./era2026/modern-child.ts";
import { Handshake } from "./handshake.ts";
import { effectiveLevel } from "./levels.ts";
import type { MuxLogger } from "./logger.ts";
import { childBytes, childLine } from "./routing/child-lines.ts";
import { clientLine, clientOversized, clientParsed } from "./routing/client-lines.ts";
import type { RoutingCore } from "./routing/core.ts";
import { PendingRequests } from "./routing/pending.ts";
import { ProgressTokens } from "./routing/progress.ts";
import { ServerRequests } from "./routing/server-requests.ts";
import { Subscriptions } from "./routing/subscriptions.ts";
import { TaskOwners } from "./routing/tasks.ts";
import type { ChildState, Pending, Reply, RouterHost, RouterOptions } from "./routing/types.ts";
import {
  duplicateError,
  failedError,
  shuttingDown,
  spliceAll,
  spliceBytes,
  syntheticError,
  timeoutError,
} from "./routing/wire.ts";
import { clientRequestRules } from "./rules.ts";
import { Slots } from "./slots.ts";

export type {
  AmbiguousRoute,
  ChildState,
  Pending,
  Reply,
  RouterHost,
  RouterOptions,
} from "./routing/types.ts";

/** The routing core of one child. */
export class Router implements RoutingCore {
  state: ChildState = "starting";
  failReason: string | undefined;
  closing = false;
  childLogLevel: string | undefined;
  /** Client requests sent to the child so far. */
  requestsForwarded = 0;
  readonly clients = new Set<MuxClient>();
  readonly options: RouterOptions;
  readonly host: RouterHost;
  readonly logger: MuxLogger;
  readonly pending = new PendingRequests((p) => this.timedOut(p));
  readonly progress = new ProgressTokens();
  readonly subscriptions = new Subscriptions(this);
  readonly tasks = new TaskOwners();
  readonly serverRequests: ServerRequests;
  readonly handshake: Handshake;
  readonly slots: Slots;

  private rootsTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: RouterOptions, host: RouterHost) {
    this.options = options;
    this.host = host;
    this.logger = options.logger;
    this.handshake = new Handshake(this);
    this.slots = new Slots(options.maxActiveClients, options.maxConcurrentRequests);
    this.serverRequests = new ServerRequests(this);
  }

  /** The child's cached initialize result (a dormant child's last one while it sleeps). */
  get initResult(): JsonObject | undefined {
    return this.handshake.result ?? (this.state === "dormant" ? this.handshake.previous : undefined);
  }

  get cachedLists(): Map<string, JsonObject> {
    return this.handshake.lists;
  }

  freshList(method: string): JsonObject | undefined {
    return this.handshake.freshList(method);
  }

  get declaredCapabilities(): JsonObject | undefined {
    return this.handshake.declared;
  }

  get childEra(): "legacy" | "modern" | undefined {
    return this.handshake.verdict;
  }

  get discovered(): JsonObject | undefined {
    return this.handshake.discovered;
  }

  // ---- clients ----

  attach(client: MuxClient): void {
    this.clients.add(client);
    this.host.changed();
  }

  /** A client went away: cancel its work at the child and release everything it held. */
  detach(client: MuxClient, reason: string): void {
    if (!this.clients.delete(client)) return;
    this.logger.debug(`client ${client.id} disconnected: ${reason}`);
    for (const [key, muxId] of client.inflight) {
      client.inflight.delete(key);
      const p = this.pending.get(muxId);
      if (!p) continue;
      this.dropPending(p);
      this.cancelAtChild(muxId, "client disconnected");
    }
    this.slots.drop(client);
    this.handshake.drop(client);
    this.serverRequests.dropClient(client);
    cancelOrphanTasks(this, this.tasks.dropClient(client));
    this.subscriptions.dropClient(client);
    this.applyLogLevel();
    if (client.roots !== undefined) this.rootsChanged();
    this.pump();
    this.host.changed();
  }

  /** The client closed its sending side: answer what is in flight, then close. */
  clientEnded(client: MuxClient): void {
    client.ending = true;
    this.settled(client);
  }

  settled(client: MuxClient): void {
    if (client.ending && client.inflight.size === 0 && !client.closed) client.close("client finished");
    else client.wake();
  }

  /** One line from a client (text, or the bytes of a big one). */
  clientLine(client: MuxClient, line: string | Uint8Array): void {
    clientLine(this, client, line);
  }

  /** One message already parsed by its transport (never parsed again). */
  clientMessage(client: MuxClient, line: string | Uint8Array, msg: Message): void {
    clientParsed(this, client, msg, line);
  }

  /** A client line over `max_request_bytes`: answer it if it was a request, drop it otherwise. */
  clientOversized(client: MuxClient, bytes: number, head: string, tail: string, limit: number): void {
    clientOversized(this, client, bytes, head, tail, limit);
  }

  waitInitialize(client: MuxClient, msg: RequestMessage, reply: Reply): void {
    this.handshake.wait(client, msg, reply);
  }

  answerInitialize(client: MuxClient, msg: RequestMessage, reply: Reply): void {
    clientRequestRules.initialize?.(this, client, msg, reply);
  }

  // ---- requests to the child ----

  submit(client: MuxClient, msg: RequestMessage, reply: Reply, run?: () => void): void {
    if (client.inflight.has(msg.key)) return reply(duplicateError(msg.rawId));
    if (this.state === "failed") return reply(this.failedError(msg.rawId));
    if (this.closing) return reply(shuttingDown(msg.rawId));
    const go = run ?? (() => this.forward(client, msg, reply));
    if (this.state === "ready" && this.slots.admits(client, msg.method)) return go();
    this.host.ensureChild();
    this.slots.hold({ client, msg, run: go, refuse: reply }, this.options.requestTimeoutMs, () => {
      reply(timeoutError(msg.rawId, this.options.requestTimeoutMs, "while waiting for the server"));
      this.settled(client);
      this.host.changed();
    });
    this.handshake.need(client);
    this.host.changed();
  }

  forward(client: MuxClient, msg: RequestMessage, reply: Reply, onResponse?: Pending["onResponse"]): Pending {
    const muxId = this.pending.nextId();
    const p: Pending = { muxId, method: msg.method, client, rawId: msg.rawId, key: msg.key, reply, onResponse };
    const token = msg.progressSpan;
    const edits: [Span, string][] = [[msg.idSpan, String(muxId)]];
    if (token) {
      const rawToken = msg.bytes ? decodeSpan(msg.bytes, token) : msg.text.slice(token[0], token[1]);
      this.progress.give(muxId, { client, rawToken, key: msg.key });
      p.progressToken = muxId;
      edits.push([token, String(muxId)]);
    }
    const text = msg.bytes ? spliceBytes(msg.bytes, edits) : spliceAll(msg.text, edits);
    const longLived = LONG_LIVED_METHODS.has(msg.method);
    if (!longLived) p.deadline = performance.now() + this.options.requestTimeoutMs;
    this.pending.add(p, longLived ? { client, rawId: msg.rawId, key: msg.key } : undefined);
    client.inflight.set(msg.key, muxId);
    client.lastRequestAt = Date.now();
    this.requestsForwarded++;
    p.counted = this.slots.take(client, msg.method);
    this.host.writeChild(text);
    this.host.changed();
    return p;
  }

  request(method: string, params: JsonObject | undefined, onResponse: (msg: ResponseMessage) => void): number {
    if (this.handshake.modern && childSubscription(this, method, params, onResponse)) return 0; // its listen
    if (this.handshake.modern && method !== "server/discover") params = muxEnvelope(this, params);
    const muxId = this.pending.nextId();
    const p: Pending = { muxId, method, client: null, rawId: String(muxId), key: "", reply: () => {}, onResponse };
    if (!LONG_LIVED_METHODS.has(method)) p.deadline = performance.now() + this.options.requestTimeoutMs;
    this.pending.add(p);
    const body =
      params === undefined ? { jsonrpc: "2.0", id: muxId, method } : { jsonrpc: "2.0", id: muxId, method, params };
    this.host.writeChild(JSON.stringify(body));
    return muxId;
  }

  cancelAtChild(muxId: number, reason: string): void {
    if (this.state !== "ready") return;
    const params = { requestId: muxId, reason };
    this.host.writeChild(JSON.stringify({ jsonrpc: "2.0", method: "notifications/cancelled", params }));
  }

  cancelHeld(client: MuxClient, key: string): void {
    this.slots.cancel(client, key);
    this.settled(client);
    this.host.changed();
  }

  dropPending(p: Pending): void {
    this.pending.remove(p);
    this.progress.release(p.progressToken);
    const client = p.client;
    if (client) {
      client.inflight.delete(p.key);
      this.released(client, p.counted);
      queueMicrotask(() => this.settled(client));
    }
  }

  released(client: MuxClient, counted: boolean | undefined): void {
    if (this.slots.release(client, counted)) this.pump();
  }

  // ---- lines from the child ----

  /** One line from the child's stdout. */
  childLine(text: string): void {
    childLine(this, text);
  }

  /** One big line from the child, as bytes (see `routing/child-lines.ts`). */
  childBytes(bytes: Uint8Array): void {
    childBytes(this, bytes);
  }

  broadcast(line: string, kind: SendKind = "signal"): void {
    for (const c of this.clients) if (c.operational) c.send(line, kind);
  }

  // ---- child lifecycle ----

  /** The child process is up: run the one handshake of this child session. */
  childStarted(): void {
    this.handshake.childStarted();
    this.pump();
  }

  childReady(): void {
    this.applyLogLevel();
    if (this.handshake.modern) childListensReady(this);
    this.subscriptions.resubscribe();
  }

  /** The child is gone. Fail everything it owed; keep client sessions for the next child. */
  childGone(reason: string, next: ChildState): void {
    const wasReady = this.state === "ready";
    this.state = next;
    if (next === "failed") this.failReason = reason;
    this.handshake.childGone();
    this.childLogLevel = undefined;
    for (const p of this.pending.all()) {
      this.dropPending(p);
      if (p.onResponse && !p.client) p.onResponse(syntheticError(RpcErrorCode.ServerExited, reason));
      else if (p.onResponse) p.onResponse(syntheticError(RpcErrorCode.ServerExited, `MCP server exited: ${reason}`));
      else p.reply(errorLine(p.rawId, RpcErrorCode.ServerExited, `MCP server exited before answering: ${reason}`));
    }
    this.progress.clear();
    this.tasks.clear();
    this.pending.clearListens();
    this.serverRequests.childGone(this.clients);
    this.subscriptions.childGone();
    if (next === "failed" || next === "stopped") this.refuseWaiting(next);
    if (wasReady) this.logger.info(`server gone: ${reason}`);
    this.host.changed();
  }

  /** Mark the service failed for good (spawn impossible, restart limit reached). */
  fail(reason: string): void {
    this.childGone(reason, "failed");
  }

  /** Answer everything still open: the mux is shutting down. */
  shutdown(): void {
    this.closing = true;
    for (const p of this.pending.all()) {
      this.dropPending(p);
      if (p.onResponse) p.onResponse(syntheticError(RpcErrorCode.ShuttingDown, "mcp-mux is shutting down"));
      else p.reply(shuttingDown(p.rawId));
    }
    this.pending.stop();
    clearTimeout(this.rootsTimer);
    this.refuseWaiting("stopped");
  }

  applyLogLevel(): void {
    const caps = this.initResult?.capabilities;
    if (this.state !== "ready" || !isObject(caps) || !("logging" in caps) || this.handshake.modern) return;
    const levels = [...this.clients].filter((c) => c.initialized).map((c) => c.logLevel);
    const want = effectiveLevel(levels, this.childLogLevel);
    if (want === undefined || want === this.childLogLevel) return;
    this.childLogLevel = want;
    this.request("logging/setLevel", { level: want }, (msg) => {
      if (msg.error) this.logger.warn(`server rejected logging/setLevel ${want}: ${msg.error.message}`);
    });
  }

  rootsChanged(): void {
    if (this.options.rootsPolicy === "none" || this.rootsTimer || this.handshake.modern) return;
    this.rootsTimer = setTimeout(() => {
      this.rootsTimer = undefined;
      if (this.state === "ready") this.host.writeChild('{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}');
    }, 50);
  }

  /** Forward held requests that may go now (only pings while the handshake waits for a client). */
  pump(): void {
    if (this.state === "ready") this.slots.pump();
    else if (this.state === "waiting") this.slots.pump((h) => h.msg.method === "ping");
    this.host.changed();
  }

  failedError(rawId: string): string {
    return failedError(rawId, this.failReason);
  }

  // --- internal ---

  private refuseWaiting(state: ChildState): void {
    const line = (rawId: string): string => (state === "failed" ? this.failedError(rawId) : shuttingDown(rawId));
    this.slots.refuseAll(line);
    this.handshake.refuseAll(line);
  }

  private timedOut(p: Pending): void {
    if (!this.pending.has(p.muxId)) return;
    this.dropPending(p);
    this.cancelAtChild(p.muxId, "request timed out in mcp-mux");
    if (p.onResponse) p.onResponse(syntheticError(RpcErrorCode.RequestTimeout, "request timed out"));
    else p.reply(timeoutError(p.rawId, this.options.requestTimeoutMs, ""));
    this.host.changed();
  }
}

// --- internal ---

/** Requests that stay open by design and are exempt from the request timeout. */
const LONG_LIVED_METHODS = new Set(["subscriptions/listen"]);
