/**
 * Routing rules (routing spec §1–4 and the §9 checklist), each through the compiled mux and
 * the real mux-proxy binary, with at least two clients asserting who got what.
 */

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  CallToolResultSchema,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { MuxOptions } from "../../src/index.ts";
import {
  EVERYTHING_BIN,
  fakeServer,
  type Json,
  type RawClient,
  recorded,
  sdkClient,
  type startTarget,
  type Target,
  testScope,
  textOf,
  waitFor,
} from "../helpers.ts";

const scope = testScope("bin");
const { dir } = scope;
const use = (options: MuxOptions): Promise<Target> => scope.target(options);
const proxied = async (socket: string, capabilities?: Json, version?: string): Promise<RawClient> => {
  const c = await scope.raw(socket, "proxy");
  if (capabilities) {
    await c.handshake(capabilities, version);
    // The mux has taken in `initialized` (broadcasts reach only initialized clients).
    await c.settle();
  }
  return c;
};
const sdk = async (socket: string, options: Parameters<typeof sdkClient>[1] = {}) => {
  const c = await sdkClient(socket, options);
  scope.defer(() => c.close());
  return c;
};
const fake = async (extra: Partial<Parameters<typeof startTarget>[1]> = {}) => {
  const d = dir();
  const t = await use({ socket: join(d, "r.sock"), ...fakeServer(d), ...extra });
  return { d, t };
};
const callsOf = (d: string, marker: string): Json[] =>
  recorded(d).filter((m) => m.method === "tools/call" && JSON.stringify(m.params).includes(marker));

describe("progress", () => {
  test("colliding SDK tokens: each client gets only its own progress from server-everything", async () => {
    const d = dir();
    const t = await use({ socket: join(d, "e.sock"), cmd: EVERYTHING_BIN, args: ["stdio"] });
    const [a, b] = await Promise.all([sdk(t.socket, { name: "a" }), sdk(t.socket, { name: "b" })]);
    const seen = { a: [] as number[], b: [] as number[] };
    const call = (c: typeof a, who: "a" | "b") =>
      c.callTool(
        { name: "trigger-long-running-operation", arguments: { duration: 1, steps: 4 } },
        CallToolResultSchema,
        {
          onprogress: (p) => seen[who].push(p.progress),
        },
      );
    const [ra, rb] = await Promise.all([call(a, "a"), call(b, "b")]);
    expect(textOf(ra)).toContain("completed");
    expect(textOf(rb)).toContain("completed");
    // No cross-talk: each client sees its own strictly increasing sequence (the other client's
    // progress would show up as repeats). SDK v1 itself may drop the final progress when it is
    // read in the same chunk as the response (it handles progress in a microtask), so the exact
    // count is asserted with raw clients in the next test.
    for (const got of [seen.a, seen.b]) {
      expect(got.length).toBeGreaterThanOrEqual(3);
      expect(got).toEqual([1, 2, 3, 4].slice(0, got.length));
    }
  });

  test("tokens come back with their type and bytes, before the response; unknown tokens are dropped", async () => {
    const { t } = await fake();
    const a = await proxied(t.socket, {});
    const b = await proxied(t.socket, {});
    a.send(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"progress","arguments":{"steps":2},"_meta":{"progressToken":"t\\u00f6k"}}}',
    );
    b.send(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"progress","arguments":{"steps":3},"_meta":{"progressToken":1}}}',
    );
    await a.response(1);
    await b.response(1);
    const aProgress = a.rawLines.filter((l) => l.includes("notifications/progress"));
    const bProgress = b.rawLines.filter((l) => l.includes("notifications/progress"));
    expect(aProgress.length).toBe(2);
    expect(bProgress.length).toBe(3);
    expect(aProgress.every((l) => l.includes('"progressToken":"t\\u00f6k"'))).toBe(true);
    expect(bProgress.every((l) => l.includes('"progressToken":1,'))).toBe(true);
    const lastProgress = a.received.findLastIndex((m) => m.method === "notifications/progress");
    expect(lastProgress).toBeLessThan(a.received.findIndex((m) => m.id === 1));
    a.request(2, "tools/call", {
      name: "notify",
      arguments: { method: "notifications/progress", params: { progressToken: 999999, progress: 1 } },
    });
    await a.response(2);
    // The child wrote the stray progress before that answer; b's ping goes through the same
    // child after it, so anything misrouted to b would be in b's stream before the pong.
    await b.settle();
    expect(a.received.filter((m) => m.method === "notifications/progress").length).toBe(2);
    expect(b.received.filter((m) => m.method === "notifications/progress").length).toBe(3);
  });

  test("a task keeps its progress token until it is terminal, then late progress is dropped", async () => {
    const { t } = await fake();
    const a = await proxied(t.socket, {});
    const b = await proxied(t.socket, {});
    const from = a.mark();
    a.request(1, "tools/call", { name: "task-progress", task: { ttl: 60000 }, _meta: { progressToken: 1 } });
    const created = await a.response(1);
    const taskId = ((created.result as Json).task as Json).taskId;
    await a.next((m) => m.method === "notifications/tasks/status", 5000, from);
    // The late progress was written right after the status: pings through the child after it.
    await a.settle();
    await b.settle();
    const progress = a.received.filter((m) => m.method === "notifications/progress");
    expect(progress.map((m) => (m.params as Json).progress)).toEqual([1]);
    expect((progress[0]?.params as Json).progressToken).toBe(1);
    expect(
      b.received.some((m) => m.method === "notifications/progress" || m.method === "notifications/tasks/status"),
    ).toBe(false);
    expect(typeof taskId).toBe("string");
  });
});

describe("cancellation", () => {
  test("a client's cancel reaches the child with the child-side id and frees the request; others are untouched", async () => {
    const { d, t } = await fake();
    const a = await proxied(t.socket, {});
    const b = await proxied(t.socket, {});
    a.request(1, "tools/call", { name: "slow", arguments: { ms: 400, who: "A" } });
    b.request(1, "tools/call", { name: "slow", arguments: { ms: 1200, who: "B" } });
    await waitFor(() => callsOf(d, '"who":"A"').length === 1 && callsOf(d, '"who":"B"').length === 1, 5000, "calls");
    a.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 1, reason: "user" } });
    await waitFor(() => recorded(d).some((m) => m.method === "notifications/cancelled"), 5000, "cancel at child");
    const cancel = recorded(d).find((m) => m.method === "notifications/cancelled") as Json;
    expect((cancel.params as Json).requestId).toBe(callsOf(d, '"who":"A"')[0]?.id as number);
    expect(JSON.parse(textOf((await b.response(1)).result))).toMatchObject({ who: "B" });
    // A's call (400 ms) was answered by the child long before B's (1,200 ms, started at the same
    // time): a ping through the child now is answered after it.
    await a.settle();
    expect(a.received.some((m) => m.id === 1)).toBe(false); // the late response was dropped
    expect(recorded(d).filter((m) => m.method === "notifications/cancelled").length).toBe(1);
  });

  test("a client that disconnects has its in-flight requests cancelled at the child", async () => {
    const { d, t } = await fake();
    const a = await proxied(t.socket, {});
    a.request(7, "tools/call", { name: "hang", arguments: { who: "gone" } });
    await waitFor(() => callsOf(d, "gone").length === 1, 5000, "call");
    a.proc?.kill("SIGKILL");
    await waitFor(() => recorded(d).some((m) => m.method === "notifications/cancelled"), 5000, "cancel");
    const cancel = recorded(d).find((m) => m.method === "notifications/cancelled") as Json;
    expect(cancel.params).toEqual({ requestId: callsOf(d, "gone")[0]?.id, reason: "client disconnected" });
  });

  test("SDK abort cancels one client's operation only: the child gets the cancel for that call, the other call completes", async () => {
    const { d, t } = await fake();
    const [a, b] = await Promise.all([sdk(t.socket), sdk(t.socket)]);
    const controller = new AbortController();
    const op = (c: typeof a, who: string, ms: number, signal?: AbortSignal) =>
      c.callTool({ name: "slow", arguments: { ms, who } }, CallToolResultSchema, { signal });
    const pa = op(a, "A", 3000, controller.signal);
    const pb = op(b, "B", 1000);
    await waitFor(() => callsOf(d, '"who":"A"').length === 1 && callsOf(d, '"who":"B"').length === 1, 5000, "calls");
    controller.abort("stop");
    await expect(pa).rejects.toThrow();
    await waitFor(() => recorded(d).some((m) => m.method === "notifications/cancelled"), 5000, "cancel at child");
    expect(JSON.parse(textOf(await pb))).toEqual({ ms: 1000, who: "B" });
    await b.ping(); // through the child, after everything above
    const cancels = recorded(d).filter((m) => m.method === "notifications/cancelled");
    expect(cancels).toHaveLength(1);
    expect((cancels[0]?.params as Json).requestId).toBe(callsOf(d, '"who":"A"')[0]?.id as number);
    expect((cancels[0]?.params as Json).requestId).not.toBe(callsOf(d, '"who":"B"')[0]?.id as number);
  });
});

describe("server → client requests", () => {
  test("sampling from server-everything goes to the calling client only", async () => {
    const d = dir();
    const t = await use({ socket: join(d, "e.sock"), cmd: EVERYTHING_BIN, args: ["stdio"] });
    const calls = { a: 0, b: 0 };
    const [a, b] = await Promise.all([
      sdk(t.socket, { name: "a", capabilities: { sampling: {} } }),
      sdk(t.socket, { name: "b", capabilities: { sampling: {} } }),
    ]);
    for (const [c, who] of [
      [a, "a"],
      [b, "b"],
    ] as const) {
      c.setRequestHandler(CreateMessageRequestSchema, async () => {
        calls[who]++;
        return { model: `model-${who}`, role: "assistant", content: { type: "text", text: `answer from ${who}` } };
      });
    }
    const result = await a.callTool({ name: "trigger-sampling-request", arguments: { prompt: "hi", maxTokens: 5 } });
    expect(JSON.stringify(result)).toContain("answer from a");
    expect(calls).toEqual({ a: 1, b: 0 });
  });

  test("capabilities: auto tells the child what the first client declared; all declares everything, and an undeclared sampling call errors", async () => {
    const names = async (c: Awaited<ReturnType<typeof sdk>>) => (await c.listTools()).tools.map((x) => x.name);
    const d = dir();
    const auto = await use({ socket: join(d, "auto.sock"), cmd: EVERYTHING_BIN, args: ["stdio"] });
    const plain = await sdk(auto.socket, { name: "plain" });
    const plainTools = await names(plain);
    expect(plainTools).toContain("echo");
    expect(plainTools).not.toContain("trigger-sampling-request");
    expect(plainTools).not.toContain("trigger-elicitation-request");
    // The child was initialized once, for the first client: a later, more capable one sees the same.
    const rich = await sdk(auto.socket, { name: "rich", capabilities: { sampling: {}, elicitation: {} } });
    expect(await names(rich)).toEqual(plainTools);

    const all = await use({
      socket: join(d, "all.sock"),
      cmd: EVERYTHING_BIN,
      args: ["stdio"],
      childCapabilities: "all",
    });
    const bare = await sdk(all.socket, { name: "bare" });
    const allTools = await names(bare);
    expect(allTools).toContain("trigger-sampling-request");
    expect(allTools.length).toBeGreaterThan(plainTools.length);
    // A client that never declared sampling calls the tool anyway: an error, no made-up answer.
    const outcome = await bare
      .callTool({ name: "trigger-sampling-request", arguments: { prompt: "hi", maxTokens: 5 } })
      .then(
        (r) => JSON.stringify(r),
        (e: unknown) => String(e),
      );
    expect(outcome).toContain("-32034");
    expect(outcome).toContain("the calling client did not declare the capability");
    expect(outcome).not.toMatch(/cancel/i);
  });

  test("form elicitation from server-everything goes to the calling client only", async () => {
    const d = dir();
    const t = await use({ socket: join(d, "e.sock"), cmd: EVERYTHING_BIN, args: ["stdio"] });
    const calls = { a: 0, b: 0 };
    const caps = { elicitation: { form: {} } };
    const [a, b] = await Promise.all([sdk(t.socket, { capabilities: caps }), sdk(t.socket, { capabilities: caps })]);
    for (const [c, who] of [
      [a, "a"],
      [b, "b"],
    ] as const) {
      c.setRequestHandler(ElicitRequestSchema, async () => {
        calls[who]++;
        return { action: "decline" };
      });
    }
    const result = await b.callTool({ name: "trigger-elicitation-request", arguments: {} });
    expect(JSON.stringify(result)).toContain("decline");
    expect(calls).toEqual({ a: 0, b: 1 });
  });

  test("URL elicitation and its completion go only to the client that received it", async () => {
    const { t } = await fake();
    const caps = { elicitation: { form: {}, url: {} } };
    const a = await proxied(t.socket, caps);
    const b = await proxied(t.socket, caps);
    const from = a.mark();
    a.request(1, "tools/call", { name: "elicit", arguments: { mode: "url", elicitationId: "el-1", complete: true } });
    const ask = await a.next((m) => m.method === "elicitation/create", 5000, from);
    expect(typeof ask.id).toBe("string");
    a.send({ jsonrpc: "2.0", id: ask.id as string, result: { action: "accept" } });
    expect(textOf((await a.response(1)).result)).toContain("accept");
    await a.next((m) => m.method === "notifications/elicitation/complete", 5000, from);
    await b.settle();
    expect(
      b.received.some((m) => m.method === "elicitation/create" || m.method === "notifications/elicitation/complete"),
    ).toBe(false);
  });

  test("a URL elicitation for a form-only caller gets -32034 (never a made-up cancel), never sent elsewhere", async () => {
    const { t } = await fake();
    const a = await proxied(t.socket, { elicitation: { form: {} } });
    const b = await proxied(t.socket, { elicitation: { form: {}, url: {} } });
    a.request(1, "tools/call", { name: "elicit", arguments: { mode: "url" } });
    const answer = textOf((await a.response(1)).result);
    expect(answer).toContain("-32034");
    expect(answer).not.toContain('"action"');
    await b.settle();
    expect(a.received.some((m) => m.method === "elicitation/create")).toBe(false);
    expect(b.received.some((m) => m.method === "elicitation/create")).toBe(false);
  });

  test("no capable caller, or an ambiguous origin: the child gets -32034 and nobody is asked", async () => {
    const { d, t } = await fake();
    const capable = await proxied(t.socket, { sampling: {} });
    const plain = await proxied(t.socket, {});
    plain.request(1, "tools/call", { name: "sample" });
    expect(textOf((await plain.response(1)).result)).toContain("-32034");
    const other = await proxied(t.socket, { sampling: {} });
    other.request(1, "tools/call", { name: "slow", arguments: { ms: 1500, who: "other" } });
    await waitFor(() => callsOf(d, '"who":"other"').length === 1, 5000, "other's call at the child");
    capable.request(1, "tools/call", { name: "sample" });
    const r = textOf((await capable.response(1)).result);
    expect(r).toContain("-32034");
    expect(r).toContain("several clients");
    for (const c of [capable, plain, other]) await c.settle();
    for (const c of [capable, plain, other])
      expect(c.received.some((m) => m.method === "sampling/createMessage")).toBe(false);
  });

  test("the chosen client disconnecting or not answering gives the child a prompt error", async () => {
    const { d, t } = await fake({ requestTimeoutMs: 500 });
    const a = await proxied(t.socket, { sampling: {} });
    const from = a.mark();
    a.request(1, "tools/call", { name: "sample" });
    const ask = await a.next((m) => m.method === "sampling/createMessage", 5000, from);
    const cancelled = await a.next((m) => m.method === "notifications/cancelled", 3000, from);
    expect((cancelled.params as Json).requestId).toBe(ask.id as string);
    await waitFor(() => recorded(d).some((m) => m.id === 1000 && "error" in m), 3000, "error to child");
    const answered = recorded(d).find((m) => m.id === 1000 && "error" in m) as Json;
    expect((answered.error as Json).code).toBe(-32034);
    // disconnect case
    const b = await proxied(t.socket, { sampling: {} });
    b.request(2, "tools/call", { name: "sample", arguments: { who: "b" } });
    await b.next((m) => m.method === "sampling/createMessage");
    b.proc?.kill("SIGKILL");
    await waitFor(() => recorded(d).some((m) => m.id === 1001 && "error" in m), 3000, "error to child");
  });

  test("the child's ping is answered by the mux, never forwarded", async () => {
    const { t } = await fake();
    const a = await proxied(t.socket, {});
    const b = await proxied(t.socket, {});
    a.request(1, "tools/call", { name: "ping-client" });
    expect(JSON.parse(textOf((await a.response(1)).result))).toMatchObject({ result: {} });
    await b.settle();
    expect([...a.received, ...b.received].some((m) => m.method === "ping")).toBe(false);
  });
});

describe("roots", () => {
  const rootsClient = async (socket: string, roots: string[]): Promise<RawClient> => {
    const c = await scope.raw(socket, "proxy");
    const from = c.mark();
    await c.handshake({ roots: { listChanged: true } });
    const ask = await c.next((m) => m.method === "roots/list", 5000, from);
    c.send({ jsonrpc: "2.0", id: ask.id as string, result: { roots: roots.map((uri) => ({ uri })) } });
    return c;
  };

  test("intersection (default): the server sees only what every client exposes; a disconnect notifies the child", async () => {
    const { d, t } = await fake();
    const a = await rootsClient(t.socket, ["file:///p", "file:///q"]);
    const b = await rootsClient(t.socket, ["file:///p/sub"]);
    a.request(1, "tools/call", { name: "roots" });
    expect(JSON.parse(textOf((await a.response(1)).result)).result.roots).toEqual([{ uri: "file:///p/sub" }]);
    await Bun.sleep(100); // let the debounced roots/list_changed for b's arrival go out first
    const changes = (): number => recorded(d).filter((m) => m.method === "notifications/roots/list_changed").length;
    const before = changes();
    b.close();
    await waitFor(() => changes() > before, 3000, "roots changed");
    a.request(2, "tools/call", { name: "roots" });
    expect(JSON.parse(textOf((await a.response(2)).result)).result.roots).toEqual([
      { uri: "file:///p" },
      { uri: "file:///q" },
    ]);
  });

  test("union policy, and server-everything's get-roots-list", async () => {
    const { t } = await fake({ rootsPolicy: "union" });
    const a = await rootsClient(t.socket, ["file:///p"]);
    await rootsClient(t.socket, ["file:///z"]);
    a.request(1, "tools/call", { name: "roots" });
    expect(JSON.parse(textOf((await a.response(1)).result)).result.roots).toEqual([
      { uri: "file:///p" },
      { uri: "file:///z" },
    ]);

    const d = dir();
    const e = await use({ socket: join(d, "e.sock"), cmd: EVERYTHING_BIN, args: ["stdio"] });
    const c = await sdk(e.socket, { capabilities: { roots: { listChanged: true } } });
    c.setRequestHandler(ListRootsRequestSchema, async () => ({
      roots: [{ uri: "file:///tmp/project", name: "project" }],
    }));
    await c.sendRootsListChanged();
    await waitFor(
      async () => textOf(await c.callTool({ name: "get-roots-list", arguments: {} })).includes("file:///tmp/project"),
      5000,
      "roots",
    );
  });
});

describe("subscriptions and logging", () => {
  test("subscriptions are reference-counted; updates go to subscribers only; disconnect releases", async () => {
    const { d, t } = await fake();
    const a = await proxied(t.socket, {});
    const b = await proxied(t.socket, {});
    const c = await proxied(t.socket, {});
    a.request(1, "resources/subscribe", { uri: "file:///x" });
    b.request(1, "resources/subscribe", { uri: "file:///x" });
    await a.response(1);
    await b.response(1);
    expect(recorded(d).filter((m) => m.method === "resources/subscribe").length).toBe(1);
    a.request(2, "resources/unsubscribe", { uri: "file:///x" });
    await a.response(2);
    expect(recorded(d).filter((m) => m.method === "resources/unsubscribe").length).toBe(0);
    c.request(1, "tools/call", {
      name: "notify",
      arguments: { method: "notifications/resources/updated", params: { uri: "file:///x" } },
    });
    await b.next((m) => m.method === "notifications/resources/updated");
    await a.settle();
    await c.settle();
    expect(a.received.some((m) => m.method === "notifications/resources/updated")).toBe(false);
    expect(c.received.some((m) => m.method === "notifications/resources/updated")).toBe(false);
    b.close();
    await waitFor(
      () => recorded(d).filter((m) => m.method === "resources/unsubscribe").length === 1,
      3000,
      "unsubscribe",
    );
  });

  test("server-everything: one client's unsubscribe does not stop another's updates", async () => {
    const d = dir();
    const t = await use({ socket: join(d, "e.sock"), cmd: EVERYTHING_BIN, args: ["stdio"] });
    const a = await proxied(t.socket, {});
    const b = await proxied(t.socket, {});
    const uri = "demo://resource/static/document/architecture.md";
    a.request(1, "resources/subscribe", { uri });
    b.request(1, "resources/subscribe", { uri });
    await a.response(1);
    await b.response(1);
    a.request(2, "resources/unsubscribe", { uri });
    await a.response(2);
    const from = b.mark();
    b.request(2, "tools/call", { name: "toggle-subscriber-updates", arguments: {} });
    await b.response(2);
    await b.next((m) => m.method === "notifications/resources/updated" && (m.params as Json).uri === uri, 8000, from);
    await a.settle();
    expect(a.received.some((m) => m.method === "notifications/resources/updated")).toBe(false);
  });

  test("log levels are per client; the child gets the most verbose; disconnect recomputes", async () => {
    const { d, t } = await fake();
    const a = await proxied(t.socket, {});
    const b = await proxied(t.socket, {});
    a.request(1, "logging/setLevel", { level: "error" });
    b.request(1, "logging/setLevel", { level: "info" });
    await a.response(1);
    await b.response(1);
    a.request(2, "logging/setLevel", { level: "loud" });
    expect(((await a.response(2)).error as Json).code).toBe(-32602);
    a.request(3, "tools/call", { name: "whoami" });
    expect(JSON.parse(textOf((await a.response(3)).result)).logLevel).toBe("info");
    const from = b.mark();
    a.request(4, "tools/call", { name: "log", arguments: { levels: ["debug", "info", "error"] } });
    await a.response(4);
    await b.next((m) => m.method === "notifications/message" && (m.params as Json).level === "error", 5000, from);
    await b.settle();
    const levels = (c: RawClient) =>
      c.received.filter((m) => m.method === "notifications/message").map((m) => (m.params as Json).level);
    expect(levels(a)).toEqual(["error"]);
    expect(levels(b)).toEqual(["info", "error"]);
    b.close();
    await waitFor(
      () =>
        recorded(d)
          .filter((m) => m.method === "logging/setLevel")
          .map((m) => (m.params as Json).level)
          .at(-1) === "error",
      3000,
      "level recomputed",
    );
  });

  test("list results are never served from a stale cache: every tools/list reaches the child", async () => {
    const { d, t } = await fake();
    const a = await proxied(t.socket, {});
    const b = await proxied(t.socket, {});
    a.request(1, "tools/list");
    await a.response(1);
    a.request(2, "tools/call", { name: "notify", arguments: { method: "notifications/tools/list_changed" } });
    await b.next((m) => m.method === "notifications/tools/list_changed");
    b.request(1, "tools/list");
    await b.response(1);
    expect(recorded(d).filter((m) => m.method === "tools/list").length).toBe(2);
  });

  test("list_changed goes to every initialized client, not to clients still connecting", async () => {
    const { t } = await fake();
    const a = await proxied(t.socket, {});
    const b = await proxied(t.socket, {});
    const pending = await proxied(t.socket);
    const from = b.mark();
    a.request(1, "tools/call", { name: "notify", arguments: { method: "notifications/tools/list_changed" } });
    await a.next((m) => m.method === "notifications/tools/list_changed");
    await b.next((m) => m.method === "notifications/tools/list_changed", 5000, from);
    // A ping before its initialize is answered (by the child, after the broadcast).
    await pending.settle();
    expect(pending.received).toHaveLength(1); // the pong only
    expect(pending.received[0]).toMatchObject({ result: {} });
  });
});

describe("tasks, batches, newer protocol era, isolated mode", () => {
  test("tasks belong to their creator (server-everything simulate-research-query)", async () => {
    const d = dir();
    const t = await use({ socket: join(d, "e.sock"), cmd: EVERYTHING_BIN, args: ["stdio"] });
    const a = await proxied(t.socket, {});
    const b = await proxied(t.socket, {});
    const from = a.mark();
    a.request(1, "tools/call", { name: "simulate-research-query", arguments: { topic: "mux" }, task: { ttl: 60000 } });
    const created = (await a.response(1, 10_000)).result as Json;
    const taskId = (created.task as Json).taskId as string;
    b.request(1, "tasks/get", { taskId });
    expect((await b.response(1)).error as Json).toMatchObject({ code: -32602, message: "Task not found" });
    b.request(2, "tasks/cancel", { taskId });
    expect(((await b.response(2)).error as Json).code).toBe(-32602);
    b.request(3, "tasks/list");
    expect(((await b.response(3)).result as Json).tasks).toEqual([]);
    a.request(2, "tasks/get", { taskId });
    expect(((await a.response(2)).result as Json).taskId).toBe(taskId);
    a.request(3, "tasks/list");
    expect((((await a.response(3)).result as Json).tasks as Json[]).map((x) => x.taskId)).toContain(taskId);
    await a.next((m) => m.method === "notifications/tasks/status", 10_000, from);
    await b.settle();
    expect(b.received.some((m) => m.method === "notifications/tasks/status")).toBe(false);
  });

  test("a batch is split, routed and answered as one array; the child never sees arrays", async () => {
    const { d, t } = await fake();
    const c = await proxied(t.socket, {}, "2025-03-26");
    c.send(
      '[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"n":1}}},{"jsonrpc":"2.0","id":2,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"},{"jsonrpc":"2.0","id":"3","method":"tools/call","params":{"name":"echo","arguments":{"n":3}}}]',
    );
    const batch = (await c.next((m) => "batch" in m)).batch as Json[];
    expect(batch.map((m) => m.id).sort()).toEqual([1, 2, "3"].sort());
    expect(recorded(d).some((m) => Array.isArray(m))).toBe(false);
    c.send('[{"jsonrpc":"2.0","method":"notifications/only"}]');
    c.request(9, "ping");
    await c.response(9);
    expect(c.received.filter((m) => "batch" in m).length).toBe(1); // notifications-only batch: no answer
  });

  test("unknown methods pass through with rewritten ids; _meta is untouched; listen subscription ids come back per client", async () => {
    const { d, t } = await fake();
    const a = await proxied(t.socket, {});
    const b = await proxied(t.socket, {});
    a.request("q", "vendor/experimental", { _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28" } });
    const res = await a.response("q");
    expect((res.error as Json).code).toBe(-32601);
    const seen = recorded(d).find((m) => m.method === "vendor/experimental") as Json;
    expect(typeof seen.id).toBe("number");
    expect((seen.params as Json)._meta).toEqual({ "io.modelcontextprotocol/protocolVersion": "2026-07-28" });
    const [fromA, fromB] = [a.mark(), b.mark()];
    a.request(5, "subscriptions/listen", { filter: {} });
    b.request(5, "subscriptions/listen", { filter: {} });
    await a.next((m) => m.method === "notifications/resources/updated", 5000, fromA);
    await b.next((m) => m.method === "notifications/resources/updated", 5000, fromB);
    await a.settle();
    await b.settle();
    for (const c of [a, b]) {
      const carried = c.received.filter(
        (m) =>
          ((m.params as Json | undefined)?._meta as Json | undefined)?.["io.modelcontextprotocol/subscriptionId"] !==
          undefined,
      );
      expect(carried.length).toBe(2);
      expect(
        carried.every((m) => ((m.params as Json)._meta as Json)["io.modelcontextprotocol/subscriptionId"] === 5),
      ).toBe(true);
    }
  });

  test("isolated mode gives each client its own child, stopped when the client leaves", async () => {
    const { t } = await fake({ isolated: true });
    const a = await proxied(t.socket, {});
    const b = await proxied(t.socket, {});
    a.request(1, "tools/call", { name: "whoami" });
    b.request(1, "tools/call", { name: "whoami" });
    const pa = JSON.parse(textOf((await a.response(1)).result)).pid as number;
    const pb = JSON.parse(textOf((await b.response(1)).result)).pid as number;
    expect(pa).not.toBe(pb);
    b.request(2, "mcp-mux/status");
    const s = (await b.response(2)).result as Json;
    expect(s.mode).toBe("isolated");
    expect((s.childPids as number[]).sort()).toEqual([pa, pb].sort());
    a.close();
    await waitFor(
      () => {
        try {
          process.kill(pa, 0);
          return false;
        } catch {
          return true;
        }
      },
      5000,
      "a's child gone",
    );
  });
});
