/**
 * Per-method routing rules (routing spec §1): four tables, one per direction and kind.
 * A method without a rule takes the default path: client requests are forwarded with a
 * rewritten id, client notifications are forwarded, child notifications are broadcast to
 * operational clients, and child requests are refused with -32601.
 * @module
 */

import {
  idKeyOf,
  isObject,
  type JsonObject,
  type NotificationMessage,
  type RequestMessage,
} from "../protocol/message.ts";
import { errorLine, RpcErrorCode, resultLine } from "../protocol/rpc-error.ts";
import { spanAt, splice } from "../protocol/scan.ts";
import { capabilitiesFor, negotiateVersion } from "../protocol/versions.ts";
import type { MuxClient } from "./client.ts";
import { MRTR_METHODS, parkedQuestion } from "./era2026/bridge.ts";
import { forgetToolSupport, taskQuestion, taskStatus } from "./era2026/legacy-tasks.ts";
import {
  askModern,
  endListen,
  failModern,
  type ListenFilter,
  modernCauses,
  modernLogTarget,
  modernRequest,
  notifyListens,
} from "./era2026/modern.ts";
import { cancelAsking } from "./era2026/modern-child.ts";
import { isLogLevel, passesLevel } from "./levels.ts";
import { combineRoots, type Root } from "./roots.ts";
import type { RoutingCore } from "./routing/core.ts";
import type { Reply } from "./routing/types.ts";
import { redactStatus, type StatusSnapshot } from "./status.ts";

/** Handles one client request. */
export type ClientRequestRule = (r: RoutingCore, s: MuxClient, msg: RequestMessage, reply: Reply) => void;
/** Handles one client notification. */
export type ClientNotificationRule = (r: RoutingCore, s: MuxClient, msg: NotificationMessage) => void;
/** Handles one request from the child. */
export type ChildRequestRule = (r: RoutingCore, msg: RequestMessage) => void;
/** Handles one notification from the child. */
export type ChildNotificationRule = (r: RoutingCore, msg: NotificationMessage) => void;

/** Client → server requests with a rule of their own. */
export const clientRequestRules: Record<string, ClientRequestRule> = {
  initialize(r, s, msg, reply) {
    const params = msg.params ?? {};
    s.session = true;
    if (!s.initialized) {
      s.capabilities = isObject(params.capabilities) ? params.capabilities : {};
      s.clientInfo = isObject(params.clientInfo) ? params.clientInfo : undefined;
    }
    // A dormant child's last result answers at once: the child starts for a request that needs it.
    if ((r.state !== "ready" && r.state !== "dormant") || !r.initResult) return r.waitInitialize(s, msg, reply);
    const version = negotiateVersion(params.protocolVersion, String(r.initResult.protocolVersion));
    s.protocolVersion = version;
    s.initialized = true;
    const caps = isObject(r.initResult.capabilities) ? r.initResult.capabilities : {};
    reply(
      resultLine(msg.rawId, {
        ...r.initResult,
        protocolVersion: version,
        capabilities: capabilitiesFor(version, caps),
      }),
    );
    r.applyLogLevel();
    r.host.changed();
  },

  /**
   * A ping is the server's to answer (so `mux health` tells the truth): forwarded to the child,
   * past the active-client slots; while the child starts, it waits for it like any request.
   * Before the deferred handshake (`waiting`) the child answers it uninitialized, as MCP allows.
   * While the server is dormant the mux answers it, so hosts' keep-alives do not wake it
   * (unless its `_meta` says `"mcp-mux/wake": true`, as `mux health --wake` sends).
   */
  ping(r, s, msg, reply) {
    if (r.state === "failed") return reply(r.failedError(msg.rawId));
    // A dormant server is not woken for a keep-alive: the mux answers (`mux health` reads the state).
    if (r.state === "dormant" && !wakeAsked(msg)) return reply(resultLine(msg.rawId, {}));
    if ((r.state === "ready" || r.state === "waiting") && !s.inflight.has(msg.key)) {
      r.forward(s, msg, reply);
      return;
    }
    r.submit(s, msg, reply);
  },

  /**
   * The modern era probe (protocol-2026 §1.3, §2.1), answered from the child's cached
   * initialize; a probe without the modern envelope is malformed (-32602), an unsupported
   * version gets -32022 with the supported list: either sends a dual-era client to initialize.
   */
  "server/discover"(r, s, msg, reply) {
    modernRequest(r, s, msg, reply);
  },

  "mcp-mux/status"(r, s, msg, reply) {
    reply(resultLine(msg.rawId, redactStatus(r.host.status() as StatusSnapshot, s.transport)));
  },

  // The mux's own methods never reach the server, and a client of a service socket cannot
  // run the daemon's: reload is for the owner's tools, on the control socket only.
  "mcp-mux/reload"(_r, _s, msg, reply) {
    reply(notHere(msg));
  },

  "mcp-mux/hello"(_r, _s, msg, reply) {
    reply(notHere(msg));
  },

  "logging/setLevel"(r, s, msg, reply) {
    const level = msg.params?.level;
    if (!isLogLevel(level))
      return reply(
        errorLine(
          msg.rawId,
          RpcErrorCode.InvalidParams,
          // Named, never String()ed: a deeply nested array would overflow the stack.
          `Invalid log level: ${typeof level === "string" ? level.slice(0, 64) : typeof level}`,
        ),
      );
    const caps = r.initResult?.capabilities;
    if (isObject(caps) && !("logging" in caps)) {
      return reply(
        errorLine(msg.rawId, RpcErrorCode.MethodNotFound, "Method not found: the server does not support logging"),
      );
    }
    s.logLevel = level;
    reply(resultLine(msg.rawId, {}));
    r.applyLogLevel();
  },

  "resources/subscribe"(r, s, msg, reply) {
    const uri = msg.params?.uri;
    if (typeof uri !== "string")
      return reply(errorLine(msg.rawId, RpcErrorCode.InvalidParams, "Invalid params: uri required"));
    r.subscriptions.subscribe(s, msg, uri, reply);
  },

  "resources/unsubscribe"(r, s, msg, reply) {
    const uri = msg.params?.uri;
    if (typeof uri !== "string")
      return reply(errorLine(msg.rawId, RpcErrorCode.InvalidParams, "Invalid params: uri required"));
    r.subscriptions.unsubscribe(s, msg, uri, reply);
  },

  "tools/list": listFromCache,
  "prompts/list": listFromCache,
  "resources/list": listFromCache,

  "tasks/get": ownTaskOnly,
  "tasks/result": ownTaskOnly,
  "tasks/cancel": ownTaskOnly,

  "tasks/list"(r, s, msg, reply) {
    r.submit(s, msg, reply, () =>
      r.forward(s, msg, reply, (res) => {
        if (res.error) return reply(errorLine(msg.rawId, res.error.code, res.error.message, res.error.data));
        const result = isObject(res.result) ? res.result : {};
        const tasks = Array.isArray(result.tasks) ? result.tasks : [];
        const mine = tasks.filter((t) => isObject(t) && typeof t.taskId === "string" && r.tasks.owner(t.taskId) === s);
        reply(resultLine(msg.rawId, { ...result, tasks: mine }));
      }),
    );
  },
};

/** Client → server notifications with a rule of their own. */
export const clientNotificationRules: Record<string, ClientNotificationRule> = {
  /** A hello counts only as a client's first line; a later one is dropped, never forwarded. */
  "mcp-mux/hello"() {},

  "notifications/initialized"(r, s) {
    if (!s.initialized || s.operational) return;
    s.operational = true;
    refreshRoots(r, s);
    r.host.changed();
  },

  "notifications/cancelled"(r, s, msg) {
    const key = requestIdKey(msg);
    if (key === undefined) return;
    cancelRequest(r, s, key, typeof msg.params?.reason === "string" ? msg.params.reason : "cancelled by client");
  },

  "notifications/roots/list_changed"(r, s) {
    refreshRoots(r, s);
  },
};

/**
 * The client gave up request `key` (a `notifications/cancelled`, or its HTTP stream closed):
 * a listen ends, a held request is dropped, one at the child is cancelled there; its answer,
 * if one still comes, goes nowhere. Unknown keys are ignored.
 */
export function cancelRequest(r: RoutingCore, s: MuxClient, key: string, reason: string): void {
  if (endListen(s, key) || cancelAsking(r, s, key)) return;
  const muxId = s.inflight.get(key);
  if (muxId === undefined) return;
  if (muxId === 0) {
    r.cancelHeld(s, key);
    return;
  }
  const p = r.pending.get(muxId);
  if (!p || p.method === "initialize") return;
  r.dropPending(p);
  r.cancelAtChild(muxId, reason);
  r.host.changed();
}

/** Server (child) → client requests. */
export const childRequestRules: Record<string, ChildRequestRule> = {
  ping(r, msg) {
    r.host.writeChild(resultLine(msg.rawId, {}));
  },

  "roots/list"(r, msg) {
    if (taskQuestion(r, msg, (caps) => isObject(caps.roots))) return;
    // Asked while a modern tools/call (prompts/get, resources/read) is its only cause: that client answers it.
    if (modernRoute(r, msg, (caps) => isObject(caps.roots), undefined)) return;
    answerRoots(r, msg, Date.now() + ROOTS_WAIT_MS);
  },

  "sampling/createMessage"(r, msg) {
    const p = msg.params ?? {};
    routeToClient(r, msg, (caps) => {
      const cap = caps.sampling;
      if (!isObject(cap)) return false;
      if ((p.tools !== undefined || p.toolChoice !== undefined) && !isObject(cap.tools)) return false;
      if (p.includeContext !== undefined && p.includeContext !== "none" && !isObject(cap.context)) return false;
      return true;
    });
  },

  "elicitation/create"(r, msg) {
    const mode = msg.params?.mode ?? "form";
    const elicitationId = typeof msg.params?.elicitationId === "string" ? msg.params.elicitationId : undefined;
    routeToClient(
      r,
      msg,
      (caps) => {
        const cap = caps.elicitation;
        if (!isObject(cap)) return false;
        if (mode === "url") return isObject(cap.url);
        return isObject(cap.form) || Object.keys(cap).length === 0;
      },
      elicitationId,
    );
  },
};

/** Server (child) → client notifications. */
export const childNotificationRules: Record<string, ChildNotificationRule> = {
  "notifications/tools/list_changed": listChanged("tools/list", "toolsListChanged"),
  "notifications/prompts/list_changed": listChanged("prompts/list", "promptsListChanged"),
  "notifications/resources/list_changed": listChanged("resources/list", "resourcesListChanged"),

  "notifications/progress"(r, msg) {
    const token = msg.params?.progressToken;
    const owner = typeof token === "number" ? r.progress.owner(token) : undefined;
    if (!owner) return; // unknown or released token: drop, never broadcast
    const span = spanAt(msg.text, ["params", "progressToken"]);
    if (span) owner.client.send(splice(msg.text, span, owner.rawToken), "progress", owner.key);
  },

  "notifications/message"(r, msg) {
    const owner = r.tasks.relatedOwner(msg.params);
    const level = msg.params?.level;
    if (!owner) {
      // A modern request's log lines: only to the one request at the child that asked for them.
      const target = modernLogTarget(r);
      if (target?.envelope.logLevel && passesLevel(level, target.envelope.logLevel))
        target.client.send(msg.text, "log", target.key);
    }
    for (const s of owner ? [owner] : r.clients)
      if (s.operational && passesLevel(level, s.logLevel)) s.send(msg.text, "log", busyRequest(r, s));
  },

  "notifications/resources/updated"(r, msg) {
    const uri = msg.params?.uri;
    if (typeof uri !== "string") return;
    for (const s of r.subscriptions.targets(uri, r.clients)) s.send(msg.text, "signal");
  },

  "notifications/cancelled"(r, msg) {
    const key = requestIdKey(msg);
    if (key === undefined) return;
    const span = spanAt(msg.text, ["params", "requestId"]);
    if (span) r.serverRequests.childCancelled(key, msg.text, span);
  },

  "notifications/elicitation/complete"(r, msg) {
    const id = msg.params?.elicitationId;
    const owner = typeof id === "string" ? r.serverRequests.completeElicitation(id) : undefined;
    owner?.send(msg.text, "notification");
  },

  /** The acknowledgement of the mux's own listen on a modern child (client listens' are routed before the rules). */
  "notifications/subscriptions/acknowledged"() {},

  /** A modern child's task status off any client listen: nobody asked for it. */
  "notifications/tasks"() {},

  "notifications/tasks/status"(r, msg) {
    if (taskStatus(r, msg.params)) return; // a modern client's task: kept for its tasks/get
    // Task ids and statuses are strings; anything else names no task (never String()ed: a deep array overflows).
    const taskId = msg.params?.taskId;
    if (typeof taskId !== "string") return;
    r.tasks.owner(taskId)?.send(msg.text, "notification");
    const status = msg.params?.status;
    if (typeof status === "string" && TERMINAL_TASK_STATUSES.has(status)) r.progress.taskTerminal(taskId);
  },
};

// --- internal ---

/**
 * A list request: while the server is dormant, its first page is answered from the last one the
 * server gave (persisted across daemon restarts), without waking it, unless the page's own
 * caching hint (`ttlMs`, from a 2026-07-28 server) says it is stale; otherwise the server's.
 */
function listFromCache(r: RoutingCore, s: MuxClient, msg: RequestMessage, reply: Reply): void {
  const page = r.state === "dormant" && s.initialized && msg.params?.cursor === undefined;
  const cached = page ? r.freshList(msg.method) : undefined;
  if (cached) return reply(resultLine(msg.rawId, cached));
  r.submit(s, msg, reply);
}

/** The child says a list changed: the cached page is stale; clients are told as always. */
/** A list changed: the cached page goes, every client hears it, and so do the listens asking for `listen`. */
function listChanged(method: string, listen: keyof ListenFilter): ChildNotificationRule {
  return (r, msg) => {
    r.cachedLists.delete(method);
    if (method === "tools/list") forgetToolSupport(r);
    // From a modern child it comes on the mux's own listen: legacy clients get it plain.
    r.broadcast(r.childEra === "modern" ? `{"jsonrpc":"2.0","method":"${msg.method}"}` : msg.text);
    notifyListens(r, listen, msg.method, msg.params);
  };
}

/** A ping whose `_meta` asks for a dormant server to be woken (`mux health --wake`). */
function wakeAsked(msg: RequestMessage): boolean {
  const meta = msg.params?._meta;
  return isObject(meta) && meta["mcp-mux/wake"] === true;
}

function notHere(msg: RequestMessage): string {
  const why =
    msg.method === "mcp-mux/hello"
      ? "a hello is a client's first line, without an id"
      : "it is served on the daemon's control socket only";
  return errorLine(msg.rawId, RpcErrorCode.MethodNotFound, `Method not found: ${msg.method} (${why})`);
}

const ROOTS_WAIT_MS = 2000;

const TERMINAL_TASK_STATUSES = new Set(["completed", "failed", "cancelled"]);

/** Methods during which the server may legitimately ask the caller something. */
const CAUSAL_METHODS = new Set(["tools/call", "prompts/get", "resources/read", "completion/complete", "tasks/result"]);

function ownTaskOnly(r: RoutingCore, s: MuxClient, msg: RequestMessage, reply: Reply): void {
  const taskId = msg.params?.taskId;
  if (typeof taskId !== "string" || r.tasks.owner(taskId) !== s) {
    return reply(errorLine(msg.rawId, RpcErrorCode.InvalidParams, "Task not found"));
  }
  r.submit(s, msg, reply);
}

/** The key of the client's newest request that could have caused a server request, if any. */
function causalRequest(r: RoutingCore, s: MuxClient): string | undefined {
  let found: string | undefined;
  for (const [key, muxId] of s.inflight) {
    const p = r.pending.get(muxId);
    if (p && CAUSAL_METHODS.has(p.method)) found = key;
  }
  return found;
}

/** The key of the client's newest request at the child, if any (where HTTP puts unrelated lines). */
function busyRequest(r: RoutingCore, s: MuxClient): string | undefined {
  let found: string | undefined;
  for (const [key, muxId] of s.inflight) if (muxId !== 0 && r.pending.has(muxId)) found = key;
  return found;
}

/** The key of a cancellation's `requestId`, from its exact text. */
function requestIdKey(msg: NotificationMessage): string | undefined {
  const requestId = msg.params?.requestId;
  if (typeof requestId !== "string" && typeof requestId !== "number") return undefined;
  const span = spanAt(msg.text, ["params", "requestId"]);
  return span ? idKeyOf(msg.text.slice(span[0], span[1])) : undefined;
}

/**
 * Route a server→client request to exactly one client (routing spec §2.5):
 * 1. a related task's owner; 2. the one client with a causal request in flight;
 * 3. with nothing in flight, the only capable client. Anything else is ambiguous: refused
 * by default (`ambiguousRoute: "error"`), or sent to the most recently active candidate.
 */
function routeToClient(
  r: RoutingCore,
  msg: RequestMessage,
  capableOf: (caps: JsonObject) => boolean,
  elicitationId?: string,
): void {
  const capable = (s: MuxClient): boolean => capableOf(s.capabilities);
  const refuse = (why: string): void => r.serverRequests.answerUnrouted(msg.rawId, msg.method, why);
  // A question for a task a 2026-07-28 client owns: one of the task's inputRequests.
  if (taskQuestion(r, msg, capableOf)) return;
  const taskOwner = r.tasks.relatedOwner(msg.params);
  if (!taskOwner && modernRoute(r, msg, capableOf, refuse)) return;
  if (taskOwner)
    return capable(taskOwner)
      ? r.serverRequests.send(taskOwner, msg, elicitationId, causalRequest(r, taskOwner))
      : refuse("the task owner lacks the capability");
  const live = [...r.clients].filter((s) => s.operational);
  const busy = live.filter((s) => causalRequest(r, s) !== undefined);
  if (busy.length === 1) {
    const only = busy[0] as MuxClient;
    return capable(only)
      ? r.serverRequests.send(only, msg, elicitationId, causalRequest(r, only))
      : refuse("the calling client did not declare the capability");
  }
  const candidates = (busy.length === 0 ? live : busy).filter(capable);
  if (candidates.length === 0) return refuse("no connected client declared the capability");
  if (busy.length === 0 && candidates.length === 1)
    return r.serverRequests.send(candidates[0] as MuxClient, msg, elicitationId);
  if (r.options.ambiguousRoute === "most-recent") {
    candidates.sort((a, b) => b.lastRequestAt - a.lastRequestAt);
    const chosen = candidates[0] as MuxClient;
    r.logger.warn(`${msg.method}: ambiguous origin; sending to the most recently active client ${chosen.id}`);
    return r.serverRequests.send(chosen, msg, elicitationId, causalRequest(r, chosen));
  }
  refuse("several clients could have caused it (set ambiguous_route to most-recent to pick one)");
}

/**
 * A server→client request while exactly one modern request (and no legacy one) could have
 * caused it (protocol-2026 §3.2): the modern client cannot be asked directly. A `tools/call`,
 * `prompts/get` or `resources/read` goes to the `input_required` bridge (`era2026/bridge.ts`).
 * Other methods cannot answer `input_required`: without the capability in that request's own
 * envelope, the request is answered -32021 naming it, the child's question refused and its
 * call cancelled; with it, only the question is refused. Without `refuse` (roots, which the mux
 * otherwise answers itself) only the bridge is tried. False when the question is not a modern one's.
 */
function modernRoute(
  r: RoutingCore,
  msg: RequestMessage,
  capableOf: (caps: JsonObject) => boolean,
  refuse: ((why: string) => void) | undefined,
): boolean {
  const causes = modernCauses(r, CAUSAL_METHODS);
  if (causes.length === 0 && parkedQuestion(r, msg, capableOf)) return true;
  if (causes.length !== 1) return false;
  if ([...r.clients].some((s) => s.operational && causalRequest(r, s) !== undefined)) return false;
  const cause = causes[0] as (typeof causes)[number];
  if (MRTR_METHODS.has(cause.pending.method)) {
    askModern(r, msg, cause, capableOf, requiredCapability(msg));
    return true;
  }
  if (!refuse) return false;
  if (capableOf(cause.envelope.capabilities)) {
    refuse(`the calling client speaks 2026-07-28, and ${cause.pending.method} cannot answer input_required`);
    return true;
  }
  const required = requiredCapability(msg);
  const why = `Missing required client capability: ${Object.keys(required).join(", ")} (needed by ${msg.method})`;
  refuse("the calling client did not declare the capability");
  failModern(
    r,
    cause,
    errorLine(cause.pending.rawId, RpcErrorCode.MissingRequiredClientCapability, why, {
      requiredCapabilities: required,
    }),
    "the client lacks a required capability",
  );
  return true;
}

/** The `ClientCapabilities` a server→client request needs (for -32021's `requiredCapabilities`). */
function requiredCapability(msg: RequestMessage): JsonObject {
  const p = msg.params ?? {};
  if (msg.method === "sampling/createMessage")
    return { sampling: p.tools !== undefined || p.toolChoice !== undefined ? { tools: {} } : {} };
  if (msg.method === "elicitation/create") return { elicitation: p.mode === "url" ? { url: {} } : { form: {} } };
  return { roots: {} };
}

function refreshRoots(r: RoutingCore, s: MuxClient): void {
  if (r.options.rootsPolicy === "none" || !isObject(s.capabilities.roots) || !s.operational) return;
  r.serverRequests.ask(s, "roots/list", (res) => {
    const given = isObject(res.result) && Array.isArray(res.result.roots) ? (res.result.roots as Root[]) : [];
    const roots = given.filter(writable); // a root nested past JSON.stringify's stack would throw here and later
    const changed = JSON.stringify(roots) !== JSON.stringify(s.roots);
    s.roots = roots;
    if (changed) r.rootsChanged();
  });
}

/**
 * The server's `roots/list`, answered by the mux per the roots policy. When the mux declared
 * `roots`, the answer is always a valid list (empty when no connected client exposes roots);
 * only a child that was never told about roots gets -32601.
 */
function answerRoots(r: RoutingCore, msg: RequestMessage, deadline: number): void {
  const declared = isObject(r.declaredCapabilities?.roots);
  if (r.options.rootsPolicy === "none" || !declared) {
    r.host.writeChild(errorLine(msg.rawId, RpcErrorCode.MethodNotFound, "Method not found: roots are not shared"));
    return;
  }
  const capable = [...r.clients]
    .filter((s) => s.operational && isObject(s.capabilities.roots))
    .sort((a, b) => a.connectedAt - b.connectedAt);
  if (capable.length === 0) {
    r.host.writeChild(resultLine(msg.rawId, { roots: [] }));
    return;
  }
  if (capable.some((s) => s.roots === undefined) && Date.now() < deadline) {
    setTimeout(() => answerRoots(r, msg, deadline), 25);
    return;
  }
  const roots = combineRoots(
    r.options.rootsPolicy,
    capable.map((s) => s.roots ?? []),
  );
  r.host.writeChild(resultLine(msg.rawId, { roots }));
}

/** True when `v` can be written as JSON again (JSON.parse reads any depth; JSON.stringify does not). */
function writable(v: unknown): boolean {
  try {
    JSON.stringify(v);
    return true;
  } catch {
    return false;
  }
}
