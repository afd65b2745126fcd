/**
 * 2026-07-28 ("modern") clients on the Unix socket, through the compiled mux and the real
 * mux-proxy, in front of a legacy (2025-11-25) child: `server/discover` from the cached
 * initialize, the per-request envelope (version, capabilities, log level), `resultType` and
 * caching hints, -32022 / -32021 / -32602 / -32601 with the client's own id, and legacy clients
 * unchanged beside them.
 */

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  BUN,
  fakeServer,
  type Json,
  type RawClient,
  ROOT,
  recorded,
  type Target,
  testScope,
  textOf,
  waitFor,
} from "../helpers.ts";

const scope = testScope("bin");
const SDK_FIXTURE = join(ROOT, "test/fixtures/conformance-server.ts");
const MODERN = "2026-07-28";
const V = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";
const INFO = "io.modelcontextprotocol/clientInfo";
const LEVEL = "io.modelcontextprotocol/logLevel";
const SERVER_INFO = "io.modelcontextprotocol/serverInfo";

const envelope = (extra: Json = {}, caps: Json = {}): Json => ({
  [V]: MODERN,
  [CAPS]: caps,
  [INFO]: { name: "modern", version: "1" },
  ...extra,
});

const fake = async (): Promise<{ d: string; t: Target }> => {
  const d = scope.dir();
  const t = await scope.target({ socket: join(d, "m.sock"), ...fakeServer(d) });
  return { d, t };
};

const errorOf = (m: Json): Json => m.error as Json;

describe("2026-07-28 clients on the socket", () => {
  test("a client starting with server/discover (via mux-proxy) gets a DiscoverResult naming 2026-07-28", async () => {
    const { t } = await fake();
    const c: RawClient = await scope.raw(t.socket, "proxy");
    c.request("probe-\u00e9", "server/discover", { _meta: envelope() });
    const res = await c.response("probe-\u00e9", 15_000);
    const result = res.result as Json;
    expect(result.resultType).toBe("complete");
    expect(result.supportedVersions).toContain(MODERN);
    expect(result.capabilities).toEqual({
      tools: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      logging: {},
    });
    expect((result._meta as Json)[SERVER_INFO]).toEqual({ name: "fake-server", version: "1.0.0" });
    expect(result.ttlMs).toBe(0);
    expect(result.cacheScope).toBe("private");
    // The exact id text came back.
    expect(c.rawLines.some((l) => l.includes('"id":"probe-\u00e9"') || l.includes('"id":"probe-\\u00e9"'))).toBe(true);
  });

  test("the envelope is checked: unsupported version -32022 with the supported list, malformed -32602, removed -32601, ids echoed", async () => {
    const { d, t } = await fake();
    const c = await scope.raw(t.socket);
    c.send(
      `{"jsonrpc":"2.0","id":12345678901234567890,"method":"server/discover","params":{"_meta":{"${V}":"2099-01-01","${CAPS}":{}}}}`,
    );
    c.request("nocaps", "tools/list", { _meta: { [V]: MODERN } });
    c.request("badlevel", "tools/list", { _meta: envelope({ [LEVEL]: "loud" }) });
    c.request("noenv", "server/discover", {});
    c.request("ping", "ping", { _meta: envelope() });
    c.request("init", "initialize", { _meta: envelope() });
    c.request("setlevel", "logging/setLevel", { level: "debug", _meta: envelope() });
    const u = errorOf(await c.next((m) => errorOf(m)?.code === -32022, 15_000));
    expect(u.data).toEqual({ supported: [MODERN], requested: "2099-01-01" });
    // The big integer id came back byte-identical.
    expect(c.rawLines.find((l) => l.includes("-32022"))).toContain('"id":12345678901234567890,');
    expect(errorOf(await c.response("nocaps")).code).toBe(-32602);
    expect(errorOf(await c.response("badlevel")).code).toBe(-32602);
    expect(errorOf(await c.response("noenv")).code).toBe(-32602);
    expect(errorOf(await c.response("ping")).code).toBe(-32601);
    expect(errorOf(await c.response("init")).code).toBe(-32601);
    expect(errorOf(await c.response("setlevel")).code).toBe(-32601);
    // None of the refused requests reached the child.
    const methods = recorded(d).map((m) => m.method);
    expect(methods.filter((m) => m === "ping" || m === "logging/setLevel" || m === "server/discover")).toEqual([]);
    const inits = recorded(d).filter((m) => m.method === "initialize");
    expect(inits.every((m) => (m.params as Json)._meta === undefined)).toBe(true); // only the mux's own
  });

  test("modern calls: results stamped, caching hints on lists, reserved keys kept from the child, progress kept", async () => {
    const { d, t } = await fake();
    const c = await scope.raw(t.socket, "proxy");
    c.request(1, "tools/list", { _meta: envelope() });
    const list = (await c.response(1, 15_000)).result as Json;
    expect(list.resultType).toBe("complete");
    expect(list.ttlMs).toBe(0);
    expect(list.cacheScope).toBe("private");
    expect((list.tools as Json[]).map((x) => x.name)).toContain("echo");
    const progress: Json[] = [];
    const from = c.mark();
    c.request(2, "tools/call", {
      name: "progress",
      arguments: { steps: 2 },
      inputResponses: { x: {} },
      _meta: { ...envelope(), progressToken: "tok" },
    });
    const call = await c.response(2);
    for (const m of c.received.slice(from)) if (m.method === "notifications/progress") progress.push(m);
    const result = call.result as Json;
    expect(result.resultType).toBe("complete");
    expect((result._meta as Json)[SERVER_INFO]).toEqual({ name: "fake-server", version: "1.0.0" });
    expect(result.ttlMs).toBeUndefined(); // tools/call is not cacheable
    expect(JSON.parse(textOf(result))).toEqual({ steps: 2 });
    expect(progress.map((m) => (m.params as Json).progressToken)).toEqual(["tok", "tok"]);
    const seen = recorded(d).find((m) => m.method === "tools/call") as Json;
    const params = seen.params as Json;
    expect(params.inputResponses).toBeUndefined();
    expect(Object.keys(params._meta as Json)).toEqual(["progressToken"]);
  });

  test("a server request the calling modern request cannot take gets -32021 naming the capability; the child's question is refused", async () => {
    const { d, t } = await fake();
    const c = await scope.raw(t.socket);
    c.request("s", "tools/call", { name: "sample", _meta: envelope({}, { elicitation: {} }) });
    const res = await c.response("s", 15_000);
    expect(errorOf(res).code).toBe(-32021);
    expect((errorOf(res).data as Json).requiredCapabilities).toEqual({ sampling: {} });
    // The child got an error for its sampling request and a cancel of the call.
    const call = recorded(d).find((m) => m.method === "tools/call") as Json;
    const cancelled = (): boolean =>
      recorded(d).some((m) => m.method === "notifications/cancelled" && (m.params as Json).requestId === call.id);
    await waitFor(cancelled, 5000, "the cancel at the child");
    expect(recorded(d).some((m) => m.id !== undefined && "error" in m && m.method === undefined)).toBe(true);
    // Nothing was sent to the client but the error (a modern client is never asked directly).
    c.request("after", "tools/call", { name: "echo", arguments: { x: 1 }, _meta: envelope() });
    await c.response("after");
    expect(c.received.filter((m) => m.method !== undefined)).toEqual([]);
  });

  test("a modern client that starts the child has it told every routable capability, so -32021 answers what a request lacks", async () => {
    const { d, t } = await fake();
    const c = await scope.raw(t.socket);
    c.request(1, "tools/list", { _meta: envelope() });
    await c.response(1, 15_000);
    const init = recorded(d).find((m) => m.method === "initialize") as Json;
    const declared = (init.params as Json).capabilities as Json;
    expect(Object.keys(declared).sort()).toEqual(["elicitation", "roots", "sampling"]);
    // The SDK fixture's tool that needs sampling: the child asks, the request that lacked it gets -32021.
    const d2 = scope.dir();
    const t2 = await scope.target({ socket: join(d2, "s.sock"), cmd: BUN, args: [SDK_FIXTURE] });
    const c2 = await scope.raw(t2.socket);
    c2.request(1, "tools/call", { name: "test_missing_capability", arguments: {}, _meta: envelope() });
    const res = await c2.response(1, 15_000);
    expect(errorOf(res)).toMatchObject({ code: -32021, data: { requiredCapabilities: { sampling: {} } } });
  });

  test("subscriptions/listen: acknowledged first with the honored subset and the client's own id, list changes tagged, cancel ends it", async () => {
    const { t } = await fake();
    const c = await scope.raw(t.socket, "proxy");
    const SUB = "io.modelcontextprotocol/subscriptionId";
    const from = c.mark();
    c.request("L", "subscriptions/listen", {
      notifications: { toolsListChanged: true, promptsListChanged: true },
      _meta: envelope(),
    });
    const ack = await c.next((m) => m.method === "notifications/subscriptions/acknowledged", 15_000, from);
    expect(ack.params).toEqual({ notifications: { toolsListChanged: true }, _meta: { [SUB]: "L" } });
    const notify = { name: "notify", arguments: { method: "notifications/tools/list_changed" }, _meta: envelope() };
    let mark = c.mark();
    c.request(1, "tools/call", notify);
    await c.response(1);
    const changed = c.received.slice(mark).filter((m) => m.method === "notifications/tools/list_changed");
    expect(changed.map((m) => ((m.params as Json)._meta as Json)[SUB])).toEqual(["L"]);
    c.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "L" } });
    mark = c.mark();
    c.request(2, "tools/call", notify);
    await c.response(2);
    expect(c.received.slice(mark).filter((m) => m.method === "notifications/tools/list_changed")).toEqual([]);
    // Nothing the child can honor: acknowledged and completed at once.
    c.request("N", "subscriptions/listen", { notifications: { promptsListChanged: true }, _meta: envelope() });
    const done = await c.response("N");
    expect(done.result).toEqual({ resultType: "complete", _meta: { [SUB]: "N" } });
  });

  test("log lines go only to the modern request that asked for them, at or above its level", async () => {
    const { t } = await fake();
    const c = await scope.raw(t.socket);
    const args = { levels: ["debug", "info", "error"] };
    let from = c.mark();
    c.request(1, "tools/call", { name: "log", arguments: args, _meta: envelope({ [LEVEL]: "info" }) });
    await c.response(1, 15_000);
    const levels = c.received
      .slice(from)
      .filter((m) => m.method === "notifications/message")
      .map((m) => (m.params as Json).level);
    expect(levels).toEqual(["info", "error"]);
    from = c.mark();
    c.request(2, "tools/call", { name: "log", arguments: args, _meta: envelope() });
    await c.response(2);
    expect(c.received.slice(from).filter((m) => m.method === "notifications/message")).toEqual([]);
  });

  test("legacy clients beside modern ones are unchanged", async () => {
    const { t } = await fake();
    const modern = await scope.raw(t.socket);
    const legacy = await scope.raw(t.socket, "proxy");
    modern.request(1, "server/discover", { _meta: envelope() });
    await modern.response(1, 15_000);
    const init = await legacy.handshake({});
    expect((init.result as Json).protocolVersion).toBe("2025-11-25");
    legacy.request(2, "tools/call", { name: "echo", arguments: { a: 1 } });
    const res = (await legacy.response(2)).result as Json;
    expect(res.resultType).toBeUndefined();
    expect(res._meta).toBeUndefined();
    // A legacy session's request with a modern-looking _meta is legacy traffic: passed through.
    legacy.request(3, "tools/list", { _meta: { [V]: MODERN } });
    expect(((await legacy.response(3)).result as Json).resultType).toBeUndefined();
  });
});
