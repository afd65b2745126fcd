/**
 * A 2026-07-28 ("modern") child behind the compiled mux (`--era modern`, or `auto` probing it):
 * the 2026-era fixture (test/fixtures/modern-server.ts), which refuses `initialize`. Modern
 * clients on the socket (raw, through mux-proxy) and over HTTP: `server/discover` from the
 * cached DiscoverResult, requests and `input_required` rounds passed through verbatim, tasks
 * owned by their creator, listens with their own ids. Legacy clients (the official SDK client
 * through mux-proxy and over Streamable HTTP): initialize answered from the DiscoverResult,
 * their capabilities sent as each request's envelope, the child's `input_required` turned into
 * real elicitation and sampling requests, list changes and resource updates through the mux's
 * own listen.
 */

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import {
  BUN,
  fakeServer,
  type Json,
  ROOT,
  recorded,
  sdkClient,
  type Target,
  testScope,
  textOf,
  waitFor,
} from "../helpers.ts";

const scope = testScope("bin");
const MODERN_FIXTURE = join(ROOT, "test/fixtures/modern-server.ts");
const LEGACY_FIXTURE = join(ROOT, "test/fixtures/conformance-server.ts");
const MODERN = "2026-07-28";
const V = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";
const LEVEL = "io.modelcontextprotocol/logLevel";
const SERVER_INFO = "io.modelcontextprotocol/serverInfo";
const SUB = "io.modelcontextprotocol/subscriptionId";
const TASKS = "io.modelcontextprotocol/tasks";

const envelope = (caps: Json = {}, extra: Json = {}): Json => ({ _meta: { [V]: MODERN, [CAPS]: caps, ...extra } });

/** The mux with the modern fixture as its child; `log` names the file where the fixture writes every line it got. */
async function modernChild(
  era: "modern" | "auto" = "modern",
  http = false,
  more: Json = {},
): Promise<{ t: Target; log: string; lines: () => Json[] }> {
  const d = scope.dir();
  const log = join(d, "child.jsonl");
  const t = await scope.target({
    socket: join(d, "m.sock"),
    cmd: BUN,
    args: [MODERN_FIXTURE],
    env: { MODERN_FIXTURE_LOG: log },
    era,
    ...(http ? { http: { listen: "127.0.0.1:0", auth: "none" as const } } : {}),
    ...more,
  });
  const lines = (): Json[] => {
    try {
      return readFileSync(log, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Json);
    } catch {
      return [];
    }
  };
  return { t, log, lines };
}

const resultOf = (m: Json): Json => m.result as Json;
const errorOf = (m: Json): Json => m.error as Json;

describe("modern clients of a modern child", () => {
  test("server/discover comes from the child's DiscoverResult; the child is never sent initialize", async () => {
    const { t, lines } = await modernChild();
    const c = await scope.raw(t.socket, "proxy");
    c.request("d-1", "server/discover", envelope());
    const res = resultOf(await c.response("d-1", 15_000));
    expect(res.supportedVersions).toEqual([MODERN]);
    expect((res.capabilities as Json).extensions).toEqual({ [TASKS]: {} });
    expect((res._meta as Json)[SERVER_INFO]).toEqual({ name: "mux-modern-fixture", version: "1.0.0" });
    expect(res.instructions).toBe("A 2026-07-28 test server.");
    const methods = lines().map((l) => l.method);
    expect(methods).not.toContain("initialize");
    expect(methods).not.toContain("notifications/initialized");
    // The mux's probe carried an envelope of its own.
    const probe = lines().find((l) => l.method === "server/discover") as Json;
    expect(((probe.params as Json)._meta as Json)[V]).toBe(MODERN);
  });

  test("requests pass through with the client's own envelope; input_required, requestState and resultType verbatim", async () => {
    const { t, lines } = await modernChild();
    const c = await scope.raw(t.socket);
    const caps = { elicitation: {} };
    c.request(1, "tools/call", {
      name: "test_input_required_result_multi_round",
      arguments: {},
      ...envelope(caps, { [LEVEL]: "info" }),
    });
    const r1 = resultOf(await c.response(1, 15_000));
    expect(r1.resultType).toBe("input_required");
    expect(Object.keys(r1.inputRequests as Json)).toEqual(["step1"]);
    expect(typeof r1.requestState).toBe("string");
    // The child saw the client's envelope, its log level included, and a mux id.
    const seen = lines().find((l) => l.method === "tools/call") as Json;
    expect(((seen.params as Json)._meta as Json)[LEVEL]).toBe("info");
    expect(((seen.params as Json)._meta as Json)[CAPS]).toEqual(caps);
    c.request("r2", "tools/call", {
      name: "test_input_required_result_multi_round",
      arguments: {},
      inputResponses: { step1: { action: "accept", content: { name: "Alice" } } },
      requestState: r1.requestState,
      ...envelope(caps),
    });
    const r2 = resultOf(await c.response("r2"));
    expect(r2.resultType).toBe("input_required");
    expect(r2.requestState).not.toBe(r1.requestState);
    // The child's own state reached it byte for byte.
    const retry = lines().filter((l) => l.method === "tools/call")[1] as Json;
    expect((retry.params as Json).requestState).toBe(r1.requestState);
    c.request("r3", "tools/call", {
      name: "test_input_required_result_multi_round",
      arguments: {},
      inputResponses: { step2: { action: "accept", content: { color: "blue" } } },
      requestState: r2.requestState,
      ...envelope(caps),
    });
    const r3 = resultOf(await c.response("r3"));
    expect(r3.resultType).toBe("complete");
    expect(textOf(r3)).toBe("Alice likes blue");
    // A tampered state is the child's to refuse, and it does.
    c.request("bad", "tools/call", {
      name: "test_input_required_result_multi_round",
      arguments: {},
      inputResponses: { step2: { action: "accept", content: { color: "blue" } } },
      requestState: `${String(r2.requestState)}-TAMPERED`,
      ...envelope(caps),
    });
    expect(errorOf(await c.response("bad")).code).toBe(-32602);
  });

  test("a task belongs to the connection whose call created it: another one's tasks/get is refused -32602", async () => {
    const { t } = await modernChild();
    const a = await scope.raw(t.socket);
    const b = await scope.raw(t.socket);
    const caps = { extensions: { [TASKS]: {} } };
    a.request(1, "tools/call", { name: "slow_compute", arguments: { seconds: 30 }, ...envelope(caps) });
    const created = resultOf(await a.response(1, 15_000));
    expect(created.resultType).toBe("task");
    const taskId = created.taskId as string;
    b.request(1, "tasks/get", { taskId, ...envelope(caps) });
    expect(errorOf(await b.response(1)).code).toBe(-32602);
    b.request(2, "tasks/cancel", { taskId, ...envelope(caps) });
    expect(errorOf(await b.response(2)).code).toBe(-32602);
    // Without the extension declared: -32021 naming it.
    a.request(2, "tasks/get", { taskId, ...envelope({}) });
    const gate = errorOf(await a.response(2));
    expect(gate.code).toBe(-32021);
    expect(gate.data).toEqual({ requiredCapabilities: { extensions: { [TASKS]: {} } } });
    a.request(3, "tasks/get", { taskId, ...envelope(caps) });
    const got = resultOf(await a.response(3));
    expect(got.taskId).toBe(taskId);
    expect(got.status).toBe("working");
    a.request(4, "tasks/cancel", { taskId, ...envelope(caps) });
    expect(resultOf(await a.response(4)).resultType).toBe("complete");
    a.request(5, "tasks/get", { taskId, ...envelope(caps) });
    expect(resultOf(await a.response(5)).status).toBe("cancelled");
  });

  test("subscriptions/listen passes through: the acknowledgement and notifications carry the client's own id", async () => {
    const { t } = await modernChild();
    const a = await scope.raw(t.socket);
    const b = await scope.raw(t.socket);
    a.request("listen-a", "subscriptions/listen", { notifications: { toolsListChanged: true }, ...envelope() });
    b.request(77, "subscriptions/listen", { notifications: { promptsListChanged: true }, ...envelope() });
    const ackA = await a.next((m) => m.method === "notifications/subscriptions/acknowledged", 15_000);
    expect(((ackA.params as Json)._meta as Json)[SUB]).toBe("listen-a");
    const ackB = await b.next((m) => m.method === "notifications/subscriptions/acknowledged", 15_000);
    expect(((ackB.params as Json)._meta as Json)[SUB]).toBe(77);
    a.request(1, "tools/call", { name: "test_trigger_tool_change", arguments: {}, ...envelope() });
    await a.response(1);
    const changed = await a.next((m) => m.method === "notifications/tools/list_changed", 5000, 0);
    expect(((changed.params as Json)._meta as Json)[SUB]).toBe("listen-a");
    b.request(1, "tools/call", { name: "test_trigger_prompt_change", arguments: {}, ...envelope() });
    await b.response(1);
    const p = await b.next((m) => m.method === "notifications/prompts/list_changed", 5000, 0);
    expect(((p.params as Json)._meta as Json)[SUB]).toBe(77);
    await a.settle();
    expect(b.received.some((m) => m.method === "notifications/tools/list_changed")).toBe(false);
  });

  test("over HTTP: discover, a task and its tasks/get across two stateless POSTs", async () => {
    const { t } = await modernChild("modern", true);
    const post = async (id: number, method: string, params: Json, name?: string): Promise<Json> => {
      const res = await fetch(t.httpUrl as string, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": MODERN,
          "mcp-method": method,
          ...(name ? { "mcp-name": name } : {}),
        },
        body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
      });
      const text = await res.text();
      const line = text.startsWith("{") ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? "{}");
      return JSON.parse(line) as Json;
    };
    const caps = { extensions: { [TASKS]: {} } };
    const d = await post(1, "server/discover", envelope());
    expect(resultOf(d).supportedVersions).toEqual([MODERN]);
    const created = resultOf(
      await post(
        2,
        "tools/call",
        { name: "slow_compute", arguments: { seconds: 0 }, ...envelope(caps) },
        "slow_compute",
      ),
    );
    expect(created.resultType).toBe("task");
    const taskId = created.taskId as string;
    let status = "";
    await waitFor(async () => {
      status = String(resultOf(await post(3, "tasks/get", { taskId, ...envelope(caps) }, taskId)).status);
      return status === "completed";
    }, 10_000);
    expect(status).toBe("completed");
  });
});

describe("legacy clients of a modern child", () => {
  test("the SDK client through mux-proxy: initialize from the DiscoverResult, calls carry its envelope, results without resultType", async () => {
    const { t, lines } = await modernChild();
    const client = await sdkClient(t.socket, { name: "legacy-sdk", capabilities: { elicitation: {} } });
    scope.defer(() => client.close());
    expect(client.getServerVersion()).toEqual({ name: "mux-modern-fixture", version: "1.0.0" });
    expect(client.getInstructions()).toBe("A 2026-07-28 test server.");
    expect(client.getServerCapabilities()?.extensions).toBeUndefined();
    await client.ping();
    await client.setLoggingLevel("warning");
    const greeted = await client.callTool({ name: "greet", arguments: { name: "Ada" } });
    expect(textOf(greeted)).toBe("Hello, Ada!");
    expect((greeted as Json).resultType).toBeUndefined();
    const listed = await client.listTools();
    expect(listed.tools.some((x) => x.name === "slow_compute")).toBe(true);
    expect((listed as Json).ttlMs).toBeUndefined();
    const call = lines().find((l) => l.method === "tools/call") as Json;
    const meta = (call.params as Json)._meta as Json;
    expect(meta[V]).toBe(MODERN);
    expect(meta[CAPS]).toEqual({ elicitation: {} });
    expect(meta["io.modelcontextprotocol/clientInfo"]).toEqual({ name: "legacy-sdk", version: "1.0.0" });
    expect(meta[LEVEL]).toBe("warning");
    const methods = lines().map((l) => l.method);
    for (const m of ["initialize", "ping", "logging/setLevel"]) expect(methods).not.toContain(m);
  });

  test("the child's input_required becomes real elicitation and sampling requests to the SDK client, retried with the child's state", async () => {
    const { t, lines } = await modernChild();
    const client = new Client({ name: "legacy", version: "1" }, { capabilities: { elicitation: {}, sampling: {} } });
    const asked: string[] = [];
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params.message);
      const props = Object.keys(
        (req.params as { requestedSchema?: { properties?: Json } }).requestedSchema?.properties ?? {},
      );
      const content = props.includes("color")
        ? { color: "green" }
        : props.includes("context")
          ? { context: "ctx" }
          : { name: "Alice" };
      return { action: "accept", content };
    });
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      role: "assistant",
      content: { type: "text", text: "Paris" },
      model: "m",
    }));
    const { StdioClientTransport } = await import("@modelcontextprotocol/sdk/client/stdio.js");
    await client.connect(
      new StdioClientTransport({ command: join(ROOT, "dist/mux-proxy"), args: ["--socket", t.socket], stderr: "pipe" }),
    );
    scope.defer(() => client.close());
    const r = await client.callTool({ name: "test_input_required_result_multi_round", arguments: {} });
    expect(textOf(r)).toBe("Alice likes green");
    expect(asked).toEqual(["Step 1: What is your name?", "Step 2: What is your favorite color?"]);
    const calls = lines().filter((l) => l.method === "tools/call");
    expect(calls.length).toBe(3);
    expect(typeof (calls[1]?.params as Json).requestState).toBe("string");
    expect((calls[2]?.params as Json).inputResponses).toEqual({
      step2: { action: "accept", content: { color: "green" } },
    });
    const sampled = await client.callTool({ name: "test_input_required_result_sampling", arguments: {} });
    expect(textOf(sampled)).toContain("Paris");
    const prompt = await client.getPrompt({ name: "test_input_required_result_prompt" });
    expect(JSON.stringify(prompt.messages)).toContain("Context: ctx");
  });

  test("between rounds a legacy request stays in flight: its id is taken, and a cancel ends it with nothing sent to the child", async () => {
    const { t, lines } = await modernChild();
    const c = await scope.raw(t.socket);
    await c.handshake({ elicitation: {} });
    c.request(7, "tools/call", { name: "test_input_required_result_elicitation", arguments: {} });
    const q = await c.next((m) => m.method === "elicitation/create", 15_000, 0);
    c.request(7, "tools/list", {});
    expect(errorOf(await c.response(7)).code).toBe(-32600);
    c.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 7 } });
    c.send({ jsonrpc: "2.0", id: q.id, result: { action: "accept", content: { name: "Zed" } } });
    await c.settle();
    expect(c.received.filter((m) => m.id === 7).length).toBe(1); // only the duplicate's refusal
    expect(lines().filter((l) => l.method === "tools/call").length).toBe(1);
    // The id is free again.
    c.request(7, "tools/call", { name: "greet", arguments: { name: "Zed" } });
    expect(textOf(resultOf(await c.response(7)))).toBe("Hello, Zed!");
  });

  test("a legacy client's request nested past JSON.stringify's stack gets -32602 and its connection goes on", async () => {
    const { t, lines } = await modernChild();
    const c = await scope.raw(t.socket);
    await c.handshake();
    const deep = 200_000;
    c.send(
      `{"jsonrpc":"2.0","id":"deep","method":"tools/call","params":{"name":"greet","arguments":{"x":${"[".repeat(deep)}${"]".repeat(deep)}}}}`,
    );
    expect(((await c.response("deep", 20_000)).error as Json).code).toBe(-32602);
    c.request("ok", "tools/call", { name: "greet", arguments: { name: "Ada" } });
    expect(((await c.response("ok")).result as Json).content).toEqual([{ type: "text", text: "Hello, Ada!" }]);
    expect(lines().filter((l) => l.method === "tools/call")).toHaveLength(1);
  }, 60_000);

  test("a legacy client without the capability gets an isError result, never the question", async () => {
    const { t } = await modernChild();
    const client = await sdkClient(t.socket, { capabilities: {} });
    scope.defer(() => client.close());
    const r = await client.callTool({ name: "test_input_required_result_elicitation", arguments: {} });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain("elicitation");
  });

  test("list changes and resource updates reach legacy clients through the mux's own listen", async () => {
    const { t } = await modernChild();
    const client = await sdkClient(t.socket, { capabilities: {} });
    scope.defer(() => client.close());
    let changed = 0;
    const updated: string[] = [];
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      changed++;
    });
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => {
      updated.push(n.params.uri);
    });
    await client.subscribeResource({ uri: "test://watched-resource" });
    await client.callTool({ name: "test_trigger_tool_change", arguments: {} });
    await waitFor(() => changed > 0, 10_000);
    // The listen is issued again with the URI: an update for it arrives, one for another URI does not.
    await waitFor(async () => {
      await client.callTool({ name: "test_trigger_resource_update", arguments: { uri: "test://watched-resource" } });
      return updated.length > 0;
    }, 10_000);
    await client.callTool({ name: "test_trigger_resource_update", arguments: { uri: "test://static-text" } });
    await client.ping();
    expect(new Set(updated)).toEqual(new Set(["test://watched-resource"]));
  });

  test("the mux's own listen does not keep an idle modern child awake; the next call wakes it, probed again", async () => {
    const { t, lines } = await modernChild("modern", false, { dormantAfterMs: 300 });
    const c = await scope.raw(t.socket);
    await c.handshake();
    c.request(1, "tools/call", { name: "greet", arguments: { name: "A" } });
    expect(textOf(resultOf(await c.response(1, 15_000)))).toBe("Hello, A!");
    await waitFor(() => lines().some((l) => l.method === "subscriptions/listen"), 5000);
    c.request("st", "mcp-mux/status");
    expect(resultOf(await c.response("st")).protocolVersion).toBe(MODERN);
    let state = "";
    await waitFor(
      async () => {
        c.request("s", "mcp-mux/status");
        state = String(resultOf(await c.response("s")).state);
        return state === "dormant";
      },
      10_000,
      "dormant",
    );
    c.request(2, "tools/call", { name: "greet", arguments: { name: "B" } });
    expect(textOf(resultOf(await c.response(2, 15_000)))).toBe("Hello, B!");
    const methods = lines().map((l) => l.method);
    expect(methods.filter((m) => m === "server/discover").length).toBe(2);
    expect(methods).not.toContain("initialize");
  });

  test("over Streamable HTTP: the SDK client's elicitation round trip", async () => {
    const { t } = await modernChild("modern", true);
    const client = new Client({ name: "legacy-http", version: "1" }, { capabilities: { elicitation: {} } });
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { name: "Bob" } }));
    await client.connect(new StreamableHTTPClientTransport(new URL(t.httpUrl as string)));
    scope.defer(() => client.close());
    expect(client.getServerVersion()?.name).toBe("mux-modern-fixture");
    const r = await client.callTool({ name: "test_input_required_result_elicitation", arguments: {} });
    expect(textOf(r)).toBe("Hello, Bob!");
  });
});

describe("era = auto", () => {
  test("a modern child is found by the probe; a legacy one falls back to initialize", async () => {
    const { t, lines } = await modernChild("auto");
    const c = await scope.raw(t.socket);
    c.request(1, "server/discover", envelope());
    expect(resultOf(await c.response(1, 15_000)).supportedVersions).toEqual([MODERN]);
    expect(lines().map((l) => l.method)).not.toContain("initialize");

    const d = scope.dir();
    const legacy = await scope.target({ socket: join(d, "l.sock"), cmd: BUN, args: [LEGACY_FIXTURE], era: "auto" });
    const client = await sdkClient(legacy.socket);
    scope.defer(() => client.close());
    expect(client.getServerVersion()?.name).toBe("mux-conformance-fixture");
    expect(textOf(await client.callTool({ name: "test_simple_text", arguments: {} }))).toContain("simple text");
  });

  for (const mode of ["exit", "silent"] as const)
    test(`a legacy server that ${mode === "exit" ? "exits on" : "never answers"} the probe is initialized instead`, async () => {
      const d = scope.dir();
      const t = await scope.target({
        socket: join(d, "f.sock"),
        ...fakeServer(d, { FAKE_DISCOVER: mode }),
        era: "auto",
        maxRestarts: 1,
      });
      const client = await sdkClient(t.socket);
      scope.defer(() => client.close());
      expect(client.getServerVersion()?.name).toBe("fake-server");
      await client.listTools();
      const methods = recorded(d).map((l) => l.method);
      expect(methods.indexOf("server/discover")).toBeGreaterThanOrEqual(0);
      expect(methods.indexOf("initialize")).toBeGreaterThan(methods.indexOf("server/discover"));
      // Once known legacy, it is never probed again (one probe, one initialize).
      expect(methods.filter((m) => m === "server/discover").length).toBe(1);
      expect(methods.filter((m) => m === "initialize").length).toBe(1);
    }, 15_000);
});
