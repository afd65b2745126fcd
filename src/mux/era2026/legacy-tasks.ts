/**
 * The tasks extension (`io.modelcontextprotocol/tasks`) for 2026-07-28 clients of a LEGACY
 * (2025-11-25) child that has `tasks` (protocol-2026 §1.10, §3.1 "tasks extension declared"):
 *
 * - `tools/call` of a tool whose `execution.taskSupport` is `optional`/`required` from a client
 *   that declared the extension goes to the child with `params.task`; the child's `{task}` is
 *   flattened into `resultType:"task"` (`ttl`→`ttlMs`, `pollInterval`→`pollIntervalMs`, no
 *   `requestState`). A `required` tool called without the extension: -32021 naming it. A
 *   client's own (legacy) `params.task` hint never reaches the child.
 * - `tasks/get` → the child's `tasks/get`; once terminal, its `tasks/result` is fetched once
 *   and inlined (`result` for completed, `error` for failed).
 * - `input_required`: a child `tasks/result` is kept open (a legacy server may deliver its
 *   questions only on it), its server→client requests carrying `related-task` are parked and
 *   shown as `inputRequests`; `tasks/update` answers them (unknown keys ignored).
 * - `tasks/cancel` → the child's, its -32602 on a terminal task swallowed (the ack is the same).
 * - Tasks belong to the principal whose call created them; anyone else's id is -32602.
 * @module
 */

import { isObject, type JsonObject, parseMessage, type RequestMessage } from "../../protocol/message.ts";
import { errorLine, RpcErrorCode, resultLine } from "../../protocol/rpc-error.ts";
import { META } from "../../protocol/versions.ts";
import type { MuxClient } from "../client.ts";
import type { RoutingCore } from "../routing/core.ts";
import type { BridgedTask } from "../routing/tasks.ts";
import type { Pending, Reply } from "../routing/types.ts";
import { answerProblem, ownerOf, question } from "./bridge.ts";

/** The tasks extension's key. */
export const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";

/** Methods of the extension the mux serves over a legacy child. */
export const TASK_METHODS: ReadonlySet<string> = new Set(["tasks/get", "tasks/update", "tasks/cancel"]);

/** Whether the legacy child can run `tools/call` as a task (2025-11-25 `tasks.requests.tools.call`). */
export function legacyTasksOn(r: RoutingCore): boolean {
  if (r.childEra === "modern") return false;
  const tasks = isObject(r.initResult?.capabilities) ? r.initResult.capabilities.tasks : undefined;
  const requests = isObject(tasks) ? tasks.requests : undefined;
  const tools = isObject(requests) ? requests.tools : undefined;
  return isObject(tools) && isObject(tools.call);
}

/** Whether a request's capabilities declare the extension. */
export function declaresTasks(caps: JsonObject): boolean {
  return isObject(caps.extensions) && isObject(caps.extensions[TASKS_EXTENSION]);
}

/** The -32021 answer naming the extension. */
export function tasksRequired(rawId: string, method: string): string {
  return errorLine(
    rawId,
    RpcErrorCode.MissingRequiredClientCapability,
    `Missing required client capability: extension ${TASKS_EXTENSION} (needed by ${method})`,
    { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } },
  );
}

/**
 * A modern `tools/call` bound for a legacy child with tasks: `out` (the child's view) without
 * any client `task` hint, with `params.task` when the tool supports tasks and the client
 * declared the extension; or -32021 for a task-required tool called without it.
 */
export function prepareToolCall(
  r: RoutingCore,
  out: RequestMessage,
  caps: JsonObject,
  done: (out: RequestMessage | undefined, refusal?: string, asTask?: boolean) => void,
): void {
  const name = out.params?.name;
  const hinted = isObject(out.params) && "task" in out.params;
  if (!legacyTasksOn(r) || typeof name !== "string") return done(hinted ? withTask(out, undefined) : out);
  toolSupport(r, (support) => {
    const mode = support.get(name);
    const declared = declaresTasks(caps);
    if (mode === "required" && !declared) return done(undefined, tasksRequired(out.rawId, "tools/call"));
    const asTask = declared && (mode === "optional" || mode === "required");
    done(asTask || hinted ? withTask(out, asTask ? {} : undefined) : out, undefined, asTask);
  });
}

/**
 * A `tools/call` went to the child with `params.task` (pending as `p`): until it is answered,
 * questions naming a task id not known yet may be that task's (a child may ask before its
 * `CreateTaskResult` is on the wire); they wait for it.
 */
export function taskCallSent(r: RoutingCore, p: Pending): void {
  const e = earlyOf(r);
  for (const q of e.calls) if (r.pending.get(q.muxId) !== q) e.calls.delete(q);
  e.calls.add(p);
}

/** The child's list changed: task support is read again on the next call. */
export function forgetToolSupport(r: RoutingCore): void {
  supports.delete(r);
}

/**
 * A child `tools/call` result carrying a 2025-11-25 `{task}`, for a client that declared the
 * extension: the flat `CreateTaskResult`, the task noted for its principal. Undefined otherwise.
 */
export function flattenCreated(
  r: RoutingCore,
  client: MuxClient,
  caps: JsonObject,
  result: JsonObject,
): JsonObject | undefined {
  const task = result.task;
  if (!isObject(task) || typeof task.taskId !== "string" || !declaresTasks(caps)) return undefined;
  const ttl = typeof task.ttl === "number" && task.ttl > 0 ? Math.round(task.ttl) : null;
  const now = Date.now();
  const entry: BridgedTask = {
    taskId: task.taskId,
    owner: ownerOf(client),
    ownerClient: client.transport === "http" ? undefined : client,
    capabilities: caps,
    task,
    inputs: new Map(),
    ordinals: new Map(),
    final: undefined,
    resultOpen: false,
    onFinal: [],
    expiresAt: now + Math.min(ttl ?? MAX_KEEP_MS, MAX_KEEP_MS),
  };
  r.tasks.noteBridged(entry, MAX_TASKS);
  const e = early.get(r);
  const waiting = e?.questions.get(entry.taskId);
  if (e && waiting) {
    e.questions.delete(entry.taskId);
    for (const msg of waiting) park(r, entry, msg.msg, msg.capable);
  }
  return flatTask(task, { resultType: "task" });
}

/** A modern client's `tasks/get`, `tasks/update` or `tasks/cancel` while the child is legacy. */
export function taskRequest(r: RoutingCore, s: MuxClient, msg: RequestMessage, caps: JsonObject, reply: Reply): void {
  if (!declaresTasks(caps)) return reply(tasksRequired(msg.rawId, msg.method));
  const taskId = msg.params?.taskId;
  const t = typeof taskId === "string" ? r.tasks.bridged(taskId) : undefined;
  if (!t || t.owner !== ownerOf(s))
    return reply(errorLine(msg.rawId, RpcErrorCode.InvalidParams, "Invalid params: task not found"));
  const meta = (): JsonObject => ({ [META.serverInfo]: r.initResult?.serverInfo });
  const ack = (): void => reply(resultLine(msg.rawId, { resultType: "complete", _meta: meta() }));
  const fail = (res: { code: number; message: string; data?: unknown }): void =>
    reply(errorLine(msg.rawId, res.code, res.message, res.data));
  r.submit(s, msg, reply, () => {
    if (msg.method === "tasks/update") {
      const responses = msg.params?.inputResponses;
      if (!isObject(responses))
        return reply(
          errorLine(msg.rawId, RpcErrorCode.InvalidParams, "Invalid params: inputResponses must be an object"),
        );
      for (const [key, value] of Object.entries(responses)) {
        const q = t.inputs.get(key);
        if (!q) continue; // unknown or already answered: ignored
        const bad = answerProblem(q.method, value);
        if (bad)
          return reply(
            errorLine(msg.rawId, RpcErrorCode.InvalidParams, `Invalid params: inputResponses.${key}: ${bad}`),
          );
      }
      for (const [key, value] of Object.entries(responses)) {
        const q = t.inputs.get(key);
        if (!q) continue;
        t.inputs.delete(key);
        r.host.writeChild(resultLine(q.childRawId, value));
      }
      return ack();
    }
    if (msg.method === "tasks/cancel") {
      return void r.request("tasks/cancel", { taskId: t.taskId }, (res) => {
        if (res.error && res.error.code !== RpcErrorCode.InvalidParams) return fail(res.error);
        if (!res.error && isObject(res.result)) t.task = res.result;
        releaseInputs(r, t, "the task was cancelled");
        ack();
      });
    }
    r.request("tasks/get", { taskId: t.taskId }, (res) => {
      if (res.error) {
        if (res.error.code === RpcErrorCode.InvalidParams) r.tasks.dropBridged(t.taskId); // expired at the child
        return fail(res.error);
      }
      if (isObject(res.result)) t.task = res.result;
      detailed(r, t, (body) => reply(resultLine(msg.rawId, { ...body, _meta: meta() })));
    });
  });
}

/**
 * A server→client request of the child naming (`related-task`) a task a modern client owns:
 * parked as one of the task's `inputRequests`, or refused when the task's client did not
 * declare what it needs. False when it names no such task.
 */
export function taskQuestion(r: RoutingCore, msg: RequestMessage, capable: (caps: JsonObject) => boolean): boolean {
  const related = isObject(msg.params?._meta) ? msg.params._meta[RELATED_TASK] : undefined;
  const taskId = isObject(related) ? related.taskId : undefined;
  if (typeof taskId !== "string") return false;
  const t = r.tasks.bridged(taskId);
  if (!t) return earlyQuestion(r, taskId, msg, capable);
  park(r, t, msg, capable);
  return true;
}

/** Park (or refuse) a child question for `t`. */
function park(r: RoutingCore, t: BridgedTask, msg: RequestMessage, capable: (caps: JsonObject) => boolean): void {
  if (!capable(t.capabilities)) {
    r.serverRequests.answerUnrouted(msg.rawId, msg.method, "the task's client did not declare the capability");
    return;
  }
  if (t.inputs.size >= MAX_INPUTS) {
    r.serverRequests.answerUnrouted(msg.rawId, msg.method, `the task has ${MAX_INPUTS} questions open already`);
    return;
  }
  const kind = KIND[msg.method] ?? "input";
  const n = (t.ordinals.get(kind) ?? 0) + 1;
  t.ordinals.set(kind, n);
  const q = question(msg);
  t.inputs.set(`${kind}_${n}`, { childRawId: q.childRawId, method: q.method, params: q.params });
}

interface Early {
  /** `tools/call`s sent with `params.task`, not answered yet. */
  calls: Set<Pending>;
  /** Questions naming a task id not known yet, by that id. */
  questions: Map<string, { msg: RequestMessage; capable: (caps: JsonObject) => boolean }[]>;
  sweep?: ReturnType<typeof setTimeout>;
}

const early = new WeakMap<RoutingCore, Early>();

/** Questions held for tasks not created yet, at most. */
const MAX_EARLY = 64;

function earlyOf(r: RoutingCore): Early {
  let e = early.get(r);
  if (!e) {
    e = { calls: new Set(), questions: new Map() };
    early.set(r, e);
  }
  return e;
}

/** A question naming an unknown task while a task call is in flight: held for it (true), else false. */
function earlyQuestion(
  r: RoutingCore,
  taskId: string,
  msg: RequestMessage,
  capable: (caps: JsonObject) => boolean,
): boolean {
  const e = early.get(r);
  if (!e || r.tasks.owner(taskId)) return false; // a legacy client's task: its own routing
  for (const q of e.calls) if (r.pending.get(q.muxId) !== q) e.calls.delete(q);
  if (e.calls.size === 0) return false;
  let held = 0;
  for (const list of e.questions.values()) held += list.length;
  if (held >= MAX_EARLY) {
    r.serverRequests.answerUnrouted(msg.rawId, msg.method, "too many questions for tasks not created yet");
    return true;
  }
  const list = e.questions.get(taskId) ?? [];
  list.push({ msg, capable });
  e.questions.set(taskId, list);
  scheduleSweep(r, e);
  return true;
}

/** Questions still held once no task call is in flight name no task of ours: refused. */
function scheduleSweep(r: RoutingCore, e: Early): void {
  if (e.sweep) return;
  e.sweep = setTimeout(() => {
    e.sweep = undefined;
    for (const q of e.calls) if (r.pending.get(q.muxId) !== q) e.calls.delete(q);
    if (e.calls.size > 0) return scheduleSweep(r, e);
    for (const list of e.questions.values())
      for (const q of list) r.serverRequests.answerUnrouted(q.msg.rawId, q.msg.method, "it names no known task");
    e.questions.clear();
  }, SWEEP_MS);
  e.sweep.unref?.();
}

const SWEEP_MS = 100;

/** A child `notifications/tasks/status` for a task a modern client owns: kept, never sent on (true). */
export function taskStatus(r: RoutingCore, params: JsonObject | undefined): boolean {
  const taskId = params?.taskId;
  const t = typeof taskId === "string" ? r.tasks.bridged(taskId) : undefined;
  if (!t || !params) return false;
  const { _meta: _, ...task } = params;
  t.task = task;
  if (task.status === "input_required") openResult(r, t);
  return true;
}

/**
 * Tasks whose socket connection went away (`TaskOwners.dropClient`): nobody can reach them any
 * more, so their parked questions are answered with an error and the child is asked to cancel
 * them (its answer, whatever it is, is not needed).
 */
export function cancelOrphanTasks(r: RoutingCore, orphans: readonly BridgedTask[]): void {
  if (r.state !== "ready") return;
  for (const t of orphans) {
    for (const q of t.inputs.values())
      r.serverRequests.answerUnrouted(q.childRawId, q.method, "the client that owns the task disconnected");
    r.request("tasks/cancel", { taskId: t.taskId }, () => {});
  }
}

// --- internal ---

const RELATED_TASK = "io.modelcontextprotocol/related-task";

/** Tasks the mux keeps per child (the oldest go first). */
const MAX_TASKS = 4096;

/** The longest a task is kept without news: a day. */
const MAX_KEEP_MS = 86_400_000;

/** Questions one task may hold open. */
const MAX_INPUTS = 16;

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

const KIND: Record<string, string> = {
  "elicitation/create": "elicitation",
  "sampling/createMessage": "sampling",
  "roots/list": "roots",
};

/** Per child, the task support of its tools (by name), once read. */
const supports = new WeakMap<
  RoutingCore,
  { map?: Map<string, string>; waiting: ((m: Map<string, string>) => void)[]; init: unknown }
>();

/** Pages of tools/list read for task support at most. */
const MAX_PAGES = 20;

function toolSupport(r: RoutingCore, use: (support: Map<string, string>) => void): void {
  let s = supports.get(r);
  if (s && s.init !== r.initResult) s = undefined; // a restarted child: its tools are read again
  if (s?.map) return use(s.map);
  if (s) return void s.waiting.push(use);
  s = { waiting: [use], init: r.initResult };
  supports.set(r, s);
  const entry = s;
  const map = new Map<string, string>();
  const page = (cursor: unknown, n: number): void => {
    r.request("tools/list", cursor === undefined ? undefined : { cursor }, (res) => {
      const result = isObject(res.result) ? res.result : {};
      for (const tool of Array.isArray(result.tools) ? result.tools : []) {
        if (!isObject(tool) || typeof tool.name !== "string") continue;
        const mode = isObject(tool.execution) ? tool.execution.taskSupport : undefined;
        if (mode === "optional" || mode === "required") map.set(tool.name, mode);
      }
      if (typeof result.nextCursor === "string" && n < MAX_PAGES && !res.error) return page(result.nextCursor, n + 1);
      // Kept only when complete and still current (a list change meanwhile reads it again next time).
      if (!res.error && supports.get(r) === entry) entry.map = map;
      else if (supports.get(r) === entry) supports.delete(r);
      for (const w of entry.waiting.splice(0)) w(map);
    });
  };
  page(undefined, 1);
}

/** `msg` with `params.task` set to `task`, or removed when undefined. */
function withTask(msg: RequestMessage, task: JsonObject | undefined): RequestMessage | undefined {
  const params: JsonObject = { ...(msg.params ?? {}) };
  if (task) params.task = task;
  else delete params.task;
  const parsed = parseMessage(
    JSON.stringify({ jsonrpc: "2.0", id: JSON.parse(msg.rawId), method: msg.method, params }),
  );
  if (parsed.kind !== "request") return undefined;
  return { ...parsed, rawId: msg.rawId, key: msg.key };
}

/** A 2025-11-25 task as the extension shows it: flat, renamed, nothing else of the child's. */
function flatTask(task: JsonObject, base: JsonObject): JsonObject {
  const out: JsonObject = { ...base, taskId: task.taskId, status: task.status };
  if (typeof task.statusMessage === "string") out.statusMessage = task.statusMessage;
  out.createdAt = task.createdAt;
  out.lastUpdatedAt = task.lastUpdatedAt ?? task.createdAt;
  out.ttlMs = typeof task.ttl === "number" && task.ttl > 0 ? Math.round(task.ttl) : null;
  if (typeof task.pollInterval === "number" && task.pollInterval > 0)
    out.pollIntervalMs = Math.max(1, Math.round(task.pollInterval));
  return out;
}

/** The `tasks/get` body for `t` now: its status, and its questions, result or error. */
function detailed(r: RoutingCore, t: BridgedTask, give: (body: JsonObject) => void): void {
  const status = String(t.task.status);
  if (TERMINAL.has(status)) {
    releaseInputs(r, t, "the task has ended");
    if (status === "cancelled") return give(flatTask(t.task, { resultType: "complete" }));
    if (t.final) return give(terminal(t, t.final));
    return openResult(r, t, (final) => give(terminal(t, final)));
  }
  if (status === "input_required") {
    openResult(r, t);
    // Nothing to ask yet (the child's questions are on their way): the client sees it working.
    if (t.inputs.size === 0) return give(flatTask({ ...t.task, status: "working" }, { resultType: "complete" }));
    const inputRequests: JsonObject = {};
    for (const [key, q] of t.inputs) inputRequests[key] = { method: q.method, params: q.params };
    return give({ ...flatTask(t.task, { resultType: "complete" }), inputRequests });
  }
  give(flatTask(t.task, { resultType: "complete" }));
}

/** A terminal task's body: the tool's result for completed (an `isError` result too), the error for failed. */
function terminal(t: BridgedTask, final: Outcome): JsonObject {
  if (final && "error" in final) {
    const { code, message, data } = final.error;
    return flatTask(
      { ...t.task, status: "failed" },
      { resultType: "complete", error: { code, message, ...(data === undefined ? {} : { data }) } },
    );
  }
  const result: JsonObject = { ...(final?.result ?? { content: [] }) };
  if (isObject(result._meta)) {
    const { [RELATED_TASK]: _, ...rest } = result._meta;
    if (Object.keys(rest).length > 0) result._meta = rest;
    else delete result._meta;
  }
  delete result.resultType;
  return flatTask({ ...t.task, status: "completed" }, { resultType: "complete", result });
}

type Outcome = NonNullable<BridgedTask["final"]>;

/** The mux's own errors (timeout, child gone, shutdown) say nothing of the task's outcome. */
const MUX_CODES = new Set<number>([RpcErrorCode.RequestTimeout, RpcErrorCode.ServerExited, RpcErrorCode.ShuttingDown]);

/** Keep one child `tasks/result` open for `t` (its questions may come on it); its answer is the outcome. */
function openResult(r: RoutingCore, t: BridgedTask, then?: (final: Outcome) => void): void {
  if (t.final) return then?.(t.final);
  if (then) t.onFinal.push(then);
  if (t.resultOpen) return;
  t.resultOpen = true;
  r.request("tasks/result", { taskId: t.taskId }, (res) => {
    t.resultOpen = false;
    const outcome: Outcome = res.error
      ? { error: { code: res.error.code, message: res.error.message, data: res.error.data } }
      : { result: isObject(res.result) ? res.result : {} };
    // The mux's own error (timeout, child gone) is no outcome to keep; those waiting get it all the same.
    if (!(res.error && MUX_CODES.has(res.error.code))) t.final = outcome;
    for (const f of t.onFinal.splice(0)) f(outcome);
  });
}

/** The child's parked questions of `t` get an error (the task ended or was cancelled). */
function releaseInputs(r: RoutingCore, t: BridgedTask, why: string): void {
  if (t.inputs.size === 0) return;
  if (r.state === "ready")
    for (const q of t.inputs.values())
      r.host.writeChild(errorLine(q.childRawId, RpcErrorCode.NoRoute, `mcp-mux: ${why}`));
  t.inputs.clear();
}
