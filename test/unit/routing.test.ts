/** The routing units through the real `Router`, in process: a fake child, fake clients. */

import { describe, expect, test } from "bun:test";
import { RpcErrorCode } from "../../src/protocol/rpc-error.ts";
import { makeRouter, ready, session, settle } from "./fakes.ts";

describe("id rewrite and the pending table", () => {
  test("a client's id goes to the child as a mux id and comes back byte-identical", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router);
    // An id with an escape: the exact bytes come back, not a re-encoding.
    a.sendText('{"jsonrpc":"2.0","id":"x\\u0041","method":"tools/call","params":{"name":"t"}}');
    const sent = child.last("tools/call");
    expect(typeof sent.id).toBe("number");
    expect(sent.raw).not.toContain("x\\u0041");
    child.say({ jsonrpc: "2.0", id: sent.id, result: { content: [] } });
    expect(a.port.got.map((g) => g.line)).toEqual(['{"jsonrpc":"2.0","id":"x\\u0041","result":{"content":[]}}']);
    expect(router.pending.size).toBe(0);
    expect(a.client.inflight.size).toBe(0);
  });

  test("two clients with the same id get distinct mux ids and only their own answer", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router);
    const b = session(router);
    a.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "a" } });
    b.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "b" } });
    const [fromA, fromB] = child.sent("tools/call") as { id: number }[];
    expect(fromA?.id).not.toBe(fromB?.id);
    child.answer(fromB?.id as number, { who: "b" });
    child.answer(fromA?.id as number, { who: "a" });
    expect(a.port.messages).toEqual([{ jsonrpc: "2.0", id: 1, result: { who: "a" } }]);
    expect(b.port.messages).toEqual([{ jsonrpc: "2.0", id: 1, result: { who: "b" } }]);
  });

  test("an id already in flight is refused; an answer for an unknown id reaches nobody", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router);
    a.send({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "t" } });
    a.send({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "t" } });
    expect(a.port.messages).toEqual([
      {
        jsonrpc: "2.0",
        id: 7,
        error: { code: RpcErrorCode.InvalidRequest, message: expect.stringContaining("already used") },
      },
    ]);
    expect(child.sent("tools/call")).toHaveLength(1);
    child.answer(99_999, {});
    expect(a.port.got).toHaveLength(1);
  });

  test("a cancel reaches the child with the mux id and the late answer is dropped", async () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router);
    a.send({ jsonrpc: "2.0", id: "c", method: "tools/call", params: { name: "slow" } });
    const { id } = child.last("tools/call");
    a.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "c", reason: "user" } });
    expect(child.last("notifications/cancelled").params).toEqual({ requestId: id, reason: "user" });
    child.answer(id, { late: true });
    await settle();
    expect(a.port.got).toEqual([]);
    expect(router.pending.size).toBe(0);
    expect(a.client.inflight.size).toBe(0);
  });

  test("a client that leaves has its requests cancelled at the child", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router);
    a.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "slow" } });
    const { id } = child.last("tools/call");
    router.detach(a.client, "gone");
    expect(child.last("notifications/cancelled").params).toEqual({ requestId: id, reason: "client disconnected" });
    expect(router.pending.size).toBe(0);
  });
});

describe("progress tokens", () => {
  test("the child sees a mux token; progress goes to the owner only, with its own token, until the answer", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router);
    const b = session(router);
    a.sendText(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","_meta":{"progressToken":"tok\\u00e9"}}}',
    );
    const sent = child.last("tools/call");
    const token = (sent.params._meta as { progressToken: unknown }).progressToken;
    expect(token).toBe(sent.id);
    child.say({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: token, progress: 1 } });
    expect(a.port.got.map((g) => [g.kind, g.line])).toEqual([
      [
        "progress",
        '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"tok\\u00e9","progress":1}}',
      ],
    ]);
    expect(b.port.got).toEqual([]);
    child.answer(sent.id, {});
    child.say({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: token, progress: 2 } });
    expect(a.port.got).toHaveLength(2); // the progress and the answer; later progress is dropped
    expect(router.progress.size).toBe(0);
  });
});

describe("subscriptions", () => {
  test("one subscribe at the child for two clients; updates to both; the last one out unsubscribes", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router);
    const b = session(router);
    a.send({ jsonrpc: "2.0", id: 1, method: "resources/subscribe", params: { uri: "file:///x" } });
    b.send({ jsonrpc: "2.0", id: 2, method: "resources/subscribe", params: { uri: "file:///x" } });
    expect(child.sent("resources/subscribe")).toHaveLength(1);
    expect(b.port.got).toEqual([]); // waits for the first subscribe's answer
    child.answer(child.last("resources/subscribe").id, {});
    expect(a.port.messages).toEqual([{ jsonrpc: "2.0", id: 1, result: {} }]);
    expect(b.port.messages).toEqual([{ jsonrpc: "2.0", id: 2, result: {} }]);
    child.say({ jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri: "file:///x" } });
    expect(a.port.messages.at(-1)?.method).toBe("notifications/resources/updated");
    expect(b.port.messages.at(-1)?.method).toBe("notifications/resources/updated");
    a.send({ jsonrpc: "2.0", id: 3, method: "resources/unsubscribe", params: { uri: "file:///x" } });
    expect(child.sent("resources/unsubscribe")).toHaveLength(0);
    b.send({ jsonrpc: "2.0", id: 4, method: "resources/unsubscribe", params: { uri: "file:///x" } });
    expect(child.sent("resources/unsubscribe")).toHaveLength(1);
    expect(router.subscriptions.uris).toEqual([]);
  });

  test("a refused subscribe is refused to the waiting subscriber too, and forgotten", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router);
    const b = session(router);
    a.send({ jsonrpc: "2.0", id: 1, method: "resources/subscribe", params: { uri: "file:///y" } });
    b.send({ jsonrpc: "2.0", id: 2, method: "resources/subscribe", params: { uri: "file:///y" } });
    child.fail(child.last("resources/subscribe").id, -32002, "no such resource");
    expect(a.port.messages[0]?.error).toEqual({ code: -32002, message: "no such resource" });
    expect(b.port.messages[0]?.error).toEqual({ code: -32002, message: "no such resource" });
    expect(router.subscriptions.uris).toEqual([]);
    expect([...a.client.subscriptions, ...b.client.subscriptions]).toEqual([]);
  });
});

describe("server→client requests", () => {
  const sampling = { sampling: {} };

  test("a sampling request goes to the one calling client under a mux id; its answer returns with the child's id", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router, sampling);
    const b = session(router, sampling);
    a.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "ask" } });
    child.say({ jsonrpc: "2.0", id: "srv-1", method: "sampling/createMessage", params: { messages: [] } });
    expect(b.port.got).toEqual([]);
    const asked = a.port.messages.at(-1) as { id: string; method: string };
    expect(asked.method).toBe("sampling/createMessage");
    expect(asked.id).not.toBe("srv-1");
    a.send({ jsonrpc: "2.0", id: asked.id, result: { content: { type: "text", text: "hi" } } });
    expect(child.messages.at(-1)).toEqual({
      jsonrpc: "2.0",
      id: "srv-1",
      result: { content: { type: "text", text: "hi" } },
    });
  });

  test("no capable client, or several that could have caused it: the child gets -32034", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    session(router); // no sampling
    child.say({ jsonrpc: "2.0", id: 5, method: "sampling/createMessage", params: { messages: [] } });
    expect(child.messages.at(-1)).toMatchObject({ id: 5, error: { code: RpcErrorCode.NoRoute } });
    const a = session(router, sampling);
    const b = session(router, sampling);
    a.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "x" } });
    b.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "y" } });
    child.say({ jsonrpc: "2.0", id: 6, method: "sampling/createMessage", params: { messages: [] } });
    expect(child.messages.at(-1)).toMatchObject({
      id: 6,
      error: { code: RpcErrorCode.NoRoute, message: expect.stringContaining("several clients") },
    });
  });

  test("the handling client leaving answers the child's request with -32034", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router, sampling);
    child.say({ jsonrpc: "2.0", id: 8, method: "sampling/createMessage", params: { messages: [] } });
    expect(a.port.messages.at(-1)?.method).toBe("sampling/createMessage");
    router.detach(a.client, "gone");
    expect(child.messages.at(-1)).toMatchObject({
      id: 8,
      error: { code: RpcErrorCode.NoRoute, message: expect.stringContaining("disconnected") },
    });
  });

  test("the child cancelling its request tells the client under the mux id", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router, sampling);
    child.say({ jsonrpc: "2.0", id: 9, method: "sampling/createMessage", params: { messages: [] } });
    const asked = a.port.messages.at(-1) as { id: string };
    child.say({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 9, reason: "r" } });
    expect(a.port.messages.at(-1)).toEqual({
      jsonrpc: "2.0",
      method: "notifications/cancelled",
      params: { requestId: asked.id, reason: "r" },
    });
    expect(a.client.outbound.size).toBe(0);
  });
});

describe("tasks", () => {
  test("a task belongs to the client that created it: status, get and list are its own", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router);
    const b = session(router);
    a.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "long", task: {} } });
    child.answer(child.last("tools/call").id, { task: { taskId: "T1", status: "working" } });
    expect(router.tasks.owner("T1")).toBe(a.client);
    b.send({ jsonrpc: "2.0", id: 2, method: "tasks/get", params: { taskId: "T1" } });
    expect(b.port.messages.at(-1)).toMatchObject({ id: 2, error: { code: RpcErrorCode.InvalidParams } });
    expect(child.sent("tasks/get")).toHaveLength(0);
    a.send({ jsonrpc: "2.0", id: 3, method: "tasks/get", params: { taskId: "T1" } });
    expect(child.sent("tasks/get")).toHaveLength(1);
    child.say({ jsonrpc: "2.0", method: "notifications/tasks/status", params: { taskId: "T1", status: "working" } });
    expect(a.port.messages.at(-1)?.method).toBe("notifications/tasks/status");
    expect(b.port.messages.at(-1)?.method).not.toBe("notifications/tasks/status");
    b.send({ jsonrpc: "2.0", id: 4, method: "tasks/list" });
    child.answer(child.last("tasks/list").id, { tasks: [{ taskId: "T1" }, { taskId: "other" }] });
    expect(b.port.messages.at(-1)).toEqual({ jsonrpc: "2.0", id: 4, result: { tasks: [] } });
  });

  test("a task keeps its request's progress token until it is terminal", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router);
    a.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "long", _meta: { progressToken: 5 } } });
    const { id } = child.last("tools/call");
    child.answer(id, { task: { taskId: "T2", status: "working" } });
    expect(router.progress.owner(id)?.client).toBe(a.client);
    child.say({ jsonrpc: "2.0", method: "notifications/tasks/status", params: { taskId: "T2", status: "completed" } });
    expect(router.progress.owner(id)).toBeUndefined();
  });
});

describe("restart fan-out", () => {
  test("a child gone answers what it owed, cancels its requests on clients, re-initializes the same way and resubscribes", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router, { sampling: {} });
    a.send({ jsonrpc: "2.0", id: 1, method: "resources/subscribe", params: { uri: "file:///z" } });
    child.answer(child.last("resources/subscribe").id, {});
    a.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "t" } });
    child.say({ jsonrpc: "2.0", id: "s1", method: "sampling/createMessage", params: { messages: [] } });
    const firstInit = child.last("initialize").params;
    a.port.got.length = 0;
    router.childGone("crashed", "restarting");
    const got = a.port.messages;
    expect(got).toContainEqual({
      jsonrpc: "2.0",
      id: 2,
      error: { code: RpcErrorCode.ServerExited, message: expect.stringContaining("crashed") },
    });
    expect(got.some((m) => m.method === "notifications/cancelled")).toBe(true);
    expect(router.pending.size).toBe(0);
    child.lines.length = 0;
    ready(router, child);
    expect(child.last("initialize").params).toEqual(firstInit);
    expect(child.sent("resources/subscribe")).toHaveLength(1);
    // Clients are told to re-list what the server offers (tools, resources: no prompts here).
    expect(a.port.messages.filter((m) => String(m.method).endsWith("/list_changed")).map((m) => m.method)).toEqual([
      "notifications/tools/list_changed",
      "notifications/resources/list_changed",
    ]);
  });

  test("a failed child refuses new requests with -32031", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router);
    router.fail("spawn failed");
    a.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "t" } });
    expect(a.port.messages.at(-1)).toMatchObject({ id: 1, error: { code: RpcErrorCode.ServiceFailed } });
  });
});
