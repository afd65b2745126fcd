/**
 * The tasks extension (`io.modelcontextprotocol/tasks`) for 2026-07-28 clients in front of a
 * LEGACY child with 2025-11-25 tasks (protocol-2026 §3.1, the tasks row): the SDK-based
 * 2025-era fixture (`test/fixtures/conformance-server.ts`) behind the compiled mux, raw
 * 2026-07-28 requests over HTTP and over the socket.
 */

import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, type Json, ROOT, type Target, testScope, waitFor } from "../helpers.ts";

const scope = testScope("bin");
const FIXTURE = join(ROOT, "test/fixtures/conformance-server.ts");
const MODERN = "2026-07-28";
const V = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";
const TASKS = "io.modelcontextprotocol/tasks";
const RELATED = "io.modelcontextprotocol/related-task";
const ACCEPT = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const WITH_TASKS: Json = { elicitation: {}, extensions: { [TASKS]: {} } };

const serve = (): Promise<Target> => {
  const d = scope.dir();
  return scope.target({
    socket: join(d, "t.sock"),
    cmd: BUN,
    args: [FIXTURE],
    http: { listen: "127.0.0.1:0", auth: "none" },
  });
};

const meta = (caps: Json): Json => ({ [V]: MODERN, [CAPS]: caps });

let seq = 0;

/** One modern request over HTTP (standard headers), its JSON-RPC answer. */
async function call(url: string, method: string, params: Json, caps: Json = WITH_TASKS): Promise<Json> {
  const name = params.name ?? params.taskId;
  const headers: Record<string, string> = { ...ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": method };
  if (typeof name === "string") headers["mcp-name"] = name;
  const body = { jsonrpc: "2.0", id: ++seq, method, params: { ...params, _meta: meta(caps) } };
  const res = await fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
  const text = await res.text();
  const line = text.startsWith("{") ? text : (text.split("\n").find((l) => l.startsWith("data: {")) ?? "").slice(6);
  return JSON.parse(line) as Json;
}

const resultOf = (m: Json): Json => {
  if (m.error) throw new Error(`unexpected error ${JSON.stringify(m.error)}`);
  return m.result as Json;
};

/** tasks/get until `done` holds of the task (bounded). */
async function until(url: string, taskId: string, done: (t: Json) => boolean): Promise<Json> {
  for (let i = 0; i < 300; i++) {
    const t = resultOf(await call(url, "tasks/get", { taskId }));
    if (done(t)) return t;
    await Bun.sleep(30);
  }
  throw new Error(`task ${taskId} never reached the expected state`);
}
const terminal = (t: Json) => ["completed", "failed", "cancelled"].includes(String(t.status));

describe("tasks extension over a 2025-11-25 child", () => {
  test("discover advertises the extension (not capabilities.tasks); a task-capable call is a flat task; tasks/get inlines result and error; cancel acks, also on a terminal task", async () => {
    const t = await serve();
    const url = t.httpUrl as string;
    const caps = resultOf(await call(url, "server/discover", {})).capabilities as Json;
    expect(caps.tasks).toBeUndefined();
    expect((caps.extensions as Json)[TASKS]).toEqual({});

    // A sync tool stays sync, even with a legacy `task` hint.
    const greet = resultOf(
      await call(url, "tools/call", { name: "greet", arguments: { name: "X" }, task: { ttl: 1 } }),
    );
    expect(greet.resultType).toBe("complete");
    expect(greet.taskId).toBeUndefined();
    expect((greet.content as Json[])[0]).toEqual({ type: "text", text: "Hello, X!" });

    const created = resultOf(
      await call(url, "tools/call", { name: "slow_compute", arguments: { seconds: 0.2, label: "a" } }),
    );
    expect(created.resultType).toBe("task");
    expect(typeof created.taskId).toBe("string");
    expect(created.status).toBe("working");
    expect(created.ttlMs).toBe(300_000);
    expect(created.pollIntervalMs).toBe(100);
    for (const k of ["task", "ttl", "pollInterval", "requestState", "result", "error", "inputRequests"])
      expect(created).not.toHaveProperty(k);
    const done = await until(url, created.taskId as string, terminal);
    expect(done.status).toBe("completed");
    expect(done.resultType).toBe("complete");
    expect(done.result).toEqual({ content: [{ type: "text", text: "computed a" }] });
    expect(done).not.toHaveProperty("requestState");
    expect(JSON.stringify(done)).not.toContain(RELATED);

    // A tool error is a completed task with isError; a protocol error a failed one with `error`.
    const failing = resultOf(await call(url, "tools/call", { name: "failing_job", arguments: {} }));
    const failed = await until(url, failing.taskId as string, terminal);
    expect(failed.status).toBe("completed");
    expect((failed.result as Json).isError).toBe(true);
    const crashing = resultOf(await call(url, "tools/call", { name: "protocol_error_job", arguments: {} }));
    const crashed = await until(url, crashing.taskId as string, terminal);
    expect(crashed.status).toBe("failed");
    expect((crashed.error as Json).code).toBe(-32603);
    expect(crashed).not.toHaveProperty("result");

    // Cancel: an empty ack, the status settles to cancelled; again on the terminal task: the same ack.
    const long = resultOf(await call(url, "tools/call", { name: "slow_compute", arguments: { seconds: 60 } }));
    const taskId = long.taskId as string;
    const ack = resultOf(await call(url, "tasks/cancel", { taskId }));
    expect(Object.keys(ack).sort()).toEqual(["_meta", "resultType"]);
    expect(ack.resultType).toBe("complete");
    expect((await until(url, taskId, terminal)).status).toBe("cancelled");
    expect(resultOf(await call(url, "tasks/cancel", { taskId })).resultType).toBe("complete");

    // Unknown ids, and the removed methods.
    expect(((await call(url, "tasks/get", { taskId: "nope" })).error as Json).code).toBe(-32602);
    expect(((await call(url, "tasks/result", { taskId })).error as Json).code).toBe(-32601);
    expect(((await call(url, "tasks/list", {})).error as Json).code).toBe(-32601);
  }, 60_000);

  test("a task's questions (related-task) are its inputRequests; tasks/update answers them, partly or wholly", async () => {
    const t = await serve();
    const url = t.httpUrl as string;
    const one = resultOf(await call(url, "tools/call", { name: "confirm_delete", arguments: { filename: "f.txt" } }));
    const asking = await until(url, one.taskId as string, (x) => x.status === "input_required");
    const keys = Object.keys(asking.inputRequests as Json);
    expect(keys).toHaveLength(1);
    const q = (asking.inputRequests as Json)[keys[0] as string] as Json;
    expect(q.method).toBe("elicitation/create");
    expect((q.params as Json).message).toBe("Delete f.txt?");
    expect(JSON.stringify(q)).not.toContain(RELATED);
    const ack = resultOf(
      await call(url, "tasks/update", {
        taskId: one.taskId,
        inputResponses: { [keys[0] as string]: { action: "accept", content: { confirm: true } }, unknown: {} },
      }),
    );
    expect(ack.resultType).toBe("complete");
    expect(ack).not.toHaveProperty("status");
    const done = await until(url, one.taskId as string, terminal);
    expect(done.status).toBe("completed");
    expect(done.result).toEqual({ content: [{ type: "text", text: "deleted f.txt" }] });

    const two = resultOf(await call(url, "tools/call", { name: "multi_input", arguments: {} }));
    const both = await until(
      url,
      two.taskId as string,
      (x) => x.status === "input_required" && Object.keys((x.inputRequests as Json) ?? {}).length === 2,
    );
    const [first, second] = Object.keys(both.inputRequests as Json) as [string, string];
    await call(url, "tasks/update", {
      taskId: two.taskId,
      inputResponses: { [first]: { action: "accept", content: { name: "A" } } },
    });
    const half = resultOf(await call(url, "tasks/get", { taskId: two.taskId }));
    expect(half.status).toBe("input_required");
    expect(Object.keys(half.inputRequests as Json)).toEqual([second]);
    await call(url, "tasks/update", {
      taskId: two.taskId,
      inputResponses: { [second]: { action: "accept", content: { name: "B" } } },
    });
    const done2 = await until(url, two.taskId as string, terminal);
    expect(done2.result).toEqual({ content: [{ type: "text", text: "got A and B" }] });
  }, 60_000);

  test("a child that sends a task's questions only on an open tasks/result (the SDK's queue) gets one opened", async () => {
    const t = await serve();
    const url = t.httpUrl as string;
    const created = resultOf(await call(url, "tools/call", { name: "queued_confirm", arguments: {} }));
    const asking = await until(
      url,
      created.taskId as string,
      (x) => x.status === "input_required" && Object.keys((x.inputRequests as Json) ?? {}).length === 1,
    );
    const [key] = Object.keys(asking.inputRequests as Json) as [string];
    await call(url, "tasks/update", {
      taskId: created.taskId,
      inputResponses: { [key]: { action: "accept", content: { confirm: true } } },
    });
    const done = await until(url, created.taskId as string, terminal);
    expect(done.result).toEqual({ content: [{ type: "text", text: "went on" }] });
  }, 60_000);

  test("without the extension: a task-required tool is -32021 naming it, an optional one runs inline, tasks/* are -32021", async () => {
    const t = await serve();
    const url = t.httpUrl as string;
    const none: Json = {};
    const refused = await call(url, "tools/call", { name: "failing_job", arguments: {} }, none);
    expect((refused.error as Json).code).toBe(-32021);
    expect((refused.error as Json).data).toEqual({ requiredCapabilities: { extensions: { [TASKS]: {} } } });
    const inline = resultOf(await call(url, "tools/call", { name: "slow_compute", arguments: { seconds: 0 } }, none));
    expect(inline.resultType).toBe("complete");
    expect(inline.content).toEqual([{ type: "text", text: "computed " }]);
    for (const [method, params] of [
      ["tasks/get", { taskId: "x" }],
      ["tasks/update", { taskId: "x", inputResponses: {} }],
      ["tasks/cancel", { taskId: "x" }],
    ] as const)
      expect(((await call(url, method, params, none)).error as Json).code).toBe(-32021);
  }, 60_000);

  test("input_required rounds, then a task on the final round (the child asks before it creates the task)", async () => {
    const t = await serve();
    const url = t.httpUrl as string;
    const round = resultOf(await call(url, "tools/call", { name: "test_tool_with_task", arguments: {} }));
    expect(round.resultType).toBe("input_required");
    expect(Object.keys(round.inputRequests as Json)).toEqual(["user_name"]);
    const created = resultOf(
      await call(url, "tools/call", {
        name: "test_tool_with_task",
        arguments: {},
        requestState: round.requestState,
        inputResponses: { user_name: { action: "accept", content: { name: "Alice" } } },
      }),
    );
    expect(created.resultType).toBe("task");
    expect(created).not.toHaveProperty("requestState");
    const done = await until(url, created.taskId as string, terminal);
    expect(done.result).toEqual({ content: [{ type: "text", text: "Hello, Alice, from a task" }] });
  }, 60_000);

  test("on the socket, a task is its creator's: another connection's tasks/get, update or cancel is -32602; hostile ids too", async () => {
    const t = await serve();
    const a = await scope.raw(t.socket);
    const b = await scope.raw(t.socket);
    a.request("c", "tools/call", { name: "slow_compute", arguments: { seconds: 60 }, _meta: meta(WITH_TASKS) });
    const created = (await a.response("c", 15_000)).result as Json;
    expect(created.resultType).toBe("task");
    const taskId = created.taskId as string;
    b.request("g", "tasks/get", { taskId, _meta: meta(WITH_TASKS) });
    b.request("u", "tasks/update", { taskId, inputResponses: {}, _meta: meta(WITH_TASKS) });
    b.request("x", "tasks/cancel", { taskId, _meta: meta(WITH_TASKS) });
    b.request("h1", "tasks/get", { taskId: { $ne: 1 }, _meta: meta(WITH_TASKS) });
    b.request("h2", "tasks/get", { taskId: "__proto__", _meta: meta(WITH_TASKS) });
    for (const id of ["g", "u", "x", "h1", "h2"]) expect(((await b.response(id)).error as Json).code).toBe(-32602);
    a.request("g", "tasks/get", { taskId, _meta: meta(WITH_TASKS) });
    expect(((await a.response("g")).result as Json).status).toBe("working");
    a.request("u", "tasks/update", { taskId, inputResponses: [], _meta: meta(WITH_TASKS) });
    expect(((await a.response("u")).error as Json).code).toBe(-32602);
    a.request("x", "tasks/cancel", { taskId, _meta: meta(WITH_TASKS) });
    expect(((await a.response("x")).result as Json).resultType).toBe("complete");
  }, 60_000);
});

describe("a task's connection going away", () => {
  test("a socket client that disconnects has its unfinished tasks cancelled at the child (nobody can reach them)", async () => {
    const d = scope.dir();
    const cancelled = join(d, "cancelled");
    const t = await scope.target({
      socket: join(d, "t.sock"),
      cmd: BUN,
      args: [FIXTURE],
      env: { FIXTURE_CANCEL_LOG: cancelled },
    });
    const a = await scope.raw(t.socket);
    a.request("c", "tools/call", { name: "slow_compute", arguments: { seconds: 60 }, _meta: meta(WITH_TASKS) });
    const created = (await a.response("c", 15_000)).result as Json;
    expect(created.resultType).toBe("task");
    a.close();
    const read = (): string => (existsSync(cancelled) ? readFileSync(cancelled, "utf8") : "");
    await waitFor(() => read().includes(created.taskId as string), 10_000, "the task cancelled at the child");
  }, 60_000);
});

describe("legacy clients of the same child", () => {
  test("a 2025-11-25 session beside a modern client keeps the legacy task API: {task}, related-task questions to it, tasks/result", async () => {
    const t = await serve();
    const url = t.httpUrl as string;
    const legacy = await scope.raw(t.socket);
    await legacy.handshake({ elicitation: {}, tasks: {} });
    // A modern client's task runs beside it.
    const modern = resultOf(await call(url, "tools/call", { name: "slow_compute", arguments: { seconds: 60 } }));
    expect(modern.resultType).toBe("task");
    legacy.request("c", "tools/call", { name: "confirm_delete", arguments: { filename: "l.txt" }, task: {} });
    const created = (await legacy.response("c", 15_000)).result as Json;
    const task = created.task as Json;
    expect(typeof task.taskId).toBe("string");
    expect(task.ttl).toBe(300_000);
    expect(created.resultType).toBeUndefined();
    const ask = await legacy.next((m) => m.method === "elicitation/create", 15_000, 0);
    expect(((ask.params as Json)._meta as Json)[RELATED]).toEqual({ taskId: task.taskId });
    legacy.send({ jsonrpc: "2.0", id: ask.id, result: { action: "accept", content: { confirm: true } } });
    legacy.request("r", "tasks/result", { taskId: task.taskId });
    const result = (await legacy.response("r", 15_000)).result as Json;
    expect(result.content).toEqual([{ type: "text", text: "deleted l.txt" }]);
    legacy.request("g", "tasks/get", { taskId: modern.taskId });
    expect(((await legacy.response("g")).error as Json).code).toBe(-32602);
    expect(resultOf(await call(url, "tasks/cancel", { taskId: modern.taskId })).resultType).toBe("complete");
  }, 60_000);
});
