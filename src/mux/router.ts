/**
 * The router of one service: id rewriting, the pending map, active-client slots, request
 * timeouts and the child handshake. Per-method behaviour lives in `rules.ts` as tables; this
 * file is the machinery those rules use.
 * @module
 */

import { type JsonObject, parseMessage, type RequestMessage, type ResponseMessage } from "../protocol/message.ts";
import { errorLine, type RpcErrorBody, RpcErrorCode, resultLine } from "../protocol/rpc-error.ts";
import { fastIdSpan, type Span, scanObject, spanAt, splice } from "../protocol/scan.ts";
import { LATEST_VERSION } from "../protocol/versions.ts";
import { effectiveLevel } from "./levels.ts";
import type { MuxLogger } from "./logger.ts";
import type { RootsPolicy } from "./roots.ts";
import { childNotificationRules, childRequestRules, clientNotificationRules, clientRequestRules } from "./rules.ts";
import { type ClientSession, idKey } from "./session.ts";

/** Lifecycle state of the service's child, as reported in status. */
export type ChildState = "lazy" | "starting" | "initializing" | "ready" | "restarting" | "failed" | "stopped";

/** Policy for a server→client request when several clients could have caused it. */
export type AmbiguousRoute = "error" | "most-recent";

/** What the router needs from its service. */
export interface RouterHost {
  writeChild(line: string): boolean;
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
  rootsPolicy: RootsPolicy;
  ambiguousRoute: AmbiguousRoute;
  clientInfo: { name: string; version: string };
  logger: MuxLogger;
}

/** Where an answer to one client request goes (the client, or a batch being collected). */
export type Reply = (line: string) => void;

/** A request the mux sent to the child and is waiting on. */
export interface Pending {
  muxId: number;
  method: string;
  /** Null for the mux's own requests. */
  session: ClientSession | null;
  rawId: string;
  key: string;
  reply: Reply;
  progressToken?: number;
  /** `performance.now()` time at which the request times out (none for long-lived requests). */
  deadline?: number;
  /** Custom handling of the child's answer (the default splices the client's id back). */
  onResponse?: (msg: ResponseMessage) => void;
}

/** Clients subscribed to one URI; `waiters` are later subscribers waiting for the first subscribe. */
export interface Subscription {
  sessions: Set<ClientSession>;
  confirmed: boolean;
  waiters: ((error?: RpcErrorBody) => void)[];
}

/** A client request waiting for the child to be ready or for an active-client slot. */
interface Held {
  session: ClientSession;
  msg: RequestMessage;
  reply: Reply;
  timer: ReturnType<typeof setTimeout>;
  run: () => void;
}

/** The routing core of one service. */
export class Router {
  state: ChildState = "starting";
  failReason: string | undefined;
  readonly sessions = new Set<ClientSession>();
  readonly pending = new Map<number, Pending>();
  /** Progress tokens given to the child: mux token → owner and the original token text. */
  readonly progress = new Map<number, { session: ClientSession; rawToken: string }>();
  /** URI → subscribed clients; `confirmed` once the child accepted the subscription. */
  readonly subscriptions = new Map<string, Subscription>();
  /** The child's server→client requests open on a client: child id key → owner. */
  readonly childRequests = new Map<string, { session: ClientSession; muxKey: string }>();
  readonly elicitationOwners = new Map<string, ClientSession>();
  readonly taskOwners = new Map<string, ClientSession>();
  /** Progress tokens kept alive by tasks until they are terminal: task id → mux token. */
  readonly taskTokens = new Map<string, number>();
  /** Open `subscriptions/listen` requests (2026-07-28): mux id → owner and its raw id. */
  readonly listens = new Map<number, { session: ClientSession; rawId: string }>();
  initResult: JsonObject | undefined;
  previousInit: JsonObject | undefined;
  childLogLevel: string | undefined;
  initializing = false;
  closing = false;
  readonly options: RouterOptions;
  readonly host: RouterHost;
  readonly logger: MuxLogger;

  private nextMuxId = 1;
  private sweepTimer: ReturnType<typeof setTimeout> | undefined;
  private nextOutboundId = 1;
  private held: Held[] = [];
  private readonly active = new Set<ClientSession>();
  private readonly atChild = new Map<ClientSession, number>();
  private initWaiters: { session: ClientSession; msg: RequestMessage; reply: Reply }[] = [];

  constructor(options: RouterOptions, host: RouterHost) {
    this.options = options;
    this.host = host;
    this.logger = options.logger;
  }

  // ---- counts for status ----

  get activeClients(): number {
    return this.active.size;
  }
  get queued(): number {
    return this.held.length;
  }

  // ---- clients ----

  attach(session: ClientSession): void {
    this.sessions.add(session);
    this.host.changed();
  }

  /** A client went away: cancel its work at the child and release everything it held. */
  detach(session: ClientSession, reason: string): void {
    if (!this.sessions.delete(session)) return;
    this.logger.debug(`client ${session.id} disconnected: ${reason}`);
    for (const [key, muxId] of session.inflight) {
      session.inflight.delete(key);
      const p = this.pending.get(muxId);
      if (!p) continue;
      this.dropPending(p);
      this.cancelAtChild(muxId, "client disconnected");
    }
    this.held = this.held.filter((h) => {
      if (h.session !== session) return true;
      clearTimeout(h.timer);
      return false;
    });
    this.initWaiters = this.initWaiters.filter((w) => w.session !== session);
    for (const [muxKey, out] of session.outbound) {
      clearTimeout(out.timer);
      session.outbound.delete(muxKey);
      this.childRequests.delete(idKeyFromRaw(out.childRawId));
      if (out.childRawId) this.answerChildUnrouted(out.childRawId, out.method, "the client handling it disconnected");
    }
    for (const [id, owner] of this.elicitationOwners) if (owner === session) this.elicitationOwners.delete(id);
    for (const [id, owner] of this.taskOwners) if (owner === session) this.taskOwners.delete(id);
    for (const uri of session.subscriptions) this.unsubscribeAtChildIfLast(session, uri);
    session.subscriptions.clear();
    this.active.delete(session);
    this.atChild.delete(session);
    this.applyLogLevel();
    if (session.roots !== undefined) this.rootsChanged();
    this.pump();
    this.host.changed();
  }

  /** The client closed its sending side: answer what is in flight, then close. */
  clientEnded(session: ClientSession): void {
    session.ending = true;
    this.settled(session);
  }

  /** Close an ending client once nothing is left in flight for it. */
  settled(session: ClientSession): void {
    if (session.ending && session.inflight.size === 0 && !session.closed) session.close("client finished");
  }

  /** One line from a client. */
  clientLine(session: ClientSession, text: string, reply: Reply = (l) => session.send(l)): void {
    const msg = parseMessage(text);
    switch (msg.kind) {
      case "parse-error":
        return reply(errorLine("null", RpcErrorCode.ParseError, `Parse error: ${msg.reason}`));
      case "invalid":
        return reply(errorLine(msg.rawId, RpcErrorCode.InvalidRequest, `Invalid Request: ${msg.reason}`));
      case "batch":
        return this.clientBatch(session, msg.text, msg.items);
      case "request": {
        if (this.closing) return reply(errorLine(msg.rawId, RpcErrorCode.ShuttingDown, "mcp-mux is shutting down"));
        const rule = clientRequestRules[msg.method];
        if (rule) return rule(this, session, msg, reply);
        if (!session.initialized && !KNOWN_CLIENT_METHODS.has(msg.method)) {
          return reply(
            errorLine(
              msg.rawId,
              RpcErrorCode.MethodNotFound,
              `Method not found: ${msg.method} (send initialize first)`,
            ),
          );
        }
        return this.submit(session, msg, reply);
      }
      case "notification": {
        const rule = clientNotificationRules[msg.method];
        if (rule) return rule(this, session, msg);
        if (session.initialized && this.state === "ready") this.host.writeChild(msg.text);
        return;
      }
      case "response":
        return this.clientResponse(session, msg);
    }
  }

  /** A client line over `max_request_bytes`: answer it if it was a request, drop it otherwise. */
  clientOversized(session: ClientSession, bytes: number, head: string, tail: string, limit: number): void {
    const rawId = guessRawId(head, tail);
    this.logger.warn(`client ${session.id}: dropped a ${bytes}-byte message (limit ${limit})`);
    if (rawId === undefined) return; // a notification (or unreadable): never answered
    session.send(
      errorLine(
        rawId,
        RpcErrorCode.MessageTooLarge,
        `Request too large: ${bytes} bytes exceeds the limit of ${limit} bytes`,
        {
          limit,
          size: bytes,
        },
      ),
    );
  }

  // ---- requests to the child ----

  /** The generic path of a client request: duplicate check, hold until ready and admitted, forward. */
  submit(session: ClientSession, msg: RequestMessage, reply: Reply, run?: () => void): void {
    const key = idKey(msg.id);
    if (session.inflight.has(key)) {
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
    const go = run ?? (() => this.forward(session, msg, reply));
    if (this.state === "ready" && this.admit(session)) return go();
    this.host.ensureChild();
    session.inflight.set(key, 0);
    const timer = setTimeout(() => {
      this.held = this.held.filter((h) => h.timer !== timer);
      session.inflight.delete(key);
      reply(this.timeoutError(msg.rawId, "while waiting for the server"));
      this.settled(session);
      this.host.changed();
    }, this.options.requestTimeoutMs);
    this.held.push({ session, msg, reply, timer, run: go });
    this.host.changed();
  }

  /** Send a client request to the child with a mux id (and a mux progress token). */
  forward(session: ClientSession, msg: RequestMessage, reply: Reply, onResponse?: Pending["onResponse"]): Pending {
    const longLived = LONG_LIVED_METHODS.has(msg.method);
    const muxId = this.nextMuxId++;
    const key = idKey(msg.id);
    const edits: [Span, string][] = [[msg.idSpan, String(muxId)]];
    const p: Pending = { muxId, method: msg.method, session, rawId: msg.rawId, key, reply, onResponse };
    const token = (msg.params?._meta as JsonObject | undefined)?.progressToken;
    if (typeof token === "string" || typeof token === "number") {
      const span = spanAt(msg.text, ["params", "_meta", "progressToken"]);
      if (span) {
        edits.push([span, String(muxId)]);
        this.progress.set(muxId, { session, rawToken: msg.text.slice(span[0], span[1]) });
        p.progressToken = muxId;
      }
    }
    edits.sort((a, b) => b[0][0] - a[0][0]);
    let text = msg.text;
    for (const [span, value] of edits) text = splice(text, span, value);
    if (!longLived) {
      p.deadline = performance.now() + this.options.requestTimeoutMs;
      this.armSweep();
    } else this.listens.set(muxId, { session, rawId: msg.rawId });
    this.pending.set(muxId, p);
    session.inflight.set(key, muxId);
    session.lastRequestAt = Date.now();
    this.atChild.set(session, (this.atChild.get(session) ?? 0) + 1);
    this.active.add(session);
    this.host.writeChild(text);
    this.host.changed();
    return p;
  }

  /** A request of the mux itself to the child. */
  request(method: string, params: JsonObject | undefined, onResponse: (msg: ResponseMessage) => void): void {
    const muxId = this.nextMuxId++;
    const p: Pending = { muxId, method, session: null, rawId: String(muxId), key: "", reply: () => {}, onResponse };
    p.deadline = performance.now() + this.options.requestTimeoutMs;
    this.pending.set(muxId, p);
    this.armSweep();
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
  cancelHeld(session: ClientSession, key: string): void {
    this.held = this.held.filter((h) => {
      if (h.session !== session || idKey(h.msg.id) !== key) return true;
      clearTimeout(h.timer);
      return false;
    });
    session.inflight.delete(key);
    this.host.changed();
  }

  /** Forget a pending entry without answering it (cancel, disconnect). */
  dropPending(p: Pending): void {
    this.pending.delete(p.muxId);
    this.listens.delete(p.muxId);
    if (p.progressToken !== undefined) this.progress.delete(p.progressToken);
    if (p.session) {
      p.session.inflight.delete(p.key);
      this.releaseSlot(p.session);
      queueMicrotask(() => this.settled(p.session as ClientSession));
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
    const spans = scanObject(text);
    if (!spans) {
      if (text.trimStart().startsWith("[")) return this.childBatch(text);
      this.logger.warn(`server wrote a non-JSON-RPC line to stdout (ignored): ${text.slice(0, 200)}`);
      return;
    }
    if (spans.keys.has("method")) {
      const msg = parseMessage(text);
      if (msg.kind === "request") {
        const rule = childRequestRules[msg.method];
        if (rule) return rule(this, msg);
        this.host.writeChild(errorLine(msg.rawId, RpcErrorCode.MethodNotFound, `Method not found: ${msg.method}`));
        return;
      }
      if (msg.kind === "notification") {
        if (this.listens.size > 0 && this.routeListenNotification(msg.text, msg.params)) return;
        const rule = childNotificationRules[msg.method];
        if (rule) return rule(this, msg);
        return this.broadcast(msg.text);
      }
      this.logger.warn(`server sent an invalid message (ignored): ${text.slice(0, 200)}`);
      return;
    }
    const idSpan = spans.keys.get("id");
    if (!idSpan) {
      if (spans.keys.has("error")) this.logger.warn(`server reported an error: ${text.slice(0, 300)}`);
      return;
    }
    this.childResponse(text, idSpan, spans.keys.has("error"));
  }

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
    if (p.onResponse) {
      const msg = parseMessage(text);
      if (p.session) {
        p.session.inflight.delete(p.key);
        this.releaseSlot(p.session);
      }
      if (msg.kind === "response") p.onResponse(msg);
      if (p.session) this.settled(p.session);
      return;
    }
    // Task results and URL-elicitation errors are rare: only then is the message scanned.
    const mayCreateTask = !isError && p.method === "tools/call" && text.includes('"taskId"');
    const resultSpan = mayCreateTask ? scanObject(text)?.keys.get("result") : undefined;
    if (p.progressToken !== undefined && !(resultSpan && isTaskCreation(p.method, text, resultSpan))) {
      this.progress.delete(p.progressToken);
    }
    const session = p.session as ClientSession;
    session.inflight.delete(p.key);
    if (isError && text.includes("-32042")) {
      const errorSpan = scanObject(text)?.keys.get("error");
      if (errorSpan) this.noteErrorData(session, text, errorSpan);
    } else if (resultSpan) this.noteTaskResult(session, text, resultSpan, p.progressToken);
    p.reply(splice(text, idSpan, p.rawId));
    this.releaseSlot(session);
    this.settled(session);
    this.host.changed();
  }

  /** Send a line to every operational client. */
  broadcast(line: string): void {
    for (const s of this.sessions) if (s.operational) s.send(line);
  }

  // ---- server→client requests ----

  /** Send a child request to one client under a mux-owned id; its answer goes back with the child's id. */
  sendToClient(session: ClientSession, msg: RequestMessage, elicitationId?: string): void {
    const muxKeyText = `"mux-${this.nextOutboundId++}"`;
    const muxKey = idKeyFromRaw(muxKeyText);
    const timer = setTimeout(() => {
      session.outbound.delete(muxKey);
      this.childRequests.delete(idKeyFromRaw(msg.rawId));
      session.send(
        JSON.stringify({
          jsonrpc: "2.0",
          method: "notifications/cancelled",
          params: { requestId: JSON.parse(muxKeyText), reason: "timed out in mcp-mux" },
        }),
      );
      this.answerChildUnrouted(msg.rawId, msg.method, "the client did not answer in time");
    }, this.options.requestTimeoutMs);
    session.outbound.set(muxKey, { childRawId: msg.rawId, method: msg.method, elicitationId, timer });
    this.childRequests.set(idKeyFromRaw(msg.rawId), { session, muxKey });
    if (elicitationId !== undefined) this.elicitationOwners.set(elicitationId, session);
    session.send(splice(msg.text, msg.idSpan, muxKeyText));
  }

  /** Ask a client something on the mux's own behalf (e.g. its roots). */
  askClient(session: ClientSession, method: string, onAnswer: (msg: ResponseMessage) => void): void {
    const muxKeyText = `"mux-${this.nextOutboundId++}"`;
    const muxKey = idKeyFromRaw(muxKeyText);
    const timer = setTimeout(() => {
      if (session.outbound.delete(muxKey)) onAnswer(syntheticError(RpcErrorCode.RequestTimeout, `${method} timed out`));
    }, this.options.requestTimeoutMs);
    session.outbound.set(muxKey, { childRawId: "", method, timer });
    this.ownQuestions.set(muxKey, onAnswer);
    session.send(`{"jsonrpc":"2.0","id":${muxKeyText},"method":${JSON.stringify(method)}}`);
  }

  /** Answer the child's request with the error a refusing client would give. */
  answerChildUnrouted(childRawId: string, method: string, why: string): void {
    if (this.state !== "ready") return;
    if (method === "elicitation/create") {
      this.host.writeChild(resultLine(childRawId, { action: "cancel" }));
      return;
    }
    this.host.writeChild(errorLine(childRawId, RpcErrorCode.NoRoute, `mcp-mux could not route ${method}: ${why}`));
  }

  // ---- handshake and child lifecycle ----

  /** The child process is up: run the one handshake of this child session. */
  childStarted(): void {
    this.state = "initializing";
    this.initializing = true;
    this.host.changed();
    this.request("initialize", this.initializeParams(), (msg) => {
      this.initializing = false;
      if (msg.error || !isObjectValue(msg.result)) {
        const why = msg.error ? `${msg.error.message} (${msg.error.code})` : "no result";
        this.logger.warn(`server rejected initialize: ${why}`);
        this.host.childUnusable(`initialize failed: ${why}`);
        return;
      }
      this.childReady(msg.result);
    });
  }

  /** The child is gone. Fail everything it owed; keep client sessions for the next child. */
  childGone(reason: string, next: ChildState): void {
    const wasReady = this.state === "ready";
    this.state = next;
    if (next === "failed") this.failReason = reason;
    if (this.initResult) this.previousInit = this.initResult;
    this.initResult = undefined;
    this.initializing = false;
    this.childLogLevel = undefined;
    for (const p of [...this.pending.values()]) {
      this.dropPending(p);
      if (p.onResponse && !p.session) p.onResponse(syntheticError(RpcErrorCode.ServerExited, reason));
      else if (p.onResponse) p.onResponse(syntheticError(RpcErrorCode.ServerExited, `MCP server exited: ${reason}`));
      else p.reply(errorLine(p.rawId, RpcErrorCode.ServerExited, `MCP server exited before answering: ${reason}`));
    }
    this.progress.clear();
    this.taskOwners.clear();
    this.taskTokens.clear();
    this.listens.clear();
    this.elicitationOwners.clear();
    this.childRequests.clear();
    for (const s of this.sessions) {
      for (const [muxKey, out] of s.outbound) {
        if (!out.childRawId) continue;
        clearTimeout(out.timer);
        s.outbound.delete(muxKey);
        s.send(
          JSON.stringify({
            jsonrpc: "2.0",
            method: "notifications/cancelled",
            params: { requestId: JSON.parse(muxKey.slice(1)), reason: "MCP server exited" },
          }),
        );
      }
    }
    for (const sub of this.subscriptions.values()) {
      sub.confirmed = false;
      for (const w of sub.waiters) w({ code: RpcErrorCode.ServerExited, message: "MCP server exited" });
      sub.waiters = [];
    }
    if (next === "failed" || next === "stopped") this.failHeld(next);
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
    this.failHeld("stopped");
  }

  /** Recompute the level the child should log at, and tell it when that changes. */
  applyLogLevel(): void {
    if (
      this.state !== "ready" ||
      !isObjectValue(this.initResult?.capabilities) ||
      !("logging" in (this.initResult.capabilities as JsonObject))
    )
      return;
    const levels = [...this.sessions].filter((s) => s.initialized).map((s) => s.logLevel);
    const want = effectiveLevel(levels, this.childLogLevel);
    if (want === undefined || want === this.childLogLevel) return;
    this.childLogLevel = want;
    this.request("logging/setLevel", { level: want }, (msg) => {
      if (msg.error) this.logger.warn(`server rejected logging/setLevel ${want}: ${msg.error.message}`);
    });
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
  unsubscribeAtChildIfLast(session: ClientSession, uri: string): void {
    const sub = this.subscriptions.get(uri);
    if (!sub) return;
    sub.sessions.delete(session);
    if (sub.sessions.size > 0) return;
    this.subscriptions.delete(uri);
    if (sub.confirmed && this.state === "ready") this.request("resources/unsubscribe", { uri }, () => {});
  }

  /** Questions the mux asked clients: mux id key → callback. */
  readonly ownQuestions = new Map<string, (msg: ResponseMessage) => void>();
  private rootsTimer: ReturnType<typeof setTimeout> | undefined;

  /** Client initialize waiting for the child handshake. */
  waitForInit(session: ClientSession, msg: RequestMessage, reply: Reply): void {
    if (this.state === "failed") return reply(this.failedError(msg.rawId));
    this.initWaiters.push({ session, msg, reply });
    this.host.ensureChild();
    const waiter = this.initWaiters[this.initWaiters.length - 1];
    setTimeout(() => {
      const i = this.initWaiters.indexOf(waiter as (typeof this.initWaiters)[number]);
      if (i < 0) return;
      this.initWaiters.splice(i, 1);
      reply(this.timeoutError(msg.rawId, "while the server was starting"));
    }, this.options.requestTimeoutMs);
  }

  /** The error for a request to a failed service. */
  failedError(rawId: string): string {
    return errorLine(
      rawId,
      RpcErrorCode.ServiceFailed,
      `MCP server unavailable: ${this.failReason ?? "service failed"}`,
    );
  }

  // --- internal ---

  private initializeParams(): JsonObject {
    const capabilities: JsonObject = { sampling: {}, elicitation: { form: {}, url: {} } };
    if (this.options.rootsPolicy !== "none") capabilities.roots = { listChanged: true };
    return { protocolVersion: LATEST_VERSION, capabilities, clientInfo: this.options.clientInfo };
  }

  private childReady(result: JsonObject): void {
    const previous = this.previousInit;
    this.initResult = result;
    this.host.writeChild('{"jsonrpc":"2.0","method":"notifications/initialized"}');
    this.state = "ready";
    this.logger.info(`server ready (protocol ${String(result.protocolVersion)})`);
    if (previous) this.afterRestart(previous, result);
    this.applyLogLevel();
    for (const [uri, sub] of this.subscriptions) {
      this.request("resources/subscribe", { uri }, (msg) => {
        sub.confirmed = !msg.error;
      });
    }
    const waiters = this.initWaiters;
    this.initWaiters = [];
    for (const w of waiters) clientRequestRules.initialize?.(this, w.session, w.msg, w.reply);
    this.pump();
    this.host.changed();
  }

  private afterRestart(previous: JsonObject, next: JsonObject): void {
    if (
      previous.protocolVersion !== next.protocolVersion ||
      capabilitiesShrank(previous.capabilities, next.capabilities)
    ) {
      this.logger.warn("restarted server is incompatible with the previous session; closing clients so they reconnect");
      for (const s of [...this.sessions])
        if (s.initialized) s.close("server restarted with a different protocol version");
      return;
    }
    const caps = (next.capabilities ?? {}) as JsonObject;
    for (const kind of ["tools", "prompts", "resources"]) {
      if (!isObjectValue(caps[kind])) continue;
      this.broadcast(`{"jsonrpc":"2.0","method":"notifications/${kind}/list_changed"}`);
    }
  }

  private admit(session: ClientSession): boolean {
    return this.active.has(session) || this.active.size < this.options.maxActiveClients;
  }

  private releaseSlot(session: ClientSession): void {
    const left = (this.atChild.get(session) ?? 1) - 1;
    if (left > 0) {
      this.atChild.set(session, left);
      return;
    }
    this.atChild.delete(session);
    this.active.delete(session);
    this.pump();
  }

  /** Forward held requests, oldest first, that may go now. */
  private pump(): void {
    if (this.state !== "ready" || this.held.length === 0) return;
    const still: Held[] = [];
    for (const h of this.held) {
      if (h.session.closed) continue;
      if (this.state === "ready" && this.admit(h.session)) {
        clearTimeout(h.timer);
        h.session.inflight.delete(idKey(h.msg.id));
        h.run();
      } else still.push(h);
    }
    this.held = still;
    this.host.changed();
  }

  private failHeld(state: ChildState): void {
    const held = this.held;
    this.held = [];
    for (const h of held) {
      clearTimeout(h.timer);
      h.session.inflight.delete(idKey(h.msg.id));
      h.reply(
        state === "failed"
          ? this.failedError(h.msg.rawId)
          : errorLine(h.msg.rawId, RpcErrorCode.ShuttingDown, "mcp-mux is shutting down"),
      );
    }
    const waiters = this.initWaiters;
    this.initWaiters = [];
    for (const w of waiters)
      w.reply(
        state === "failed"
          ? this.failedError(w.msg.rawId)
          : errorLine(w.msg.rawId, RpcErrorCode.ShuttingDown, "mcp-mux is shutting down"),
      );
  }

  /**
   * One timer for all request deadlines: every request gets the same timeout, so the pending
   * map's insertion order is deadline order and only the oldest deadline needs a timer.
   */
  private armSweep(): void {
    if (this.sweepTimer) return;
    for (const p of this.pending.values()) {
      if (p.deadline === undefined) continue;
      this.sweepTimer = setTimeout(() => this.sweep(), Math.max(0, p.deadline - performance.now()) + 1);
      return;
    }
  }

  private sweep(): void {
    this.sweepTimer = undefined;
    const now = performance.now();
    const expired: Pending[] = [];
    for (const p of this.pending.values()) {
      if (p.deadline === undefined) continue;
      if (p.deadline > now) break;
      expired.push(p);
    }
    for (const p of expired) this.timedOut(p);
    this.armSweep();
  }

  private timedOut(p: Pending): void {
    if (!this.pending.has(p.muxId)) return;
    this.dropPending(p);
    this.cancelAtChild(p.muxId, "request timed out in mcp-mux");
    const line = this.timeoutError(p.rawId, "");
    if (p.onResponse) p.onResponse(syntheticError(RpcErrorCode.RequestTimeout, "request timed out"));
    else p.reply(line);
    this.host.changed();
  }

  private timeoutError(rawId: string, context: string): string {
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

  private clientResponse(session: ClientSession, msg: ResponseMessage): void {
    const muxKey = idKey(msg.id);
    const out = session.outbound.get(muxKey);
    if (!out) {
      this.logger.debug(`client ${session.id}: dropped a response for an id it was never sent`);
      return;
    }
    session.outbound.delete(muxKey);
    clearTimeout(out.timer);
    const own = this.ownQuestions.get(muxKey);
    if (own) {
      this.ownQuestions.delete(muxKey);
      own(msg);
      return;
    }
    this.childRequests.delete(idKeyFromRaw(out.childRawId));
    if (!msg.idSpan || this.state !== "ready") return;
    this.host.writeChild(splice(msg.text, msg.idSpan, out.childRawId));
  }

  private clientBatch(session: ClientSession, text: string, items: readonly Span[]): void {
    if (items.length === 0) {
      session.send(errorLine("null", RpcErrorCode.InvalidRequest, "Invalid Request: empty batch"));
      return;
    }
    const answers: string[] = [];
    let expected = 0;
    let sealed = false;
    const finish = (): void => {
      if (sealed && answers.length === expected && expected > 0) session.send(`[${answers.join(",")}]`);
    };
    for (const [start, end] of items) {
      const part = text.slice(start, end);
      const before = expected;
      const probe = parseMessage(part);
      if (probe.kind === "request" && probe.method === "initialize") {
        expected++;
        answers.push(
          errorLine(probe.rawId, RpcErrorCode.InvalidRequest, "Invalid Request: initialize must not be batched"),
        );
        continue;
      }
      if (probe.kind !== "notification" && probe.kind !== "response") expected++;
      if (before === expected) {
        this.clientLine(session, part);
        continue;
      }
      this.clientLine(session, part, (line) => {
        answers.push(line);
        finish();
      });
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
    if (span) listen.session.send(splice(text, span, listen.rawId));
    return true;
  }

  private childBatch(text: string): void {
    const msg = parseMessage(text);
    if (msg.kind !== "batch") return;
    for (const [start, end] of msg.items) this.childLine(text.slice(start, end));
  }

  private noteErrorData(session: ClientSession, text: string, span: Span): void {
    try {
      const err = JSON.parse(text.slice(span[0], span[1])) as { code?: number; data?: { elicitations?: unknown[] } };
      if (err.code !== -32042) return;
      for (const e of err.data?.elicitations ?? []) {
        const id = (e as JsonObject).elicitationId;
        if (typeof id === "string") this.elicitationOwners.set(id, session);
      }
    } catch {}
  }

  private noteTaskResult(session: ClientSession, text: string, span: Span | undefined, token?: number): void {
    if (!span) return;
    const taskSpan = spanAt(text, ["task", "taskId"], span[0]);
    if (!taskSpan) return;
    const taskId = JSON.parse(text.slice(taskSpan[0], taskSpan[1])) as unknown;
    if (typeof taskId !== "string") return;
    this.taskOwners.set(taskId, session);
    if (token !== undefined) this.taskTokens.set(taskId, token);
  }

  /** A task reached a terminal status: release the progress token it kept alive. */
  taskTerminal(taskId: string): void {
    const token = this.taskTokens.get(taskId);
    if (token === undefined) return;
    this.taskTokens.delete(taskId);
    this.progress.delete(token);
  }
}

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

// --- internal ---

/** Map key of an id given as raw JSON text. */
export function idKeyFromRaw(raw: string): string {
  try {
    return idKey(JSON.parse(raw));
  } catch {
    return `r${raw}`;
  }
}

function syntheticError(code: number, message: string): ResponseMessage {
  return {
    kind: "response",
    text: "",
    id: null,
    rawId: "null",
    idSpan: undefined,
    result: undefined,
    error: { code, message },
  };
}

function isObjectValue(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function capabilitiesShrank(before: unknown, after: unknown): boolean {
  if (!isObjectValue(before)) return false;
  if (!isObjectValue(after)) return true;
  return Object.keys(before).some((k) => !(k in after));
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
