/**
 * A modern (2026-07-28) child behind the mux (`era = "modern"`, or `auto` once its
 * `server/discover` answered): it is never sent `initialize`; every request it gets carries an
 * envelope. Modern clients' requests pass through (ids rewritten, their own envelope, their
 * results and `input_required` rounds verbatim), `server/discover` is answered from the cached
 * `DiscoverResult`, tasks are owned by the principal whose call created them (protocol-2026
 * §1.10). Legacy clients (§3.4) get their capabilities, client info and log level sent as the
 * envelope of each request, results without the modern members, and the child's
 * `input_required` rounds turned into real questions to them, the child retried with the
 * answers and its own `requestState`. The mux holds one listen of its own on the child for
 * legacy clients: the list changes it may tell and the URIs they subscribed to.
 * @module
 */

import {
  isObject,
  type JsonObject,
  parseMessage,
  type RequestMessage,
  type ResponseMessage,
  wholeParams,
} from "../../protocol/message.ts";
import { errorLine, RpcErrorCode, resultLine } from "../../protocol/rpc-error.ts";
import { splice } from "../../protocol/scan.ts";
import { META, MODERN_VERSIONS } from "../../protocol/versions.ts";
import type { MuxClient } from "../client.ts";
import type { RoutingCore } from "../routing/core.ts";
import type { Reply } from "../routing/types.ts";
import { MRTR_METHODS, ownerOf } from "./bridge.ts";

/** The tasks extension's key (protocol-2026 §1.10). */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";

/** Hooks of the modern leg around a request's stay at the child (its envelope tracked for log lines). */
export interface ModernChildHooks {
  forwarded(): void;
  answered(): void;
}

/**
 * A modern client's request to a modern child (envelope already checked): `server/discover`
 * from the cache; `tasks/get|update|cancel` only for the extension's declarers and only on the
 * caller's own tasks; everything else forwarded as it came, the answer given back as it went.
 */
export function modernChildRequest(
  r: RoutingCore,
  s: MuxClient,
  msg: RequestMessage,
  capabilities: JsonObject,
  reply: Reply,
  hooks: ModernChildHooks,
): void {
  if (msg.method === "server/discover") {
    const answer = (): void => {
      const found = r.discovered;
      if (!found)
        return reply(errorLine(msg.rawId, RpcErrorCode.InternalError, "Internal error: the server is not ready"));
      reply(resultLine(msg.rawId, found));
    };
    if (r.discovered && (r.state === "ready" || r.state === "dormant")) return answer();
    return r.submit(s, msg, reply, answer);
  }
  if (TASK_METHODS.has(msg.method)) {
    if (!declaresTasks(capabilities)) return reply(tasksRequired(msg.rawId, msg.method));
    const taskId = msg.params?.taskId;
    if (typeof taskId !== "string" || stateOf(r).tasks.get(taskId)?.owner !== ownerOf(s))
      return reply(errorLine(msg.rawId, RpcErrorCode.InvalidParams, "Invalid params: unknown taskId"));
  }
  r.submit(s, msg, reply, () => {
    hooks.forwarded();
    if (msg.method !== "tools/call") {
      const p = r.forward(s, msg, reply);
      // A listen ends with its own answer; the other requests' envelopes go with theirs.
      if (!p.deadline) hooks.answered();
      return;
    }
    // The one answer read: a task it creates belongs to this caller.
    r.forward(s, msg, reply, (res) => {
      hooks.answered();
      const result = isObject(res.result) ? res.result : undefined;
      if (result?.resultType === "task" && typeof result.taskId === "string")
        noteTask(r, result.taskId, ownerOf(s), result.ttlMs);
      reply(res.idSpan ? splice(res.text, res.idSpan, msg.rawId) : errorLine(msg.rawId, -32603, "Internal error"));
    });
  });
}

/**
 * A legacy client's request to a modern child (protocol-2026 §3.4). `ping` is answered here;
 * anything else is sent with the client's envelope; the result loses `resultType`, `ttlMs` and
 * `cacheScope`; an `input_required` result becomes real questions to the client (bounded rounds).
 */
export function legacyChildRequest(r: RoutingCore, s: MuxClient, msg: RequestMessage, reply: Reply): void {
  if (msg.method === "ping") {
    if (r.state === "failed") return reply(r.failedError(msg.rawId));
    return reply(resultLine(msg.rawId, {}));
  }
  r.submit(s, msg, reply, () => send(r, s, msg, reply, undefined, 0));
}

/** The envelope of the mux's own requests to a modern child (lists, its listen). */
export function muxEnvelope(r: RoutingCore, params: JsonObject | undefined): JsonObject {
  const meta = isObject(params?._meta) ? params._meta : {};
  return {
    ...(params ?? {}),
    _meta: {
      ...meta,
      [META.protocolVersion]: MODERN_VERSIONS[0],
      [META.clientCapabilities]: {},
      [META.clientInfo]: r.options.clientInfo,
    },
  };
}

/**
 * The mux's `resources/subscribe`/`unsubscribe` (its legacy clients' subscriptions, ref-counted
 * by `routing/subscriptions.ts`) on a modern child, which has neither: the URI joins or leaves
 * the mux's own listen, which is issued again. Answered at once (true: handled).
 */
export function childSubscription(
  r: RoutingCore,
  method: string,
  params: JsonObject | undefined,
  onResponse: (msg: ResponseMessage) => void,
): boolean {
  if (method !== "resources/subscribe" && method !== "resources/unsubscribe") return false;
  const uri = params?.uri;
  if (typeof uri !== "string") return false;
  const st = stateOf(r);
  if (method === "resources/subscribe") st.uris.add(uri);
  else st.uris.delete(uri);
  scheduleListen(r);
  const ok = parseMessage('{"jsonrpc":"2.0","id":0,"result":{}}');
  if (ok.kind === "response") queueMicrotask(() => onResponse(ok));
  return true;
}

/** The mux's own listen is open at the child (a pending request of nobody's). */
export function muxListenOpen(r: RoutingCore): boolean {
  const id = states.get(r)?.listenId;
  return id !== undefined && id !== 0 && r.pending.get(id) !== undefined;
}

/** A modern child's task may still be running or be asked for (within its `ttlMs`, a day at most). */
export function tasksOpen(r: RoutingCore): boolean {
  const tasks = states.get(r)?.tasks;
  if (!tasks) return false;
  const now = Date.now();
  for (const [id, t] of tasks) {
    if (t.until > now) return true;
    tasks.delete(id);
  }
  return false;
}

/**
 * A legacy client cancelled request `key` while the mux was asking it the child's questions:
 * the request ends there (no retry goes to the child, nothing is answered). False when it was not.
 */
export function cancelAsking(r: RoutingCore, client: MuxClient, key: string): boolean {
  const mark = asking.get(client)?.get(key);
  if (!mark) return false;
  mark.cancelled = true;
  asking.get(client)?.delete(key);
  if (client.inflight.get(key) === ASKING) client.inflight.delete(key);
  r.settled(client);
  return true;
}

/** A modern child is ready: the mux's own listen (list changes for legacy clients) is opened. */
export function childListensReady(r: RoutingCore): void {
  const st = stateOf(r);
  st.listenId = 0; // the last child's listen went with it
  st.tasks.clear(); // and its tasks
  scheduleListen(r);
}

// --- internal ---

const TASK_METHODS = new Set(["tasks/get", "tasks/update", "tasks/cancel"]);

/** `input_required` rounds one legacy request may take (the ts-sdk shim's bound). */
const MAX_ROUNDS = 8;

/** Tasks of a modern child the mux remembers (the oldest forgotten first). */
const MAX_TASKS = 4096;

/** Questions one `input_required` round may put to a legacy client. */
const MAX_QUESTIONS = 16;

/** The in-flight mark of a legacy request between rounds (not at the child, not held). */
const ASKING = -1;

/** Per legacy client, its requests between rounds: id key → cancelled. */
const asking = new WeakMap<MuxClient, Map<string, { cancelled: boolean }>>();

/** The longest a modern child's task is remembered (`ttlMs: null`, or longer). */
const MAX_TASK_MS = 24 * 3600_000;

/** Members of a modern result a legacy client never sees. */
const MODERN_MEMBERS = ["resultType", "ttlMs", "cacheScope"];

interface ChildState {
  /** Task id → the principal whose call created it, and until when it may be asked for. */
  tasks: Map<string, { owner: string; until: number }>;
  /** URIs the mux's legacy clients subscribed to. */
  uris: Set<string>;
  /** The mux's own listen at the child (0: none). */
  listenId: number;
  scheduled: boolean;
}

const states = new WeakMap<RoutingCore, ChildState>();

function stateOf(r: RoutingCore): ChildState {
  let st = states.get(r);
  if (!st) {
    st = { tasks: new Map(), uris: new Set(), listenId: 0, scheduled: false };
    states.set(r, st);
  }
  return st;
}

function noteTask(r: RoutingCore, taskId: string, owner: string, ttlMs: unknown): void {
  const tasks = stateOf(r).tasks;
  const ttl = typeof ttlMs === "number" && ttlMs >= 0 ? Math.min(ttlMs, MAX_TASK_MS) : MAX_TASK_MS;
  tasks.delete(taskId);
  tasks.set(taskId, { owner, until: Date.now() + ttl });
  for (const k of tasks.keys()) {
    if (tasks.size <= MAX_TASKS) break;
    tasks.delete(k);
  }
}

function declaresTasks(caps: JsonObject): boolean {
  return isObject(caps.extensions) && isObject(caps.extensions[TASKS_EXTENSION]);
}

function tasksRequired(rawId: string, method: string): string {
  return errorLine(
    rawId,
    RpcErrorCode.MissingRequiredClientCapability,
    `Missing required client capability: extension ${TASKS_EXTENSION} (needed by ${method})`,
    { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
  );
}

/** (Re)issue the mux's own listen once this turn's subscription changes are in. */
function scheduleListen(r: RoutingCore): void {
  const st = stateOf(r);
  if (st.scheduled) return;
  st.scheduled = true;
  queueMicrotask(() => {
    st.scheduled = false;
    if (r.state !== "ready" || r.childEra !== "modern") return;
    const caps = isObject(r.discovered?.capabilities) ? r.discovered.capabilities : {};
    const can = (kind: string, what: string): boolean => isObject(caps[kind]) && caps[kind][what] === true;
    const notifications: JsonObject = {};
    if (can("tools", "listChanged")) notifications.toolsListChanged = true;
    if (can("prompts", "listChanged")) notifications.promptsListChanged = true;
    if (can("resources", "listChanged")) notifications.resourcesListChanged = true;
    if (can("resources", "subscribe") && st.uris.size > 0) notifications.resourceSubscriptions = [...st.uris];
    if (st.listenId) {
      const old = r.pending.get(st.listenId);
      if (old) r.pending.remove(old);
      r.cancelAtChild(st.listenId, "mcp-mux: subscriptions changed");
      st.listenId = 0;
    }
    if (Object.keys(notifications).length === 0) return;
    const id = r.request("subscriptions/listen", { notifications }, (res) => {
      if (st.listenId === id) st.listenId = 0;
      if (res.error) r.logger.warn(`server refused the mux's subscriptions/listen: ${res.error.message}`);
    });
    st.listenId = id;
  });
}

/** What a legacy client's capabilities are in a modern envelope (no legacy `tasks`, roots without `listChanged`). */
function modernCapabilities(caps: JsonObject): JsonObject {
  const out: JsonObject = { ...caps };
  delete out.tasks;
  if (isObject(out.roots)) out.roots = {};
  return out;
}

/** One legacy request sent to the child (again, for round `round`, with the answers and the child's state). */
function send(
  r: RoutingCore,
  s: MuxClient,
  msg: RequestMessage,
  reply: Reply,
  retry: { inputResponses: JsonObject; requestState?: unknown } | undefined,
  round: number,
): void {
  const out = withEnvelope(s, msg, retry);
  if (!out)
    return reply(
      errorLine(
        msg.rawId,
        RpcErrorCode.InvalidParams,
        "Invalid params: the request cannot be relayed (nested too deep)",
      ),
    );
  r.forward(s, out, reply, (res) => {
    if (res.error?.code === RpcErrorCode.MissingRequiredClientCapability && msg.method === "tools/call")
      return reply(
        resultLine(msg.rawId, { content: [{ type: "text", text: capabilityText(res.error) }], isError: true }),
      );
    if (res.error) return reply(errorLine(msg.rawId, res.error.code, res.error.message, res.error.data));
    const result: JsonObject = isObject(res.result) ? { ...res.result } : {};
    if (result.resultType === "input_required" && MRTR_METHODS.has(msg.method))
      return ask(r, s, msg, reply, result, round);
    if (result.resultType !== undefined && result.resultType !== "complete")
      return reply(
        errorLine(
          msg.rawId,
          RpcErrorCode.InternalError,
          `Internal error: unexpected result (${String(result.resultType)})`,
        ),
      );
    for (const k of MODERN_MEMBERS) delete result[k];
    reply(resultLine(msg.rawId, result));
  });
}

/**
 * The child answered `input_required`: its questions go to the legacy client as real requests
 * (each only if the client declared what it needs), then the child is asked again with the
 * answers and its `requestState` verbatim.
 */
function ask(r: RoutingCore, s: MuxClient, msg: RequestMessage, reply: Reply, result: JsonObject, round: number): void {
  if (round + 1 >= MAX_ROUNDS)
    return reply(
      errorLine(
        msg.rawId,
        RpcErrorCode.InternalError,
        `Internal error: the server asked for input ${MAX_ROUNDS} times`,
      ),
    );
  const questions = Object.entries(isObject(result.inputRequests) ? result.inputRequests : {});
  for (const [, q] of questions) {
    const missing = isObject(q) ? missingCapability(s.capabilities, q) : "a well-formed request";
    if (!missing) continue;
    const why = `the server needs ${missing}, which this client did not declare`;
    if (msg.method === "tools/call")
      return reply(resultLine(msg.rawId, { content: [{ type: "text", text: why }], isError: true }));
    return reply(
      errorLine(msg.rawId, RpcErrorCode.MissingRequiredClientCapability, `Missing required client capability: ${why}`),
    );
  }
  if (questions.length > MAX_QUESTIONS)
    return reply(
      errorLine(
        msg.rawId,
        RpcErrorCode.InternalError,
        `Internal error: the server asked ${questions.length} questions at once`,
      ),
    );
  // Between rounds the request stays in flight at the mux: its id is taken, a cancel ends it.
  const mark = { cancelled: false };
  let mine = asking.get(s);
  if (!mine) {
    mine = new Map();
    asking.set(s, mine);
  }
  mine.set(msg.key, mark);
  if (!s.inflight.has(msg.key)) s.inflight.set(msg.key, ASKING);
  const leave = (): void => {
    asking.get(s)?.delete(msg.key);
    if (s.inflight.get(msg.key) === ASKING) s.inflight.delete(msg.key);
  };
  const answers: JsonObject = {};
  let left = questions.length;
  let failed = false;
  const retry = (): void => {
    if (mark.cancelled) return;
    leave();
    send(r, s, msg, reply, { inputResponses: answers, requestState: result.requestState }, round + 1);
  };
  if (left === 0) return retry();
  for (const [key, q] of questions) {
    const question = q as JsonObject;
    const params = isObject(question.params) ? question.params : undefined;
    r.serverRequests.ask(
      s,
      String(question.method),
      (res) => {
        if (failed || mark.cancelled) return;
        if (res.error) {
          failed = true;
          leave();
          reply(errorLine(msg.rawId, res.error.code, res.error.message, res.error.data));
          return r.settled(s);
        }
        answers[key] = isObject(res.result) ? res.result : {};
        if (--left === 0) retry();
      },
      params,
      msg.key,
    );
  }
}

/** A child's -32021 as a legacy tool result's text: its message and what it needs. */
function capabilityText(error: { message: string; data?: unknown }): string {
  const needed = isObject(error.data) ? error.data.requiredCapabilities : undefined;
  return needed === undefined ? error.message : `${error.message} (requires ${JSON.stringify(needed)})`;
}

/** What a question needs that `caps` (a legacy client's) lacks, if anything. */
function missingCapability(caps: JsonObject, q: JsonObject): string | undefined {
  const p = isObject(q.params) ? q.params : {};
  switch (q.method) {
    case "elicitation/create": {
      const cap = caps.elicitation;
      if (!isObject(cap)) return "elicitation";
      if (p.mode === "url") return isObject(cap.url) ? undefined : "elicitation.url";
      return isObject(cap.form) || Object.keys(cap).length === 0 ? undefined : "elicitation.form";
    }
    case "sampling/createMessage": {
      const cap = caps.sampling;
      if (!isObject(cap)) return "sampling";
      if ((p.tools !== undefined || p.toolChoice !== undefined) && !isObject(cap.tools)) return "sampling.tools";
      return undefined;
    }
    case "roots/list":
      return isObject(caps.roots) ? undefined : "roots";
    default:
      return `an unknown kind of input (${String(q.method)})`;
  }
}

/** The request with the client's envelope (and a retry's answers and state); its id text and key kept. */
function withEnvelope(
  s: MuxClient,
  msg: RequestMessage,
  retry: { inputResponses: JsonObject; requestState?: unknown } | undefined,
): RequestMessage | undefined {
  const params: JsonObject = { ...(wholeParams(msg) ?? {}) };
  const meta: JsonObject = {};
  // The client's own `_meta` keys, minus any claim to the reserved envelope keys.
  if (isObject(params._meta))
    for (const [k, v] of Object.entries(params._meta)) if (!k.startsWith("io.modelcontextprotocol/")) meta[k] = v;
  meta[META.protocolVersion] = MODERN_VERSIONS[0];
  meta[META.clientCapabilities] = modernCapabilities(s.capabilities);
  if (s.clientInfo) meta[META.clientInfo] = s.clientInfo;
  if (s.logLevel) meta[META.logLevel] = s.logLevel;
  params._meta = meta;
  delete params.inputResponses;
  delete params.requestState;
  if (retry) {
    params.inputResponses = retry.inputResponses;
    if (retry.requestState !== undefined) params.requestState = retry.requestState;
  }
  let line: string;
  try {
    line = JSON.stringify({ jsonrpc: "2.0", id: msg.id, method: msg.method, params });
  } catch {
    return undefined; // nested past what JSON.stringify can write (JSON.parse reads any depth)
  }
  const parsed = parseMessage(line);
  if (parsed.kind !== "request") return undefined;
  return { ...parsed, rawId: msg.rawId, key: msg.key };
}
