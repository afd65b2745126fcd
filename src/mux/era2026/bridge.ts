/**
 * The `input_required` bridge (protocol-2026 §3.2): a legacy child's `elicitation/create`,
 * `sampling/createMessage` or `roots/list` made while it serves a modern `tools/call`,
 * `prompts/get` or `resources/read` becomes an `input_required` result for that client. The
 * child's call stays running, parked under a sealed `requestState`; the client's retry with
 * `inputResponses` answers the child's questions and resumes the call (never a new call while
 * a round is parked), until the child's real result, or its next questions (the next round).
 *
 * - Questions arriving within `GATHER_MS` of the first make one round.
 * - Each is judged by the capabilities of the request standing for the call now: the declared
 *   ones are offered, the others answered to the child with an error (-32034); a round with
 *   nothing to offer is answered -32021 with `requiredCapabilities` and the call cancelled.
 * - Keys are `elicitation_1`, `sampling_1`, `roots_1`, … per call, or the child's own
 *   `_meta["mcp-mux/inputKey"]` (a legacy server that knows it runs behind the mux may name them).
 * - A round nobody resumes within `request_timeout_ms` is abandoned: the child's questions get
 *   -32001 and its call is cancelled; a socket client that goes has its rounds abandoned at once
 *   (-32034).
 * @module
 */

import { randomBytes } from "node:crypto";
import {
  isObject,
  type JsonObject,
  type RequestMessage,
  type ResponseMessage,
  wholeParams,
} from "../../protocol/message.ts";
import { errorLine, RpcErrorCode, resultLine } from "../../protocol/rpc-error.ts";
import type { MuxClient } from "../client.ts";
import type { RoutingCore } from "../routing/core.ts";
import type { Pending, Reply } from "../routing/types.ts";
import { duplicateError } from "../routing/wire.ts";
import { DAEMON_SEAL, requestDigest } from "./request-state.ts";

/** Methods that may answer `input_required` (protocol-2026 §1.4). */
export const MRTR_METHODS: ReadonlySet<string> = new Set(["tools/call", "prompts/get", "resources/read"]);

/** How long after a call's first question further ones join the same round. */
export const GATHER_MS = 30;

/** One client request standing for a bridged call (the first request, then each retry). */
export interface BridgeRequest {
  client: MuxClient;
  msg: RequestMessage;
  reply: Reply;
  capabilities: JsonObject;
}

/** What the bridge needs of the modern leg (kept out of this file so no import circle forms). */
export interface BridgeHooks {
  /** The child's final response to `msg`, as the modern client gets it. */
  stamp(msg: RequestMessage, res: ResponseMessage): string;
  /** The `_meta` every result carries (server info). */
  resultMeta(): JsonObject;
  /** `req` now stands for the call at the child (so its questions are judged by it). */
  track(req: BridgeRequest): void;
  /** `req` no longer does. */
  untrack(client: MuxClient, key: string): void;
}

/** The mux's principal for a client: one socket connection, or the HTTP front (one bearer token). */
export function ownerOf(client: MuxClient): string {
  return client.transport === "http" ? "http" : `${client.transport}:${client.id}`;
}

/**
 * A server→client request `msg` of the child while `req` (pending as `pending`) is the only
 * request that can have caused it: gather it into the call's round. `capable` tells whether a
 * request's capabilities cover it, `required` names what it needs (for -32021).
 */
export function bridgeQuestion(
  r: RoutingCore,
  msg: RequestMessage,
  req: BridgeRequest,
  pending: Pending,
  capable: (caps: JsonObject) => boolean,
  required: JsonObject,
  hooks: BridgeHooks,
): void {
  const b = bridgeOf(r);
  let call = b.byMux.get(pending.muxId);
  if (!call || call.pending !== pending) {
    call = newCall(r, b, req, pending, hooks);
  }
  call.gathering.push({ msg, capable, required });
  call.gatherTimer ??= setTimeout(() => closeRound(r, call as Call), GATHER_MS);
}

/**
 * A server→client request `msg` while no client request is at the child and exactly one call
 * is parked: it can only be that call's (a legacy question names no request, but the child
 * works on nothing else). It joins the call's open questions, asked in the next round (the
 * retry that answers this one is answered `input_required` again with it). False when that
 * does not hold; a question the parked round's request did not declare is refused.
 */
export function parkedQuestion(r: RoutingCore, msg: RequestMessage, capable: (caps: JsonObject) => boolean): boolean {
  const b = bridges.get(r);
  if (!b || r.pending.ofClients > 0) return false;
  let only: Call | undefined;
  for (const c of b.byId.values()) {
    if (c.current || c.final !== undefined || r.pending.get(c.muxId) !== c.pending) continue;
    if (only) return false;
    only = c;
  }
  if (!only) return false;
  if (!capable(only.capabilities)) {
    r.serverRequests.answerUnrouted(msg.rawId, msg.method, "the calling client did not declare the capability");
    return true;
  }
  only.open.set(keyFor(only, msg), question(msg));
  return true;
}

/**
 * A retry carrying `requestState` (and `inputResponses`): check the state and the answers
 * before anything reaches the child, answer the parked questions, and resume the call for `req`.
 */
export function resumeCall(r: RoutingCore, req: BridgeRequest, hooks: BridgeHooks): void {
  const { client, msg, reply } = req;
  const params = wholeParams(msg) ?? {};
  const invalid = (why: string, reason = "invalid_request_state"): void =>
    reply(errorLine(msg.rawId, RpcErrorCode.InvalidParams, `Invalid params: ${why}`, { reason }));
  const responses = params.inputResponses;
  if (responses !== undefined && !isObject(responses))
    return invalid("inputResponses must be an object", "invalid_input_responses");
  if (client.inflight.has(msg.key)) return reply(duplicateError(msg.rawId));
  const opened = DAEMON_SEAL.open(
    params.requestState,
    { owner: ownerOf(client), method: msg.method, digest: requestDigest(params) },
    Date.now(),
  );
  if (!opened.ok) return invalid(`requestState refused (${opened.reason})`);
  const b = bridgeOf(r);
  const call = b.byId.get(opened.claims.id);
  const live = call && (call.final !== undefined || r.pending.get(call.muxId) === call.pending);
  if (!call || !live || call.round !== opened.claims.round || call.current)
    return invalid("requestState expired or already used (start the request again)");
  const answers: [string, string][] = [];
  for (const [key, q] of call.open) {
    if (!responses || !Object.hasOwn(responses, key)) continue;
    const line = answerLine(q.childRawId, q.method, (responses as JsonObject)[key]);
    if (typeof line !== "string") return invalid(`inputResponses.${key}: ${line.bad}`, "invalid_input_responses");
    answers.push([key, line]);
  }
  clearTimeout(call.expiry);
  call.expiry = undefined;
  for (const [key, line] of answers) {
    call.open.delete(key);
    if (r.state === "ready" && call.final === undefined) r.host.writeChild(line);
  }
  call.current = req;
  call.hooks = hooks;
  if (call.final !== undefined) return finish(r, b, call, call.final, hooks);
  if (call.open.size > 0) return answerRound(r, b, call, hooks); // what is still unanswered is asked again
  attach(r, call, req, hooks);
}

// --- internal ---

interface Asked {
  msg: RequestMessage;
  capable: (caps: JsonObject) => boolean;
  required: JsonObject;
}

interface Question {
  childRawId: string;
  method: string;
  params: JsonObject;
}

/** One child call the bridge holds. */
interface Call {
  id: string;
  muxId: number;
  pending: Pending;
  owner: string;
  /** The owning connection when it is one (a socket client); HTTP requests are each a client of their own. */
  ownerClient: MuxClient | undefined;
  method: string;
  digest: string;
  /** `input_required` answers given so far. */
  round: number;
  ordinals: Map<string, number>;
  /** Keys given out in this call (never reused for another question). */
  used: Set<string>;
  /** Questions offered and not answered yet: key → question. */
  open: Map<string, Question>;
  /** Questions of the round being gathered. */
  gathering: Asked[];
  gatherTimer: ReturnType<typeof setTimeout> | undefined;
  /** The client request standing for the call (none while a round is parked). */
  current: BridgeRequest | undefined;
  /** What the last request standing for the call declared (a parked call's questions are judged by it). */
  capabilities: JsonObject;
  expiry: ReturnType<typeof setTimeout> | undefined;
  /** The child's answer, when it came while the round was parked. */
  final: ResponseMessage | undefined;
  hooks: BridgeHooks;
}

interface Bridge {
  byMux: Map<number, Call>;
  byId: Map<string, Call>;
  /** The check for gone socket owners, while one has a parked round. */
  watch?: ReturnType<typeof setInterval>;
}

/** How often parked rounds of socket clients are checked for a gone owner. */
const OWNER_CHECK_MS = 1000;

const bridges = new WeakMap<RoutingCore, Bridge>();

/** Parked calls one owner may hold; a new one beyond it abandons that owner's oldest. */
const MAX_PARKED_PER_OWNER = 64;

/** A key the child names (`_meta["mcp-mux/inputKey"]`) must look like this. */
const KEY_HINT = /^[A-Za-z0-9_.-]{1,64}$/;
const KEY_HINT_META = "mcp-mux/inputKey";

const KIND: Record<string, string> = {
  "elicitation/create": "elicitation",
  "sampling/createMessage": "sampling",
  "roots/list": "roots",
};

function bridgeOf(r: RoutingCore): Bridge {
  let b = bridges.get(r);
  if (!b) {
    b = { byMux: new Map(), byId: new Map() };
    bridges.set(r, b);
  }
  return b;
}

function newCall(r: RoutingCore, b: Bridge, req: BridgeRequest, pending: Pending, hooks: BridgeHooks): Call {
  // Calls whose child request ended without us (a cancel, a disconnect) are swept here.
  for (const c of b.byMux.values())
    if (c.current && c.gatherTimer === undefined && r.pending.get(c.muxId) !== c.pending) forget(b, c);
  const call: Call = {
    id: randomBytes(16).toString("base64url"),
    muxId: pending.muxId,
    pending,
    owner: ownerOf(req.client),
    ownerClient: req.client.transport === "http" ? undefined : req.client,
    method: req.msg.method,
    digest: digestOf(req.msg),
    round: 0,
    ordinals: new Map(),
    used: new Set(),
    open: new Map(),
    gathering: [],
    gatherTimer: undefined,
    current: req,
    capabilities: req.capabilities,
    expiry: undefined,
    final: undefined,
    hooks,
  };
  b.byMux.set(call.muxId, call);
  b.byId.set(call.id, call);
  pending.onResponse = (res) => finish(r, b, call, res, call.hooks);
  pending.onText = undefined;
  return call;
}

function forget(b: Bridge, call: Call): void {
  clearTimeout(call.gatherTimer);
  clearTimeout(call.expiry);
  call.gatherTimer = undefined;
  call.expiry = undefined;
  if (b.byMux.get(call.muxId) === call) b.byMux.delete(call.muxId);
  b.byId.delete(call.id);
}

/** The gather window closed: offer what the request declared, or answer -32021 when nothing. */
function closeRound(r: RoutingCore, call: Call): void {
  const b = bridgeOf(r);
  call.gatherTimer = undefined;
  const asked = call.gathering;
  call.gathering = [];
  const refuse = (a: Asked, why: string): void => r.serverRequests.answerUnrouted(a.msg.rawId, a.msg.method, why);
  const cur = call.current;
  if (!cur || r.pending.get(call.muxId) !== call.pending) {
    for (const a of asked) refuse(a, "the request that caused it has ended");
    if (!cur) return;
    return forget(b, call);
  }
  const offer = asked.filter((a) => a.capable(cur.capabilities));
  const missing = asked.filter((a) => !offer.includes(a));
  for (const a of missing) refuse(a, "the calling client did not declare the capability");
  if (offer.length === 0 && call.open.size === 0) {
    const required: JsonObject = {};
    for (const a of missing) Object.assign(required, a.required);
    const why = `Missing required client capability: ${Object.keys(required).join(", ")} (needed by ${[
      ...new Set(missing.map((a) => a.msg.method)),
    ].join(", ")})`;
    forget(b, call);
    cur.client.inflight.delete(cur.msg.key);
    call.hooks.untrack(cur.client, cur.msg.key);
    r.dropPending(call.pending);
    r.cancelAtChild(call.muxId, "the client lacks a required capability");
    cur.reply(
      errorLine(cur.msg.rawId, RpcErrorCode.MissingRequiredClientCapability, why, { requiredCapabilities: required }),
    );
    r.host.changed();
    return;
  }
  // A first request that already carries answers (a retry without state, protocol-2026 §3.2
  // step 9) has the questions under the keys it names answered from them: keys are per call
  // and deterministic, so a client retrying from scratch is matched without a state.
  const supplied = call.round === 0 ? wholeParams(cur.msg)?.inputResponses : undefined;
  for (const a of offer) {
    const key = keyFor(call, a.msg);
    const given = isObject(supplied) && Object.hasOwn(supplied, key) ? supplied[key] : undefined;
    const line = given === undefined ? undefined : answerLine(a.msg.rawId, a.msg.method, given);
    if (typeof line === "string") {
      if (r.state === "ready") r.host.writeChild(line);
      continue;
    }
    call.open.set(key, question(a.msg));
  }
  if (call.open.size === 0) return; // all answered: the call goes on for the same request
  answerRound(r, b, call, call.hooks);
}

/** Answer the current request `input_required` with every open question; the call is parked until a retry. */
function answerRound(r: RoutingCore, b: Bridge, call: Call, hooks: BridgeHooks): void {
  const cur = call.current as BridgeRequest;
  const inputRequests: JsonObject = {};
  for (const [key, q] of call.open) inputRequests[key] = { method: q.method, params: q.params };
  try {
    JSON.stringify(inputRequests);
  } catch {
    // The child's questions nest past what JSON.stringify can write: the call cannot be relayed.
    for (const q of call.open.values())
      if (r.state === "ready")
        r.host.writeChild(
          errorLine(q.childRawId, RpcErrorCode.InternalError, "mcp-mux: request nested too deep to relay"),
        );
    call.open.clear();
    forget(b, call);
    cur.client.inflight.delete(cur.msg.key);
    hooks.untrack(cur.client, cur.msg.key);
    r.dropPending(call.pending);
    r.cancelAtChild(call.muxId, "its input requests could not be relayed");
    cur.reply(
      errorLine(
        cur.msg.rawId,
        RpcErrorCode.InternalError,
        "Internal error: the server's input requests are nested too deep to relay",
      ),
    );
    r.settled(cur.client);
    r.host.changed();
    return;
  }
  call.current = undefined;
  call.capabilities = cur.capabilities;
  call.round++;
  const expiresAt = Date.now() + r.options.requestTimeoutMs;
  const state = DAEMON_SEAL.seal({
    id: call.id,
    owner: call.owner,
    method: call.method,
    digest: call.digest,
    round: call.round,
    expiresAt,
  });
  // Take the call off the client first: answering may end it (a stateless HTTP request does),
  // and its end must not cancel the parked call.
  const p = call.pending;
  const owner = p.client;
  if (owner) {
    if (owner.inflight.get(p.key) === p.muxId) owner.inflight.delete(p.key);
    r.released(owner, p.counted);
  }
  p.counted = false;
  p.client = null;
  p.deadline = undefined;
  r.progress.release(p.progressToken); // no request is open for its progress until a retry
  p.progressToken = undefined;
  hooks.untrack(cur.client, cur.msg.key);
  limitParked(r, b, call);
  call.expiry = setTimeout(() => abandon(r, b, call), r.options.requestTimeoutMs);
  call.expiry.unref?.(); // a parked round never keeps the process up by itself
  if (call.ownerClient) watchOwners(r, b);
  cur.reply(
    resultLine(cur.msg.rawId, {
      resultType: "input_required",
      inputRequests,
      requestState: state,
      _meta: hooks.resultMeta(),
    }),
  );
  r.settled(cur.client);
  r.host.changed();
}

/** The retry `req` stands for the call at the child now: its answer, progress and cancel are the call's. */
function attach(r: RoutingCore, call: Call, req: BridgeRequest, hooks: BridgeHooks): void {
  const p = call.pending;
  p.client = req.client;
  p.key = req.msg.key;
  p.rawId = req.msg.rawId;
  p.reply = req.reply;
  req.client.inflight.set(req.msg.key, p.muxId);
  req.client.lastRequestAt = Date.now();
  // Re-added so the deadline sweep keeps its oldest-first order.
  r.pending.remove(p);
  p.deadline = performance.now() + r.options.requestTimeoutMs;
  r.pending.add(p);
  const token = req.msg.progressSpan;
  if (token && !req.msg.bytes) {
    r.progress.give(p.muxId, {
      client: req.client,
      rawToken: req.msg.text.slice(token[0], token[1]),
      key: req.msg.key,
    });
    p.progressToken = p.muxId;
  }
  hooks.track(req);
  r.host.changed();
}

/** The child answered the call: the request standing for it gets the answer; a parked call keeps it for the retry. */
function finish(r: RoutingCore, b: Bridge, call: Call, res: ResponseMessage, hooks: BridgeHooks): void {
  clearTimeout(call.gatherTimer);
  call.gatherTimer = undefined;
  for (const a of call.gathering) r.serverRequests.answerUnrouted(a.msg.rawId, a.msg.method, "the call has ended");
  call.gathering = [];
  call.open.clear();
  const cur = call.current;
  if (!cur) {
    // The child gone or the mux closing: the handle is dead (a retry gets -32602, and starts over).
    const code = res.error?.code;
    if (code === RpcErrorCode.ServerExited || code === RpcErrorCode.ShuttingDown) return forget(b, call);
    call.final = res;
    return;
  }
  forget(b, call);
  cur.client.inflight.delete(cur.msg.key);
  hooks.untrack(cur.client, cur.msg.key);
  cur.reply(hooks.stamp(cur.msg, res));
  r.settled(cur.client);
  r.host.changed();
}

/** Nobody resumed the round in time: the child's questions get an error and its call is cancelled. */
function abandon(r: RoutingCore, b: Bridge, call: Call, why: "timeout" | "gone" | "limit" = "timeout"): void {
  forget(b, call);
  const ms = r.options.requestTimeoutMs;
  const [code, text] =
    why === "timeout"
      ? [RpcErrorCode.RequestTimeout, `the client did not answer this input_required round within ${ms} ms`]
      : why === "gone"
        ? [RpcErrorCode.NoRoute, "the client of this input_required round disconnected"]
        : [RpcErrorCode.NoRoute, `the client parked more than ${MAX_PARKED_PER_OWNER} input_required rounds`];
  if (r.state === "ready")
    for (const q of call.open.values()) r.host.writeChild(errorLine(q.childRawId, code, `mcp-mux: ${text}`));
  call.open.clear();
  if (r.pending.get(call.muxId) === call.pending) {
    r.dropPending(call.pending);
    r.cancelAtChild(call.muxId, `input_required round abandoned: ${text}`);
  }
  r.logger.debug(`input_required round of ${call.method} abandoned: ${text}`);
  r.host.changed();
}

/**
 * Parked rounds of socket clients that have gone are abandoned at once (an HTTP principal
 * never "goes": its rounds wait for the timeout). Checked once a second while any is parked.
 */
function watchOwners(r: RoutingCore, b: Bridge): void {
  if (b.watch) return;
  b.watch = setInterval(() => {
    let left = false;
    for (const c of [...b.byId.values()]) {
      if (c.current || !c.ownerClient) continue;
      if (r.clients.has(c.ownerClient) && !c.ownerClient.closed) left = true;
      else abandon(r, b, c, "gone");
    }
    if (!left) {
      clearInterval(b.watch);
      b.watch = undefined;
    }
  }, OWNER_CHECK_MS);
  b.watch.unref?.();
}

/** An owner parking more calls than `MAX_PARKED_PER_OWNER`: its oldest parked one is abandoned. */
function limitParked(r: RoutingCore, b: Bridge, call: Call): void {
  const mine = [...b.byId.values()].filter((c) => c.owner === call.owner && c !== call && !c.current);
  if (mine.length >= MAX_PARKED_PER_OWNER) abandon(r, b, mine[0] as Call, "limit");
}

/**
 * The request digest of `msg`. A message on the byte path carries only its small params
 * members, so its params are read from its bytes: else big arguments would bind nothing and
 * a state would resume a request with other arguments.
 */
function digestOf(msg: RequestMessage): string {
  return requestDigest(wholeParams(msg));
}

/** The question as the modern client sees it: no id, no task or related-task, no URL elicitationId, no key hint. */
export function question(msg: RequestMessage): Question {
  const params: JsonObject = isObject(msg.params) ? { ...msg.params } : {};
  delete params.task;
  if (msg.method === "elicitation/create" && params.mode === "url") delete params.elicitationId;
  if (isObject(params._meta)) {
    const meta: JsonObject = { ...params._meta };
    delete meta["io.modelcontextprotocol/related-task"];
    delete meta[KEY_HINT_META];
    if (Object.keys(meta).length > 0) params._meta = meta;
    else delete params._meta;
  }
  return { childRawId: msg.rawId, method: msg.method, params };
}

/** The key of a question: the child's own hint when usable, else `<kind>_<n>` counted per call. */
function keyFor(call: Call, msg: RequestMessage): string {
  const meta = msg.params?._meta;
  const hint = isObject(meta) ? meta[KEY_HINT_META] : undefined;
  if (typeof hint === "string" && KEY_HINT.test(hint) && !(hint in Object.prototype) && !call.used.has(hint)) {
    call.used.add(hint);
    return hint;
  }
  const kind = KIND[msg.method] ?? "input";
  for (;;) {
    const n = (call.ordinals.get(kind) ?? 0) + 1;
    call.ordinals.set(kind, n);
    const key = `${kind}_${n}`;
    if (call.used.has(key)) continue;
    call.used.add(key);
    return key;
  }
}

/**
 * The line answering the child's question `rawId` (`method`) with the client's `v`, or why it
 * cannot be: a wrong shape, or a value nested too deep to write again (JSON.parse reads any
 * depth, JSON.stringify overflows the stack: thrown in a timer, that left the request unanswered).
 */
function answerLine(rawId: string, method: string, v: unknown): string | { bad: string } {
  const bad = answerProblem(method, v);
  if (bad) return { bad };
  try {
    return resultLine(rawId, v);
  } catch {
    return { bad: "nested too deep" };
  }
}

/** Why an answer cannot go to the child as the result of `method`, if it cannot. */
export function answerProblem(method: string, v: unknown): string | undefined {
  if (!isObject(v)) return "must be an object (the result of the input request)";
  if (method === "elicitation/create") {
    if (v.action !== "accept" && v.action !== "decline" && v.action !== "cancel")
      return 'action must be "accept", "decline" or "cancel"';
    if (v.content !== undefined && !isObject(v.content)) return "content must be an object";
  } else if (method === "sampling/createMessage") {
    if (typeof v.role !== "string") return "role must be a string";
    if (!isObject(v.content) && !Array.isArray(v.content)) return "content must be an object or an array";
  } else if (method === "roots/list") {
    if (!Array.isArray(v.roots) || !v.roots.every((x) => isObject(x) && typeof x.uri === "string"))
      return "roots must be an array of objects with a uri";
  }
  return undefined;
}
