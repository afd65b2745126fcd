/**
 * Modern (2026-07-28) requests in front of a legacy child (protocol-2026 §3.1): the per-request
 * envelope checked (version, capabilities, client info, log level), `server/discover` answered
 * from the child's cached initialize, removed methods refused, the reserved keys taken out of
 * what the child sees, and every result stamped (`resultType`, server info, caching hints).
 * Each request's envelope is kept while it is in flight, so server→client requests and log
 * lines it causes are judged by what *that* request declared.
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
import { firstChar, type Span } from "../../protocol/scan.ts";
import { isModernVersion, META, MODERN_VERSIONS } from "../../protocol/versions.ts";
import type { MuxClient } from "../client.ts";
import { isLogLevel } from "../levels.ts";
import type { RoutingCore } from "../routing/core.ts";
import type { Pending, Reply } from "../routing/types.ts";
import { duplicateError } from "../routing/wire.ts";
import { type BridgeHooks, type BridgeRequest, bridgeQuestion, MRTR_METHODS, resumeCall } from "./bridge.ts";
import {
  flattenCreated,
  legacyTasksOn,
  prepareToolCall,
  TASK_METHODS,
  TASKS_EXTENSION,
  taskCallSent,
  taskRequest,
} from "./legacy-tasks.ts";
import { modernChildRequest } from "./modern-child.ts";

/** What one modern request declared about itself. */
export interface Envelope {
  version: string;
  capabilities: JsonObject;
  clientInfo: JsonObject | undefined;
  logLevel: string | undefined;
}

/** A modern request at the child, with its envelope. */
export interface ModernCause {
  client: MuxClient;
  key: string;
  envelope: Envelope;
  pending: Pending;
  /** The request as the client sent it, and where its answer goes. */
  msg: RequestMessage;
  reply: Reply;
}

/** Serve one request whose `_meta` claims a modern protocol version. */
export function modernRequest(r: RoutingCore, s: MuxClient, msg: RequestMessage, reply: Reply): void {
  const envelope = readEnvelope(msg, reply);
  if (!envelope) return;
  if (REMOVED_METHODS.has(msg.method)) {
    const why = `Method not found: ${msg.method} (removed in ${envelope.version})`;
    return reply(errorLine(msg.rawId, RpcErrorCode.MethodNotFound, why));
  }
  // A connection that never opened a legacy session: if it is the one that starts the deferred
  // handshake (`auto`), the child is told everything the mux can route (protocol-2026 §3.1), as
  // each later modern request is judged by its own capabilities (-32021).
  if (!s.session) s.capabilities = ROUTABLE_ALL;
  // A modern child (era = "modern", or "auto" once probed) serves the request itself.
  if (r.childEra === "modern")
    return modernChildRequest(r, s, msg, envelope.capabilities, reply, {
      forwarded: () => track(s, msg.key, { envelope, msg, reply }),
      answered: () => untrack(s, msg.key),
    });
  // `auto` before the probe answered: the request waits for the verdict.
  if (r.childEra === undefined && r.state !== "ready")
    return r.submit(s, msg, reply, () => modernRequest(r, s, msg, reply));
  if (msg.method === "server/discover") return discover(r, s, msg, reply);
  if (msg.method === "subscriptions/listen") return listen(r, s, msg, reply);
  if (TASK_METHODS.has(msg.method)) return taskRequest(r, s, msg, envelope.capabilities, reply);
  if (MRTR_METHODS.has(msg.method)) {
    const responses = msg.params?.inputResponses;
    if (responses !== undefined && !(isObject(responses) && Object.values(responses).every(isObject)))
      return reply(
        errorLine(
          msg.rawId,
          RpcErrorCode.InvalidParams,
          "Invalid params: inputResponses must be an object whose values are the input requests' results",
          { reason: "invalid_input_responses" },
        ),
      );
    // A retry of an `input_required` round resumes the parked call; it is never a new call.
    if (msg.params?.requestState !== undefined)
      return resumeCall(r, { client: s, msg, reply, capabilities: envelope.capabilities }, bridgeHooks(r, envelope, s));
  }
  const out = childView(msg);
  if (!out) return reply(errorLine(msg.rawId, RpcErrorCode.InvalidParams, "Invalid params: unreadable request"));
  const go = (child: RequestMessage, asTask?: boolean): void => {
    track(s, msg.key, { envelope, msg, reply });
    const p = r.forward(s, child, reply, (res) => {
      untrack(s, msg.key);
      reply(stampResponse(r, msg, res, { client: s, capabilities: envelope.capabilities }));
    });
    // The common answer is stamped in its text, never parsed (as a legacy client's is relayed).
    p.onText = (text, span) => {
      const line = plainStamp(r, msg, text, span);
      if (line === undefined) return false;
      untrack(s, msg.key);
      reply(line);
      return true;
    };
    if (asTask) taskCallSent(r, p);
  };
  r.submit(s, msg, reply, () => {
    if (msg.method !== "tools/call") return go(out);
    // The tasks extension over a legacy child with tasks (the tool's task support read first).
    prepareToolCall(r, out, envelope.capabilities, (child, refusal, asTask) => {
      if (refusal) return reply(refusal);
      if (!child) return reply(errorLine(msg.rawId, RpcErrorCode.InvalidParams, "Invalid params: unreadable request"));
      if (s.inflight.has(msg.key)) return reply(duplicateError(msg.rawId));
      go(child, asTask);
    });
  });
}

/** Why a modern request's envelope is refused (-32022 unsupported version, -32602 missing or malformed), if it is. */
export function envelopeProblem(
  params: JsonObject | undefined,
): { code: number; message: string; data?: unknown } | undefined {
  const meta = isObject(params?._meta) ? params._meta : {};
  const version = meta[META.protocolVersion];
  const invalid = (why: string) => ({ code: RpcErrorCode.InvalidParams, message: `Invalid params: ${why}` });
  if (version === undefined) return invalid(`_meta["${META.protocolVersion}"] is required`);
  if (!isModernVersion(version)) {
    const supported = [...MODERN_VERSIONS];
    const shown = typeof version === "string" ? version.slice(0, 64) : typeof version;
    return {
      code: RpcErrorCode.UnsupportedProtocolVersion,
      message: `Unsupported protocol version: ${shown} (supported: ${supported.join(", ")})`,
      data: { supported, requested: version },
    };
  }
  if (!isObject(meta[META.clientCapabilities])) return invalid(`_meta["${META.clientCapabilities}"] must be an object`);
  const clientInfo = meta[META.clientInfo];
  if (clientInfo !== undefined && !isObject(clientInfo))
    return invalid(`_meta["${META.clientInfo}"] must be an object`);
  const logLevel = meta[META.logLevel];
  if (logLevel !== undefined && !isLogLevel(logLevel))
    return invalid(
      `unknown log level ${typeof logLevel === "string" ? JSON.stringify(logLevel.slice(0, 64)) : typeof logLevel}`,
    );
  return undefined;
}

/** The modern requests at the child now (whose method is in `methods`, when given). */
export function modernCauses(r: RoutingCore, methods?: ReadonlySet<string>): ModernCause[] {
  const found: ModernCause[] = [];
  for (const client of r.clients) {
    const map = envelopes.get(client);
    if (!map) continue;
    for (const [key, t] of map) {
      const muxId = client.inflight.get(key);
      const pending = muxId ? r.pending.get(muxId) : undefined;
      if (pending && (!methods || methods.has(pending.method))) found.push({ client, key, pending, ...t });
    }
  }
  return found;
}

/**
 * The one modern request a child log line (which names no request) can be pinned to: the only
 * request at the child, across all clients, and a modern one (protocol-2026 §3.1 "logLevel").
 */
export function modernLogTarget(r: RoutingCore): ModernCause | undefined {
  if (r.pending.ofClients !== 1) return undefined;
  const all = modernCauses(r);
  return all.length === 1 ? all[0] : undefined;
}

/**
 * A child notification for the listens that asked for it (`filter`: `toolsListChanged`, …), each
 * copy tagged with that listen's own `subscriptionId` (the client's id of its listen request).
 */
export function notifyListens(
  r: RoutingCore,
  filter: keyof ListenFilter,
  method: string,
  params: JsonObject | undefined,
): void {
  let base: string | undefined;
  for (const client of r.clients) {
    const mine = listens.get(client);
    if (!mine) continue;
    for (const [key, l] of mine) {
      if (!l.honored[filter]) continue;
      base ??= JSON.stringify({
        jsonrpc: "2.0",
        method,
        params: {
          ...(params ?? {}),
          _meta: { ...(isObject(params?._meta) ? params._meta : {}), [SUBSCRIPTION_ID]: SUB_MARK },
        },
      });
      client.send(base.replace(`"${SUB_MARK}"`, l.rawId), "signal", key);
    }
  }
}

/** A client cancelled request `key`: true when it was one of its listens (now ended). */
export function endListen(client: MuxClient, key: string): boolean {
  return listens.get(client)?.delete(key) === true;
}

/**
 * A server→client request of the child while modern request `cause` (`tools/call`,
 * `prompts/get` or `resources/read`) is the only one that can have caused it: the
 * `input_required` bridge takes it (protocol-2026 §3.2).
 */
export function askModern(
  r: RoutingCore,
  msg: RequestMessage,
  cause: ModernCause,
  capable: (caps: JsonObject) => boolean,
  required: JsonObject,
): void {
  const req: BridgeRequest = {
    client: cause.client,
    msg: cause.msg,
    reply: cause.reply,
    capabilities: cause.envelope.capabilities,
  };
  bridgeQuestion(r, msg, req, cause.pending, capable, required, bridgeHooks(r, cause.envelope, cause.client));
}

/** Answer a modern request at the child with `line` now, and stop the child's work on it. */
export function failModern(r: RoutingCore, cause: ModernCause, line: string, reason: string): void {
  untrack(cause.client, cause.key);
  r.dropPending(cause.pending);
  r.cancelAtChild(cause.pending.muxId, reason);
  cause.pending.reply(line);
  r.host.changed();
}

// --- internal ---

/** What a listen asks for (protocol-2026 §1.5); resource subscriptions are not honored yet. */
export interface ListenFilter {
  toolsListChanged?: boolean;
  promptsListChanged?: boolean;
  resourcesListChanged?: boolean;
}

const SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId";

/** Stands for a listen's id in a notification's text until the id's exact JSON is spliced in. */
const SUB_MARK = `mux-subscription-${Math.random().toString(36).slice(2)}`;

/** Per client, its open listens: id key → the listen's raw id and honored filter. */
const listens = new WeakMap<MuxClient, Map<string, { rawId: string; honored: ListenFilter }>>();

/**
 * `subscriptions/listen` onto the mux's own fan-out (protocol-2026 §3.3): the acknowledgement
 * first, naming the subset the child can honor (its `listChanged` capabilities), tagged with
 * the client's own id; then the matching list changes, until the client cancels it or goes.
 * Nothing honorable: acknowledged and completed at once.
 */
function listen(r: RoutingCore, s: MuxClient, msg: RequestMessage, reply: Reply): void {
  const run = (): void => {
    const caps = isObject(r.initResult?.capabilities) ? r.initResult.capabilities : {};
    const want = isObject(msg.params?.notifications) ? msg.params.notifications : {};
    const honored: ListenFilter = {};
    const can = (kind: string): boolean => isObject(caps[kind]) && caps[kind].listChanged === true;
    if (want.toolsListChanged === true && can("tools")) honored.toolsListChanged = true;
    if (want.promptsListChanged === true && can("prompts")) honored.promptsListChanged = true;
    if (want.resourcesListChanged === true && can("resources")) honored.resourcesListChanged = true;
    const meta = `{"${SUBSCRIPTION_ID}":${msg.rawId}}`;
    const none = Object.keys(honored).length === 0;
    let mine = listens.get(s);
    // The HTTP front's stateless requests are one client (its principal): each listen holds a connection of its own.
    const max = s.transport === "http" && !s.session ? MAX_HTTP_LISTENS : MAX_LISTENS;
    if (!none && (mine?.size ?? 0) >= max)
      return reply(
        errorLine(msg.rawId, RpcErrorCode.InvalidRequest, `Invalid Request: at most ${max} listens per client`),
      );
    s.send(
      `{"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"notifications":${JSON.stringify(honored)},"_meta":${meta}}}`,
      "notification",
      msg.key,
    );
    if (none) return reply(`{"jsonrpc":"2.0","id":${msg.rawId},"result":{"resultType":"complete","_meta":${meta}}}`);
    if (!mine) {
      mine = new Map();
      listens.set(s, mine);
    }
    mine.set(msg.key, { rawId: msg.rawId, honored });
  };
  if (r.state === "ready" && r.initResult) return run();
  r.submit(s, msg, reply, run);
}

/** Open listens one client may hold. */
const MAX_LISTENS = 64;
/** Open listens the stateless requests of the HTTP front may hold together. */
const MAX_HTTP_LISTENS = 4096;

/** What a modern client stands for in the `auto` handshake: every capability the mux can route. */
const ROUTABLE_ALL: JsonObject = { sampling: {}, elicitation: { form: {}, url: {} }, roots: {} };

/** Methods a modern client must not send (protocol-2026 §1.11). */
const REMOVED_METHODS = new Set([
  "initialize",
  "ping",
  "logging/setLevel",
  "resources/subscribe",
  "resources/unsubscribe",
  "tasks/result",
  "tasks/list",
]);

/** Results that carry caching hints (protocol-2026 §1.2). */
const CACHEABLE = new Set([
  "server/discover",
  "tools/list",
  "prompts/list",
  "resources/list",
  "resources/templates/list",
  "resources/read",
]);

const RESERVED_PREFIX = "io.modelcontextprotocol/";

/** A modern request in flight: its envelope, the request and where its answer goes. */
interface Tracked {
  envelope: Envelope;
  msg: RequestMessage;
  reply: Reply;
}

/** Per client, its modern requests in flight: id key → what it declared. */
const envelopes = new WeakMap<MuxClient, Map<string, Tracked>>();

/** The bridge's view of the modern leg (results stamped, requests tracked), for one router. */
function bridgeHooks(r: RoutingCore, first: Envelope, client: MuxClient): BridgeHooks {
  return {
    // A call that ends in a task (MRTR rounds first) is the first client's principal's task.
    stamp: (msg, res) => stampResponse(r, msg, res, { client, capabilities: first.capabilities }),
    resultMeta: () => ({ [META.serverInfo]: serverInfoOf(r) }),
    // A retry's own envelope, when it has one (it always has: only modern requests resume).
    track: (req) =>
      track(req.client, req.msg.key, {
        envelope: { ...first, capabilities: req.capabilities },
        msg: req.msg,
        reply: req.reply,
      }),
    untrack,
  };
}

function track(client: MuxClient, key: string, envelope: Tracked): void {
  let map = envelopes.get(client);
  if (!map) {
    map = new Map();
    envelopes.set(client, map);
  }
  // Entries of requests that ended without an answer through us (timeout, cancel) are swept
  // here, once they could be half of the map (a client with many requests in flight, as the
  // HTTP front's stateless one, is never swept per request).
  if (map.size >= 64 + 2 * client.inflight.size) for (const k of map.keys()) if (!client.inflight.has(k)) map.delete(k);
  map.set(key, envelope);
}

function untrack(client: MuxClient, key: string): void {
  envelopes.get(client)?.delete(key);
}

/** The request's envelope, or undefined once `reply` has been given why it is refused. */
function readEnvelope(msg: RequestMessage, reply: Reply): Envelope | undefined {
  const problem = envelopeProblem(msg.params);
  if (problem) {
    reply(errorLine(msg.rawId, problem.code, problem.message, problem.data));
    return undefined;
  }
  const meta = (msg.params?._meta ?? {}) as JsonObject;
  return {
    version: String(meta[META.protocolVersion]),
    capabilities: meta[META.clientCapabilities] as JsonObject,
    clientInfo: meta[META.clientInfo] as JsonObject | undefined,
    logLevel: meta[META.logLevel] as string | undefined,
  };
}

/**
 * The request as the legacy child gets it: the reserved `_meta` keys and the MRTR members
 * removed. Its text is written here, so the id's span is known without parsing it again; a
 * kept `progressToken` (whose span the router rewrites) is found by parsing, as before.
 */
function childView(msg: RequestMessage): RequestMessage | undefined {
  const whole = wholeParams(msg) ?? {};
  const params: JsonObject = {};
  for (const k in whole) {
    if (k === "inputResponses" || k === "requestState") continue; // the MRTR members
    const v = whole[k];
    if (k !== "_meta" || !isObject(v)) {
      put(params, k, v);
      continue;
    }
    const meta: JsonObject = {};
    let kept = false;
    for (const m in v) {
      if (m.startsWith(RESERVED_PREFIX)) continue;
      put(meta, m, v[m]);
      kept = true;
    }
    if (kept) params._meta = meta;
  }
  let paramsText: string;
  try {
    paramsText = JSON.stringify(params);
  } catch {
    return undefined; // nested past what JSON.stringify can write (JSON.parse reads any depth)
  }
  // The client's id stays the exact text it sent (a big integer survives).
  const text = `${ID_HEAD}${msg.rawId},"method":${JSON.stringify(msg.method)},"params":${paramsText}}`;
  const token = isObject(params._meta) ? params._meta.progressToken : undefined;
  if (typeof token === "string" || typeof token === "number") {
    const parsed = parseMessage(text);
    return parsed.kind === "request" ? { ...parsed, key: msg.key } : undefined;
  }
  const idSpan: [number, number] = [ID_HEAD.length, ID_HEAD.length + msg.rawId.length];
  return {
    kind: "request",
    text,
    method: msg.method,
    params,
    id: msg.id,
    rawId: msg.rawId,
    key: msg.key,
    idSpan,
    progressSpan: undefined,
  };
}

/** Set member `k` as JSON.parse made it: an own member even when it is `__proto__`. */
function put(o: JsonObject, k: string, v: unknown): void {
  if (k === "__proto__")
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/** How every request line the mux writes for the child begins (its id follows). */
const ID_HEAD = '{"jsonrpc":"2.0","id":';

function serverInfoOf(r: RoutingCore): unknown {
  return r.initResult?.serverInfo;
}

function discover(r: RoutingCore, s: MuxClient, msg: RequestMessage, reply: Reply): void {
  const answer = (): void => {
    const init = r.initResult;
    if (!init)
      return reply(errorLine(msg.rawId, RpcErrorCode.InternalError, "Internal error: the server is not ready"));
    const caps = isObject(init.capabilities) ? { ...init.capabilities } : {};
    delete caps.tasks; // the 2025-11-25 slot; the extension stands for it when translated
    if (legacyTasksOn(r))
      caps.extensions = { ...(isObject(caps.extensions) ? caps.extensions : {}), [TASKS_EXTENSION]: {} };
    const result: JsonObject = {
      resultType: "complete",
      supportedVersions: [...MODERN_VERSIONS],
      capabilities: caps,
      ...(typeof init.instructions === "string" ? { instructions: init.instructions } : {}),
      ttlMs: 0,
      cacheScope: "private",
      _meta: { [META.serverInfo]: init.serverInfo },
    };
    reply(resultLine(msg.rawId, result));
  };
  if (r.state === "ready" && r.initResult) return answer();
  r.submit(s, msg, reply, answer);
}

/** A child's response to a modern request, as the modern client gets it. */
function stampResponse(
  r: RoutingCore,
  msg: RequestMessage,
  res: ResponseMessage,
  caller?: { client: MuxClient; capabilities: JsonObject },
): string {
  try {
    return stampOnce(r, msg, res, caller);
  } catch {
    // Nested past what JSON.stringify can write again (JSON.parse read it): the client gets why.
    const why = "Internal error: the server's answer is nested too deep to relay";
    return errorLine(msg.rawId, RpcErrorCode.InternalError, why);
  }
}

function stampOnce(
  r: RoutingCore,
  msg: RequestMessage,
  res: ResponseMessage,
  caller?: { client: MuxClient; capabilities: JsonObject },
): string {
  if (res.error) {
    const { code, message, data } = res.error;
    if (msg.method === "resources/read" && code === -32002) {
      const uri = msg.params?.uri;
      return errorLine(msg.rawId, RpcErrorCode.InvalidParams, message, { ...(isObject(data) ? data : {}), uri });
    }
    return errorLine(msg.rawId, code, message, data);
  }
  const result = isObject(res.result) ? res.result : {};
  if (msg.method === "resources/read" && !(Array.isArray(result.contents) && result.contents.length > 0)) {
    const uri = msg.params?.uri;
    return errorLine(msg.rawId, RpcErrorCode.InvalidParams, "Resource not found", { uri });
  }
  if (caller && msg.method === "tools/call" && isObject(result.task)) {
    const created = flattenCreated(r, caller.client, caller.capabilities, result);
    if (created) return resultLine(msg.rawId, { ...created, _meta: { [META.serverInfo]: serverInfoOf(r) } });
  }
  if (!CACHEABLE.has(msg.method) && !("_meta" in result) && !("resultType" in result) && res.idSpan) {
    const spliced = stampedText(r, msg, res.text, res.idSpan);
    if (spliced !== undefined) return spliced;
  }
  const meta = isObject(result._meta) ? result._meta : {};
  const stamped: JsonObject = {
    ...result,
    resultType: "complete",
    _meta: { ...meta, [META.serverInfo]: serverInfoOf(r) },
  };
  if (CACHEABLE.has(msg.method)) {
    stamped.ttlMs = typeof result.ttlMs === "number" ? result.ttlMs : 0;
    stamped.cacheScope = result.cacheScope === "public" ? "public" : "private";
  }
  return resultLine(msg.rawId, stamped);
}

/**
 * The common answer (its result an object without a `_meta` or `resultType` of its own, right
 * after the id, as in `{"jsonrpc":"2.0","id":…,"result":{…}}`, or first, as the SDK writes
 * `{"result":{…},"jsonrpc":"2.0","id":…}`) stamped in its text: the stamp goes in right after
 * the result's `{` and the client's id in place of the mux's, two local edits of valid JSON;
 * the rest is the child's text as it came (as a legacy client gets it), so the result is never
 * written again. Undefined for any other shape (the caller writes it from the parsed result).
 */
function stampedText(r: RoutingCore, msg: RequestMessage, text: string, span: Span): string | undefined {
  const at = resultStart(text, span);
  if (at < 0) return undefined;
  const info = serverInfoText(r);
  const empty = firstChar(text, at) === 0x7d; // `{}`: no member for the stamp to stand before
  const stamp = `"resultType":"complete","_meta":{${info === undefined ? "" : `"${META.serverInfo}":${info}`}}${empty ? "" : ","}`;
  const [idStart, idEnd] = span;
  if (at < idStart) return `${text.slice(0, at)}${stamp}${text.slice(at, idStart)}${msg.rawId}${text.slice(idEnd)}`;
  return `${text.slice(0, idStart)}${msg.rawId}${text.slice(idEnd, at)}${stamp}${text.slice(at)}`;
}

/** Where the result's members begin (the top object's first member, or the one after its id), or -1. */
function resultStart(text: string, span: Span): number {
  if (text.startsWith(RESULT_FIRST)) return RESULT_FIRST.length;
  if (text.startsWith(RESULT_AFTER_ID, span[1])) return span[1] + RESULT_AFTER_ID.length;
  return -1;
}

/**
 * A success answer stamped from its text alone, never parsed: only when nothing in it could
 * change the stamp (no `"_meta"`, `"resultType"`, `"task"` or `"error"` anywhere, no `\u`
 * escape that could spell one), for a method whose results carry no caching hints; else undefined
 * (it is parsed, and stamped from the parsed value or its text).
 */
function plainStamp(r: RoutingCore, msg: RequestMessage, text: string, span: Span): string | undefined {
  if (CACHEABLE.has(msg.method)) return undefined;
  for (const word of PARSE_WORDS) if (text.includes(word)) return undefined;
  return stampedText(r, msg, text, span);
}

/** Any of these in an answer's text sends it down the parsing path. */
const PARSE_WORDS = ['"_meta"', '"resultType"', '"task"', '"error"', "\\u"];

/** An answer whose first member is its result, an object. */
const RESULT_FIRST = '{"result":{';
/** What follows the id of an answer whose result comes next and is an object. */
const RESULT_AFTER_ID = ',"result":{';

/** The server's `serverInfo` as JSON text (undefined without one), written once per initialize result. */
function serverInfoText(r: RoutingCore): string | undefined {
  const init = r.initResult;
  if (!init || init.serverInfo === undefined) return undefined;
  let t = infoTexts.get(init);
  if (t === undefined) {
    t = JSON.stringify(init.serverInfo);
    infoTexts.set(init, t);
  }
  return t;
}
const infoTexts = new WeakMap<JsonObject, string>();
