/**
 * The router of one child: id rewriting, the pending map, server→client requests and the
 * child's lines. Per-method behaviour lives in `rules.ts` as tables; the handshake, the
 * active-client slots and the deadlines are units of their own (`handshake.ts`, `slots.ts`,
 * `deadlines.ts`). A client is a `MuxClient`, whatever transport it came through.
 * @module
 */

import { decodeSpan, scanJsonBytes } from "../protocol/json-bytes.ts";
import {
  idKeyOf,
  isObject,
  type JsonObject,
  type Message,
  parseMessage,
  parseMessageBytes,
  type RequestMessage,
  type ResponseMessage,
  type WireLine,
} from "../protocol/message.ts";
import { errorLine, type RpcErrorBody, RpcErrorCode } from "../protocol/rpc-error.ts";
import { fastIdSpan, type Span, scanObject, spanAt, splice } from "../protocol/scan.ts";
import type { MuxClient, SendKind } from "./client.ts";
import { Deadlines } from "./deadlines.ts";
import { type ChildCapabilities, Handshake } from "./handshake.ts";
import { effectiveLevel } from "./levels.ts";
import type { MuxLogger } from "./logger.ts";
import type { RootsPolicy } from "./roots.ts";
import { childNotificationRules, childRequestRules, clientNotificationRules, clientRequestRules } from "./rules.ts";
import { Slots } from "./slots.ts";

/** The code's text as it appears in an error line (a quick test before the error is parsed). */
const URL_ELICITATION_CODE = String(RpcErrorCode.UrlElicitationRequired);

/** Lifecycle state of a child, as reported in status (`waiting`: up, initialized at the first client). */
export type ChildState =
  | "lazy"
  | "starting"
  | "waiting"
  | "initializing"
  | "ready"
  | "restarting"
  | "failed"
  | "stopped";

/** Policy for a server→client request when several clients could have caused it. */
export type AmbiguousRoute = "error" | "most-recent";

/** What the router needs from its engine. */
export interface RouterHost {
  writeChild(line: WireLine): boolean;
  /** Start the child if it is not running (lazy start). */
  ensureChild(): void;
  /** The child answered initialize with an error or not at all: restart it. */
  childUnusable(reason: string): void;
  /** Something visible in status changed. */
  changed(): void;
  /** The status snapshot, for `mcp-mux/status`. */
  status(): unknown;
}

/** Router settings. */
export interface RouterOptions {
  requestTimeoutMs: number;
  maxActiveClients: number;
  /** Client requests at the child at once (0: no limit). */
  maxConcurrentRequests: number;
  rootsPolicy: RootsPolicy;
  ambiguousRoute: AmbiguousRoute;
  childCapabilities: ChildCapabilities;
  clientInfo: { name: string; version: string };
  logger: MuxLogger;
}

/** Where an answer to one client request goes (the client, or a batch being collected). */
export type Reply = (line: WireLine) => void;

/** A request the mux sent to the child and is waiting on. */
export interface Pending {
  muxId: number;
  method: string;
  /** Null for the mux's own requests. */
  client: MuxClient | null;
  rawId: string;
  key: string;
  reply: Reply;
  progressToken?: number;
  /** `performance.now()` time at which the request times out (none for long-lived requests). */
  deadline?: number;
  /** Custom handling of the child's answer (the default splices the client's id back). */
  onResponse?: (msg: ResponseMessage) => void;
  /** It counts against `maxConcurrentRequests`. */
  counted?: boolean;
}

/** Clients subscribed to one URI; `waiters` are later subscribers waiting for the first subscribe. */
export interface Subscription {
  clients: Set<MuxClient>;
  confirmed: boolean;
  waiters: ((error?: RpcErrorBody) => void)[];
}

/** The routing core of one child. */
export class Router {
  state: ChildState = "starting";
  failReason: string | undefined;
  readonly clients = new Set<MuxClient>();
  readonly pending = new Map<number, Pending>();
  /** Progress tokens given to the child: mux token → owner, the original token text, its request key. */
  readonly progress = new Map<number, { client: MuxClient; rawToken: string; key: string }>();
  /** URI → subscribed clients; `confirmed` once the child accepted the subscription. */
  readonly subscriptions = new Map<string, Subscription>();
  /** The child's server→client requests open on a client: child id key → owner. */
  readonly childRequests = new Map<string, { client: MuxClient; muxKey: string }>();
  readonly elicitationOwners = new Map<string, MuxClient>();
  readonly taskOwners = new Map<string, MuxClient>();
  /** Progress tokens kept alive by tasks until they are terminal: task id → mux token. */
  readonly taskTokens = new Map<string, number>();
  /** Open `subscriptions/listen` requests (2026-07-28): mux id → owner and its raw id. */
  readonly listens = new Map<number, { client: MuxClient; rawId: string }>();
  /** Questions the mux asked clients: mux id key → callback. */
  readonly ownQuestions = new Map<string, (msg: ResponseMessage) => void>();
  childLogLevel: string | undefined;
  closing = false;
  readonly options: RouterOptions;
  readonly host: RouterHost;
  readonly logger: MuxLogger;
  readonly handshake: Handshake;
  readonly slots: Slots;

  private readonly deadlines: Deadlines<Pending>;
  private nextMuxId = 1;
  private nextOutboundId = 1;
  /** Client requests sent to the child so far. */
  requestsForwarded = 0;
  private rootsTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: RouterOptions, host: RouterHost) {
    this.options = options;
    this.host = host;
    this.logger = options.logger;
    this.handshake = new Handshake(this);
    this.slots = new Slots(options.maxActiveClients, options.maxConcurrentRequests);
    this.deadlines = new Deadlines(this.pending, (p) => this.timedOut(p));
  }

  /** The child's cached initialize result. */
  get initResult(): JsonObject | undefined {
    return this.handshake.result;
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
    for (const [muxKey, out] of client.outbound) {
      clearTimeout(out.timer);
      client.outbound.delete(muxKey);
      this.ownQuestions.delete(muxKey);
      if (!out.childRawId) continue;
      this.childRequests.delete(idKeyOf(out.childRawId));
      this.answerChildUnrouted(out.childRawId, out.method, "the client handling it disconnected");
    }
    for (const [id, owner] of this.elicitationOwners) if (owner === client) this.elicitationOwners.delete(id);
    for (const [id, owner] of this.taskOwners) if (owner === client) this.taskOwners.delete(id);
    for (const uri of client.subscriptions) this.unsubscribeAtChildIfLast(client, uri);
    client.subscriptions.clear();
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

  /** Something of the client's was answered or released: close an ending client, wake its reader. */
  settled(client: MuxClient): void {
    if (client.ending && client.inflight.size === 0 && !client.closed) client.close("client finished");
    else client.wake();
  }

  /** One line from a client (text, or the bytes of a big one). */
  clientLine(client: MuxClient, line: string | Uint8Array): void {
    const msg = typeof line === "string" ? parseMessage(line) : parseMessageBytes(line);
    if (msg.kind === "batch") return this.clientBatch(client, msg.items);
    this.clientMessage(client, msg, undefined);
  }

  /** One parsed message from a client; `reply` collects answers of a batch element. */
  clientMessage(client: MuxClient, msg: Message, reply: Reply | undefined): void {
    const answer = reply ?? ((line: WireLine) => client.send(line, "response"));
    switch (msg.kind) {
      case "parse-error":
        return answer(errorLine("null", RpcErrorCode.ParseError, `Parse error: ${msg.reason}`));
      case "invalid":
        return answer(errorLine(msg.rawId, RpcErrorCode.InvalidRequest, `Invalid Request: ${msg.reason}`));
      case "batch":
        return answer(errorLine("null", RpcErrorCode.InvalidRequest, "Invalid Request: a batch inside a batch"));
      case "request": {
        const out = reply ?? ((line: WireLine) => client.send(line, "response", msg.key));
        if (client.refusal)
          return out(errorLine(msg.rawId, client.refusalCode ?? RpcErrorCode.EnvRefused, client.refusal));
        if (this.closing) return out(errorLine(msg.rawId, RpcErrorCode.ShuttingDown, "mcp-mux is shutting down"));
        const rule = clientRequestRules[msg.method];
        if (rule) return rule(this, client, msg, out);
        if (!client.initialized && !KNOWN_CLIENT_METHODS.has(msg.method)) {
          return out(
            errorLine(
              msg.rawId,
              RpcErrorCode.MethodNotFound,
              `Method not found: ${msg.method} (send initialize first)`,
            ),
          );
        }
        return this.submit(client, msg, out);
      }
      case "notification": {
        if (client.refusal) return;
        const rule = clientNotificationRules[msg.method];
        if (rule) return rule(this, client, msg);
        if (client.initialized && this.state === "ready") this.host.writeChild(msg.bytes ? [msg.bytes] : msg.text);
        return;
      }
      case "response":
        return this.clientResponse(client, msg);
    }
  }

  /** A client line over `max_request_bytes`: answer it if it was a request, drop it otherwise. */
  clientOversized(client: MuxClient, bytes: number, head: string, tail: string, limit: number): void {
    const rawId = guessRawId(head, tail);
    this.logger.warn(`client ${client.id}: dropped a ${bytes}-byte message (limit ${limit})`);
    if (rawId === undefined) return; // a notification (or unreadable): never answered
    client.send(
      errorLine(
        rawId,
        RpcErrorCode.MessageTooLarge,
        `Request too large: ${bytes} bytes exceeds the limit of ${limit} bytes`,
        {
          limit,
          size: bytes,
        },
      ),
      "response",
    );
  }

  // ---- requests to the child ----

  /** The generic path of a client request: duplicate check, hold until ready and admitted, forward. */
  submit(client: MuxClient, msg: RequestMessage, reply: Reply, run?: () => void): void {
    if (client.inflight.has(msg.key)) {
      return reply(
        errorLine(
          msg.rawId,
          RpcErrorCode.InvalidRequest,
          "Invalid Request: this id is already used by a request in flight",
        ),
      );
    }
    if (this.state === "failed") return reply(this.failedError(msg.rawId));
    if (this.closing) return reply(errorLine(msg.rawId, RpcErrorCode.ShuttingDown, "mcp-mux is shutting down"));
    const go = run ?? (() => this.forward(client, msg, reply));
    if (this.state === "ready" && this.slots.admits(client, msg.method)) return go();
    this.host.ensureChild();
    client.inflight.set(msg.key, 0);
    const timer = setTimeout(() => {
      if (!this.slots.expire(timer)) return;
      client.inflight.delete(msg.key);
      reply(this.timeoutError(msg.rawId, "while waiting for the server"));
      this.settled(client);
      this.host.changed();
    }, this.options.requestTimeoutMs);
    this.slots.hold({ client, msg, timer, run: go, refuse: reply });
    this.handshake.need(client);
    this.host.changed();
  }

  /** Send a client request to the child with a mux id (and a mux progress token). */
  forward(client: MuxClient, msg: RequestMessage, reply: Reply, onResponse?: Pending["onResponse"]): Pending {
    const muxId = this.nextMuxId++;
    const p: Pending = { muxId, method: msg.method, client, rawId: msg.rawId, key: msg.key, reply, onResponse };
    const token = msg.progressSpan;
    const edits: [Span, string][] = [[msg.idSpan, String(muxId)]];
    if (token) {
      const rawToken = msg.bytes ? decodeSpan(msg.bytes, token) : msg.text.slice(token[0], token[1]);
      this.progress.set(muxId, { client, rawToken, key: msg.key });
      p.progressToken = muxId;
      edits.push([token, String(muxId)]);
    }
    const text = msg.bytes ? spliceBytes(msg.bytes, edits) : spliceAll(msg.text, edits);
    if (LONG_LIVED_METHODS.has(msg.method)) this.listens.set(muxId, { client, rawId: msg.rawId });
    else p.deadline = performance.now() + this.options.requestTimeoutMs;
    this.pending.set(muxId, p);
    if (p.deadline !== undefined) this.deadlines.arm();
    client.inflight.set(msg.key, muxId);
    client.lastRequestAt = Date.now();
    this.requestsForwarded++;
    p.counted = this.slots.take(client, msg.method);
    this.host.writeChild(text);
    this.host.changed();
    return p;
  }

  /** A request of the mux itself to the child. */
  request(method: string, params: JsonObject | undefined, onResponse: (msg: ResponseMessage) => void): void {
    const muxId = this.nextMuxId++;
    const p: Pending = { muxId, method, client: null, rawId: String(muxId), key: "", reply: () => {}, onResponse };
    p.deadline = performance.now() + this.options.requestTimeoutMs;
    this.pending.set(muxId, p);
    this.deadlines.arm();
    const body =
      params === undefined ? { jsonrpc: "2.0", id: muxId, method } : { jsonrpc: "2.0", id: muxId, method, params };
    this.host.writeChild(JSON.stringify(body));
  }

  /** Tell the child to stop working on a request. */
  cancelAtChild(muxId: number, reason: string): void {
    if (this.state !== "ready") return;
    this.host.writeChild(
      JSON.stringify({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: muxId, reason } }),
    );
  }

  /** A held (not yet forwarded) request was cancelled by its client: forget it, answer nothing. */
  cancelHeld(client: MuxClient, key: string): void {
    this.slots.cancel(client, key);
    this.settled(client);
    this.host.changed();
  }

  /** Forget a pending entry without answering it (cancel, disconnect). */
  dropPending(p: Pending): void {
    this.pending.delete(p.muxId);
    this.listens.delete(p.muxId);
    if (p.progressToken !== undefined) this.progress.delete(p.progressToken);
    const client = p.client;
    if (client) {
      client.inflight.delete(p.key);
      if (this.slots.release(client, p.counted)) this.pump();
      queueMicrotask(() => this.settled(client));
    }
  }

  // ---- lines from the child ----

  /** One line from the child's stdout. */
  childLine(text: string): void {
    // Fast path: a response in an SDK layout needs no scan and no parse at all.
    const fastId = fastIdSpan(text);
    if (
      fastId &&
      (text.startsWith('{"result":') ||
        text.startsWith('{"error":') ||
        RESPONSE_AFTER_HEAD.test(text.slice(fastId[1], fastId[1] + 11)))
    ) {
      return this.childResponse(text, fastId, text.startsWith('{"error":') || text.startsWith(',"error":', fastId[1]));
    }
    const msg = parseMessage(text);
    switch (msg.kind) {
      case "request": {
        const rule = childRequestRules[msg.method];
        if (rule) return rule(this, msg);
        this.host.writeChild(errorLine(msg.rawId, RpcErrorCode.MethodNotFound, `Method not found: ${msg.method}`));
        return;
      }
      case "notification": {
        if (this.listens.size > 0 && this.routeListenNotification(msg.text, msg.params)) return;
        const rule = childNotificationRules[msg.method];
        if (rule) return rule(this, msg);
        return this.broadcast(msg.text);
      }
      case "response":
        if (msg.idSpan) return this.childResponse(text, msg.idSpan, msg.error !== undefined);
        if (msg.error) this.logger.warn(`server reported an error: ${text.slice(0, 300)}`);
        return;
      case "batch":
        for (const item of msg.items) if ("text" in item) this.childLine(item.text);
        return;
      default:
        this.logger.warn(`server wrote a non-JSON-RPC line to stdout (ignored): ${text.slice(0, 200)}`);
    }
  }

  /**
   * One big line from the child, as bytes: a plain response goes back to its client as views
   * of these bytes with the client's id spliced in (never decoded, never copied); anything
   * else takes the text path.
   */
  childBytes(bytes: Uint8Array): void {
    const scan = scanJsonBytes(bytes);
    if (!scan) {
      this.logger.warn(`server wrote a ${bytes.length}-byte line that is not JSON (ignored)`);
      return;
    }
    const members = new Map(scan.top.map((m) => [m.key, m.value]));
    const idSpan = members.get("id");
    const resultSpan = members.get("result");
    const p =
      idSpan && resultSpan && !members.has("method") ? this.pending.get(Number(decodeSpan(bytes, idSpan))) : undefined;
    const taskLike = resultSpan && scan.nested.get(resultSpan[0])?.some((m) => m.key === "task");
    if (!p?.client || p.onResponse || taskLike || members.size !== scan.top.length) {
      this.childLine(textDecoder.decode(bytes));
      return;
    }
    this.pending.delete(p.muxId);
    this.listens.delete(p.muxId);
    if (p.progressToken !== undefined) this.progress.delete(p.progressToken);
    const owner = p.client;
    owner.inflight.delete(p.key);
    p.reply(spliceBytes(bytes, [[idSpan as Span, p.rawId]]));
    if (this.slots.release(owner, p.counted)) this.pump();
    this.settled(owner);
    this.host.changed();
  }

  /** Send a line to every operational client. */
  broadcast(line: string, kind: SendKind = "signal"): void {
    for (const c of this.clients) if (c.operational) c.send(line, kind);
  }

  // ---- server→client requests ----

  /** Send a child request to one client under a mux-owned id; its answer goes back with the child's id. */
  sendToClient(client: MuxClient, msg: RequestMessage, elicitationId?: string, related?: string): void {
    const muxKeyText = `"mux-${this.nextOutboundId++}"`;
    const muxKey = idKeyOf(muxKeyText);
    const timer = setTimeout(() => {
      client.outbound.delete(muxKey);
      this.childRequests.delete(msg.key);
      client.send(
        JSON.stringify({
          jsonrpc: "2.0",
          method: "notifications/cancelled",
          params: { requestId: JSON.parse(muxKeyText), reason: "timed out in mcp-mux" },
        }),
        "request",
        related,
      );
      this.answerChildUnrouted(msg.rawId, msg.method, "the client did not answer in time");
    }, this.options.requestTimeoutMs);
    client.outbound.set(muxKey, { childRawId: msg.rawId, method: msg.method, elicitationId, timer });
    this.childRequests.set(msg.key, { client, muxKey });
    if (elicitationId !== undefined) this.elicitationOwners.set(elicitationId, client);
    client.send(splice(msg.text, msg.idSpan, muxKeyText), "request", related);
  }

  /** Ask a client something on the mux's own behalf (e.g. its roots). */
  askClient(client: MuxClient, method: string, onAnswer: (msg: ResponseMessage) => void): void {
    const muxKeyText = `"mux-${this.nextOutboundId++}"`;
    const muxKey = idKeyOf(muxKeyText);
    const timer = setTimeout(() => {
      this.ownQuestions.delete(muxKey);
      if (client.outbound.delete(muxKey)) onAnswer(syntheticError(RpcErrorCode.RequestTimeout, `${method} timed out`));
    }, this.options.requestTimeoutMs);
    client.outbound.set(muxKey, { childRawId: "", method, timer });
    this.ownQuestions.set(muxKey, onAnswer);
    client.send(`{"jsonrpc":"2.0","id":${muxKeyText},"method":${JSON.stringify(method)}}`, "request");
  }

  /**
   * Answer the child's request with an error: no client could take it. Never a made-up
   * result: a server must be able to tell "nobody was asked" from a user's cancel.
   */
  answerChildUnrouted(childRawId: string, method: string, why: string): void {
    if (this.state !== "ready") return;
    this.host.writeChild(errorLine(childRawId, RpcErrorCode.NoRoute, `mcp-mux could not route ${method}: ${why}`));
  }

  // ---- child lifecycle ----

  /** The child process is up: run the one handshake of this child session. */
  childStarted(): void {
    this.handshake.childStarted();
    this.pump();
  }

  /** The child is gone. Fail everything it owed; keep client sessions for the next child. */
  childGone(reason: string, next: ChildState): void {
    const wasReady = this.state === "ready";
    this.state = next;
    if (next === "failed") this.failReason = reason;
    this.handshake.childGone();
    this.childLogLevel = undefined;
    for (const p of [...this.pending.values()]) {
      this.dropPending(p);
      if (p.onResponse && !p.client) p.onResponse(syntheticError(RpcErrorCode.ServerExited, reason));
      else if (p.onResponse) p.onResponse(syntheticError(RpcErrorCode.ServerExited, `MCP server exited: ${reason}`));
      else p.reply(errorLine(p.rawId, RpcErrorCode.ServerExited, `MCP server exited before answering: ${reason}`));
    }
    this.progress.clear();
    this.taskOwners.clear();
    this.taskTokens.clear();
    this.listens.clear();
    this.elicitationOwners.clear();
    this.childRequests.clear();
    for (const c of this.clients) {
      for (const [muxKey, out] of c.outbound) {
        if (!out.childRawId) continue;
        clearTimeout(out.timer);
        c.outbound.delete(muxKey);
        c.send(
          JSON.stringify({
            jsonrpc: "2.0",
            method: "notifications/cancelled",
            params: { requestId: muxKey.slice(1), reason: "MCP server exited" },
          }),
          "request",
        );
      }
    }
    for (const sub of this.subscriptions.values()) {
      sub.confirmed = false;
      for (const w of sub.waiters) w({ code: RpcErrorCode.ServerExited, message: "MCP server exited" });
      sub.waiters = [];
    }
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
    for (const p of [...this.pending.values()]) {
      this.dropPending(p);
      if (p.onResponse) p.onResponse(syntheticError(RpcErrorCode.ShuttingDown, "mcp-mux is shutting down"));
      else p.reply(errorLine(p.rawId, RpcErrorCode.ShuttingDown, "mcp-mux is shutting down"));
    }
    this.deadlines.clear();
    clearTimeout(this.rootsTimer);
    this.refuseWaiting("stopped");
  }

  /** Recompute the level the child should log at, and tell it when that changes. */
  applyLogLevel(): void {
    const caps = this.initResult?.capabilities;
    if (this.state !== "ready" || !isObject(caps) || !("logging" in caps)) return;
    const levels = [...this.clients].filter((c) => c.initialized).map((c) => c.logLevel);
    const want = effectiveLevel(levels, this.childLogLevel);
    if (want === undefined || want === this.childLogLevel) return;
    this.childLogLevel = want;
    this.request("logging/setLevel", { level: want }, (msg) => {
      if (msg.error) this.logger.warn(`server rejected logging/setLevel ${want}: ${msg.error.message}`);
    });
  }

  /** Re-apply active subscriptions to a new child. */
  resubscribe(): void {
    for (const [uri, sub] of this.subscriptions) {
      this.request("resources/subscribe", { uri }, (msg) => {
        sub.confirmed = !msg.error;
      });
    }
  }

  /** Send the child `notifications/roots/list_changed` (debounced). */
  rootsChanged(): void {
    if (this.options.rootsPolicy === "none" || this.rootsTimer) return;
    this.rootsTimer = setTimeout(() => {
      this.rootsTimer = undefined;
      if (this.state === "ready") this.host.writeChild('{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}');
    }, 50);
  }

  /** The last client holding `uri` left: unsubscribe at the child. */
  unsubscribeAtChildIfLast(client: MuxClient, uri: string): void {
    const sub = this.subscriptions.get(uri);
    if (!sub) return;
    sub.clients.delete(client);
    if (sub.clients.size > 0) return;
    this.subscriptions.delete(uri);
    if (sub.confirmed && this.state === "ready") this.request("resources/unsubscribe", { uri }, () => {});
  }

  /** Answer a client's initialize from the cache (the child is ready). */
  answerInitialize(client: MuxClient, msg: RequestMessage, reply: Reply): void {
    clientRequestRules.initialize?.(this, client, msg, reply);
  }

  /** Forward held requests that may go now (only pings while the handshake waits for a client). */
  pump(): void {
    if (this.state === "ready") this.slots.pump();
    else if (this.state === "waiting") this.slots.pump((h) => h.msg.method === "ping");
    this.host.changed();
  }

  /** The error for a request to a failed service. */
  failedError(rawId: string): string {
    return errorLine(
      rawId,
      RpcErrorCode.ServiceFailed,
      `MCP server unavailable: ${this.failReason ?? "service failed"}`,
    );
  }

  /** The error for a request whose id is already in flight. */
  duplicateError(rawId: string): string {
    return errorLine(
      rawId,
      RpcErrorCode.InvalidRequest,
      "Invalid Request: this id is already used by a request in flight",
    );
  }

  /** The error for a request that ran out of time. */
  timeoutError(rawId: string, context: string): string {
    const ms = this.options.requestTimeoutMs;
    return errorLine(
      rawId,
      RpcErrorCode.RequestTimeout,
      `Request timed out after ${ms} ms${context ? ` ${context}` : ""}`,
      {
        timeoutMs: ms,
      },
    );
  }

  /** A task reached a terminal status: release the progress token it kept alive. */
  taskTerminal(taskId: string): void {
    const token = this.taskTokens.get(taskId);
    if (token === undefined) return;
    this.taskTokens.delete(taskId);
    this.progress.delete(token);
  }

  // --- internal ---

  /** A response from the child: give it back to its client with the client's own id. */
  private childResponse(text: string, idSpan: Span, isError: boolean): void {
    const idText = text.slice(idSpan[0], idSpan[1]);
    const muxId = Number(idText);
    const p = Number.isInteger(muxId) ? this.pending.get(muxId) : undefined;
    if (!p) {
      if (idText === "null" && isError) this.logger.warn(`server reported an error: ${text.slice(0, 300)}`);
      else this.logger.debug(`dropped a server response for unknown id ${idText.slice(0, 40)}`);
      return;
    }
    this.pending.delete(muxId);
    this.listens.delete(muxId);
    const client = p.client;
    if (p.onResponse) {
      const msg = parseMessage(text);
      if (p.progressToken !== undefined) this.progress.delete(p.progressToken);
      if (client) {
        client.inflight.delete(p.key);
        if (this.slots.release(client, p.counted)) this.pump();
      }
      if (msg.kind === "response") p.onResponse(msg);
      if (client) this.settled(client);
      return;
    }
    // Task results and URL-elicitation errors are rare: only then is the message scanned.
    const mayCreateTask = !isError && p.method === "tools/call" && text.includes('"taskId"');
    const resultSpan = mayCreateTask ? scanObject(text)?.keys.get("result") : undefined;
    if (p.progressToken !== undefined && !(resultSpan && isTaskCreation(p.method, text, resultSpan))) {
      this.progress.delete(p.progressToken);
    }
    const owner = client as MuxClient;
    owner.inflight.delete(p.key);
    if (isError && text.includes(URL_ELICITATION_CODE)) {
      const errorSpan = scanObject(text)?.keys.get("error");
      if (errorSpan) this.noteErrorData(owner, text, errorSpan);
    } else if (resultSpan) this.noteTaskResult(owner, text, resultSpan, p.progressToken);
    p.reply(splice(text, idSpan, p.rawId));
    if (this.slots.release(owner, p.counted)) this.pump();
    this.settled(owner);
    this.host.changed();
  }

  private refuseWaiting(state: ChildState): void {
    const line = (rawId: string): string =>
      state === "failed"
        ? this.failedError(rawId)
        : errorLine(rawId, RpcErrorCode.ShuttingDown, "mcp-mux is shutting down");
    this.slots.refuseAll(line);
    this.handshake.refuseAll(line);
  }

  private timedOut(p: Pending): void {
    if (!this.pending.has(p.muxId)) return;
    this.dropPending(p);
    this.cancelAtChild(p.muxId, "request timed out in mcp-mux");
    if (p.onResponse) p.onResponse(syntheticError(RpcErrorCode.RequestTimeout, "request timed out"));
    else p.reply(this.timeoutError(p.rawId, ""));
    this.host.changed();
  }

  private clientResponse(client: MuxClient, msg: ResponseMessage): void {
    const out = client.outbound.get(msg.key);
    if (!out) {
      this.logger.debug(`client ${client.id}: dropped a response for an id it was never sent`);
      return;
    }
    client.outbound.delete(msg.key);
    clearTimeout(out.timer);
    const own = this.ownQuestions.get(msg.key);
    if (own) {
      this.ownQuestions.delete(msg.key);
      own(msg);
      return;
    }
    this.childRequests.delete(idKeyOf(out.childRawId));
    client.wake();
    if (!msg.idSpan || this.state !== "ready") return;
    this.host.writeChild(splice(msg.text, msg.idSpan, out.childRawId));
  }

  /** A batch: each element routed on its own, the answers returned as one array. */
  private clientBatch(client: MuxClient, items: Message[]): void {
    if (items.length === 0) {
      client.send(errorLine("null", RpcErrorCode.InvalidRequest, "Invalid Request: empty batch"), "response");
      return;
    }
    const answers: string[] = [];
    let expected = 0;
    let sealed = false;
    const finish = (): void => {
      if (sealed && answers.length === expected && expected > 0) client.send(`[${answers.join(",")}]`, "response");
    };
    const collect: Reply = (line) => {
      answers.push(typeof line === "string" ? line : wireText(line));
      finish();
    };
    for (const item of items) {
      if (item.kind === "notification" || item.kind === "response") {
        this.clientMessage(client, item, undefined);
        continue;
      }
      expected++;
      if (item.kind === "request" && item.method === "initialize") {
        collect(errorLine(item.rawId, RpcErrorCode.InvalidRequest, "Invalid Request: initialize must not be batched"));
        continue;
      }
      this.clientMessage(client, item, collect);
    }
    sealed = true;
    finish();
  }

  /** 2026-07-28 `subscriptions/listen`: notifications carry the listen's id; give it back to its owner only. */
  private routeListenNotification(text: string, params: JsonObject | undefined): boolean {
    const meta = params?._meta as JsonObject | undefined;
    const id = meta?.[SUBSCRIPTION_ID_KEY];
    if (typeof id !== "number") return false;
    const listen = this.listens.get(id);
    if (!listen) return false;
    const span = spanAt(text, ["params", "_meta", SUBSCRIPTION_ID_KEY]);
    if (span) listen.client.send(splice(text, span, listen.rawId), "notification");
    return true;
  }

  private noteErrorData(client: MuxClient, text: string, span: Span): void {
    try {
      const err = JSON.parse(text.slice(span[0], span[1])) as { code?: number; data?: { elicitations?: unknown[] } };
      if (err.code !== RpcErrorCode.UrlElicitationRequired) return;
      for (const e of err.data?.elicitations ?? []) {
        const id = (e as JsonObject).elicitationId;
        if (typeof id === "string") this.elicitationOwners.set(id, client);
      }
    } catch {}
  }

  private noteTaskResult(client: MuxClient, text: string, span: Span | undefined, token?: number): void {
    if (!span) return;
    const taskSpan = spanAt(text, ["task", "taskId"], span[0]);
    if (!taskSpan) return;
    const taskId = JSON.parse(text.slice(taskSpan[0], taskSpan[1])) as unknown;
    if (typeof taskId !== "string") return;
    this.taskOwners.set(taskId, client);
    if (token !== undefined) this.taskTokens.set(taskId, token);
  }
}

// --- internal ---

/** After `{"jsonrpc":"2.0","id":N`: a response continues with `,"result":` or `,"error":`. */
const RESPONSE_AFTER_HEAD = /^,"(result|error)":/;

/** Requests that stay open by design and are exempt from the request timeout. */
const LONG_LIVED_METHODS = new Set(["subscriptions/listen"]);

/** The `_meta` key naming the listen request a 2026-07-28 notification belongs to. */
const SUBSCRIPTION_ID_KEY = "io.modelcontextprotocol/subscriptionId";

/** Known MCP client→server methods (forwarded even before the client's initialize). */
const KNOWN_CLIENT_METHODS = new Set([
  "completion/complete",
  "prompts/list",
  "prompts/get",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "tools/list",
  "tools/call",
]);

/** The text of a wire line given in pieces (only for the rare big answer inside a batch). */
function wireText(parts: readonly (string | Uint8Array)[]): string {
  return parts.map((p) => (typeof p === "string" ? p : textDecoder.decode(p))).join("");
}

const textDecoder = new TextDecoder();

/** Apply span edits (non-overlapping) to a text. */
function spliceAll(text: string, edits: [Span, string][]): string {
  let out = text;
  for (const [span, value] of [...edits].sort((a, b) => b[0][0] - a[0][0])) out = splice(out, span, value);
  return out;
}

/** Apply span edits to bytes without copying them: the pieces between edits are views. */
function spliceBytes(bytes: Uint8Array, edits: [Span, string][]): (string | Uint8Array)[] {
  const parts: (string | Uint8Array)[] = [];
  let at = 0;
  for (const [span, value] of [...edits].sort((a, b) => a[0][0] - b[0][0])) {
    parts.push(bytes.subarray(at, span[0]), value);
    at = span[1];
  }
  parts.push(bytes.subarray(at));
  return parts;
}

function syntheticError(code: number, message: string): ResponseMessage {
  return {
    kind: "response",
    text: "",
    id: null,
    rawId: "null",
    key: "",
    idSpan: undefined,
    result: undefined,
    error: { code, message },
  };
}

function isTaskCreation(method: string, text: string, result: Span | undefined): boolean {
  return method === "tools/call" && result !== undefined && spanAt(text, ["task", "taskId"], result[0]) !== null;
}

/**
 * Find the id of an oversized request from its first and last bytes (the SDK writes `id` last;
 * other clients write it first). Returns undefined for a notification, which is never answered,
 * and "null" for a request whose id could not be located.
 */
function guessRawId(head: string, tail: string): string | undefined {
  const value = String.raw`(-?\d+|"(?:[^"\\]|\\.)*")`;
  const fromTail = new RegExp(String.raw`"id"\s*:\s*${value}\s*\}\s*$`).exec(tail);
  if (fromTail) return fromTail[1];
  const fromHead = new RegExp(String.raw`^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*${value}`).exec(head);
  if (fromHead) return fromHead[1];
  return /"id"\s*:/.test(head) || /"id"\s*:/.test(tail) ? "null" : undefined;
}
