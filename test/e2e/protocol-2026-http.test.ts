/**
 * Stateless 2026-07-28 requests on the HTTP front (`dist/mux serve --http … --http-no-auth`)
 * beside legacy sessions on the same endpoint, in front of a legacy child: the headers checked
 * against the body (-32020), the envelope (-32602, -32022) with the request's id, no session,
 * no SSE event ids, removed methods 404, GET 405, and a legacy session unchanged.
 */

import { describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fakeServer, type Json, recorded, type Target, testScope, waitFor } from "../helpers.ts";

const scope = testScope("bin");
const MODERN = "2026-07-28";
const V = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";
const ACCEPT = { "content-type": "application/json", accept: "application/json, text/event-stream" };

const serve = (): Promise<Target> => {
  const d = scope.dir();
  return scope.target({ socket: join(d, "h.sock"), ...fakeServer(d), http: { listen: "127.0.0.1:0", auth: "none" } });
};

const envelope = (extra: Json = {}): Json => ({ [V]: MODERN, [CAPS]: {}, ...extra });

/** POST one modern request with the standard headers (`headers` overrides them; null removes one). */
async function post(
  url: string,
  body: Json,
  headers: Record<string, string | null> = {},
): Promise<{ status: number; type: string; session: string | null; text: string }> {
  const params = (body.params ?? {}) as Json;
  const name = params.name ?? params.uri;
  const all: Record<string, string | null> = {
    ...ACCEPT,
    "mcp-protocol-version": MODERN,
    "mcp-method": String(body.method),
    ...(typeof name === "string" ? { "mcp-name": name } : {}),
    ...headers,
  };
  const sent: Record<string, string> = {};
  for (const [k, v] of Object.entries(all)) if (v !== null) sent[k] = v;
  const res = await fetch(url, { method: "POST", headers: sent, body: JSON.stringify({ jsonrpc: "2.0", ...body }) });
  return {
    status: res.status,
    type: res.headers.get("content-type") ?? "",
    session: res.headers.get("mcp-session-id"),
    text: await res.text(),
  };
}

/** A stateless `tools/call` of the fixture's `hang` tool (never answered), id 1. */
function hang(url: string, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: "POST",
    signal,
    headers: { ...ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": "hang" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "hang", arguments: {}, _meta: envelope() },
    }),
  });
}

/** The JSON-RPC messages of a JSON or SSE answer. */
function messagesOf(text: string): Json[] {
  if (text.startsWith("{")) return [JSON.parse(text) as Json];
  return text
    .split("\n")
    .filter((l) => l.startsWith("data: ") && l.length > 6)
    .map((l) => JSON.parse(l.slice(6)) as Json);
}

describe("2026-07-28 on the HTTP front", () => {
  test("a stateless request is served without a session; results stamped; Mcp-Session-Id ignored", async () => {
    const t = await serve();
    const url = t.httpUrl as string;
    const list = await post(url, { id: "l-1", method: "tools/list", params: { _meta: envelope() } });
    expect(list.status).toBe(200);
    expect(list.session).toBeNull();
    const res = messagesOf(list.text)[0] as Json;
    expect(res.id).toBe("l-1");
    const result = res.result as Json;
    expect(result.resultType).toBe("complete");
    expect(result.ttlMs).toBe(0);
    expect(result.cacheScope).toBe("private");
    const discover = await post(
      url,
      { id: 2, method: "server/discover", params: { _meta: envelope() } },
      { "mcp-session-id": "not-a-session" },
    );
    expect(discover.status).toBe(200);
    expect(((messagesOf(discover.text)[0] as Json).result as Json).supportedVersions).toEqual([MODERN]);
  });

  test("closing a stateless request's stream cancels it at the child", async () => {
    const d = scope.dir();
    const t = await scope.target({
      socket: join(d, "c.sock"),
      ...fakeServer(d),
      http: { listen: "127.0.0.1:0", auth: "none" },
    });
    const res = await hang(t.httpUrl as string);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const call = (): Json | undefined => recorded(d).find((m) => m.method === "tools/call");
    await waitFor(() => call() !== undefined, 5000, "the call at the child");
    await res.body?.cancel();
    const id = (call() as Json).id;
    await waitFor(
      () => recorded(d).some((m) => m.method === "notifications/cancelled" && (m.params as Json).requestId === id),
      5000,
      "the cancel at the child",
    );
  });

  test("a client that goes away before its stateless request is answered (still in the JSON window) cancels it at the child", async () => {
    const d = scope.dir();
    const t = await scope.target({
      socket: join(d, "c.sock"),
      ...fakeServer(d),
      http: { listen: "127.0.0.1:0", auth: "none" },
    });
    const gone = new AbortController();
    const call = (): Json | undefined => recorded(d).find((m) => m.method === "tools/call");
    const res = hang(t.httpUrl as string, gone.signal).catch(() => undefined);
    await waitFor(() => call() !== undefined, 5000, "the call at the child");
    gone.abort();
    await res;
    const id = (call() as Json).id;
    await waitFor(
      () => recorded(d).some((m) => m.method === "notifications/cancelled" && (m.params as Json).requestId === id),
      5000,
      "the cancel at the child",
    );
  });

  test("headers are checked against the body (-32020), the envelope too (-32602, -32022), with the request's id, HTTP 400", async () => {
    const t = await serve();
    const url = t.httpUrl as string;
    const call = { method: "tools/call", params: { name: "echo", arguments: {}, _meta: envelope() } };
    const cases: [string, Json, Record<string, string | null>, number][] = [
      ["no-method", { id: "a", ...call }, { "mcp-method": null }, -32020],
      ["wrong-method", { id: "b", ...call }, { "mcp-method": "tools/list" }, -32020],
      ["no-name", { id: "c", ...call }, { "mcp-name": null }, -32020],
      ["wrong-name", { id: "d", ...call }, { "mcp-name": "other" }, -32020],
      ["no-version", { id: "e", ...call }, { "mcp-protocol-version": null }, -32020],
      ["other-version", { id: "f", ...call }, { "mcp-protocol-version": "2025-11-25" }, -32020],
      ["no-envelope", { id: "g", method: "tools/list", params: {} }, {}, -32602],
      [
        "unsupported",
        { id: "h", method: "tools/list", params: { _meta: { [V]: "2099-01-01", [CAPS]: {} } } },
        { "mcp-protocol-version": "2099-01-01" },
        -32022,
      ],
    ];
    for (const [label, body, headers, code] of cases) {
      const res = await post(url, body, headers);
      const msg = JSON.parse(res.text) as Json;
      expect({ label, status: res.status, id: msg.id, code: (msg.error as Json).code }).toEqual({
        label,
        status: 400,
        id: body.id,
        code,
      });
    }
    // A base64-sentinel Mcp-Name is decoded before it is compared.
    const b64 = `=?base64?${Buffer.from("echo").toString("base64")}?=`;
    const ok = await post(url, { id: "i", ...call }, { "mcp-name": b64 });
    expect(ok.status).toBe(200);
    expect(((messagesOf(ok.text)[0] as Json).result as Json).resultType).toBe("complete");
  });

  test("removed methods get 404 -32601; GET and DELETE without a session get 405", async () => {
    const t = await serve();
    const url = t.httpUrl as string;
    const ping = await post(url, { id: 7, method: "ping", params: { _meta: envelope() } });
    expect(ping.status).toBe(404);
    expect((JSON.parse(ping.text) as Json).error).toMatchObject({ code: -32601 });
    for (const method of ["GET", "DELETE"]) {
      const res = await fetch(url, {
        method,
        headers: { accept: "text/event-stream", "mcp-protocol-version": MODERN },
      });
      expect({ method, status: res.status }).toEqual({ method, status: 405 });
    }
  });

  test("a streamed answer (progress first) has no event ids; the final result is stamped", async () => {
    const t = await serve();
    const res = await post(t.httpUrl as string, {
      id: 9,
      method: "tools/call",
      params: { name: "progress", arguments: { steps: 3 }, _meta: { ...envelope(), progressToken: "p" } },
    });
    expect(res.status).toBe(200);
    expect(res.type).toContain("text/event-stream");
    expect(res.text).not.toMatch(/^id:/m);
    const messages = messagesOf(res.text);
    expect(messages.filter((m) => m.method === "notifications/progress").length).toBe(3);
    expect(((messages.at(-1) as Json).result as Json).resultType).toBe("complete");
  });

  test("a legacy session on the same endpoint is unchanged", async () => {
    const t = await serve();
    const url = t.httpUrl as string;
    const init = await fetch(url, {
      method: "POST",
      headers: ACCEPT,
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "legacy", version: "1" } },
      }),
    });
    const session = init.headers.get("mcp-session-id") as string;
    expect(session).toBeTruthy();
    await init.text();
    const list = await fetch(url, {
      method: "POST",
      headers: { ...ACCEPT, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
    });
    const result = (messagesOf(await list.text())[0] as Json).result as Json;
    expect(Array.isArray(result.tools)).toBe(true);
    expect(result.resultType).toBeUndefined();
  });
});

/** Start one stateless tools/call; its answer's messages once it ends (JSON or SSE). */
function call(url: string, id: Json[string], name: string, args: Json = {}): Promise<Json[]> {
  return post(url, { id, method: "tools/call", params: { name, arguments: args, _meta: envelope() } }).then((r) =>
    messagesOf(r.text),
  );
}

/** A legacy session: initialize and initialized; its headers. */
async function legacySession(url: string): Promise<Record<string, string>> {
  const init = await fetch(url, {
    method: "POST",
    headers: ACCEPT,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "legacy", version: "1" } },
    }),
  });
  await init.text();
  const headers = {
    ...ACCEPT,
    "mcp-session-id": init.headers.get("mcp-session-id") ?? "",
    "mcp-protocol-version": "2025-11-25",
  };
  await (
    await fetch(url, { method: "POST", headers, body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' })
  ).text();
  return headers;
}

describe("stateless requests share one client per service", () => {
  test("requests with the same id at once each get their own answer; a closed stream cancels its own request only", async () => {
    const d = scope.dir();
    const t = await serve2(d);
    const url = t.httpUrl as string;
    // Streamed (slower than the JSON window), all with id 1, at the child together.
    const a = call(url, 1, "slow", { ms: 600, tag: "a" });
    const b = call(url, 1, "slow", { ms: 600, tag: "b" });
    const hung = await hang(url);
    const calls = (): Json[] => recorded(d).filter((m) => m.method === "tools/call");
    await waitFor(() => calls().length === 3, 5000, "three calls at the child");
    const hangId = (calls().find((m) => (m.params as Json).name === "hang") as Json).id;
    await hung.body?.cancel();
    const [ra, rb] = await Promise.all([a, b]);
    const answer = (ms: Json[]): Json => ms.find((m) => m.id === 1 && ("result" in m || "error" in m)) as Json;
    expect(answer(ra as Json[])).toMatchObject({ id: 1, result: { resultType: "complete" } });
    expect(JSON.stringify(answer(ra as Json[]))).toContain('\\"tag\\":\\"a\\"');
    expect(JSON.stringify(answer(rb as Json[]))).toContain('\\"tag\\":\\"b\\"');
    await waitFor(
      () => recorded(d).some((m) => m.method === "notifications/cancelled"),
      5000,
      "the cancel at the child",
    );
    const cancels = recorded(d).filter((m) => m.method === "notifications/cancelled");
    expect(cancels.map((m) => (m.params as Json).requestId)).toEqual([hangId]);
  });

  test("isolated: stateless requests share one child (not one per request), and hold it as one client", async () => {
    const d = scope.dir();
    const t = await isolated(d);
    const url = t.httpUrl as string;
    const inits = (): number => recorded(d).filter((m) => m.method === "initialize").length;
    for (let i = 0; i < 3; i++) expect((await call(url, i, "echo", { i }))[0]).toHaveProperty("result");
    expect(inits()).toBe(1);
    // The only child is theirs (until they idle out): a legacy session is refused meanwhile.
    const session = await legacySession(url);
    const refused = await fetch(url, {
      method: "POST",
      headers: session,
      body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "echo", arguments: {} } }),
    });
    expect(messagesOf(await refused.text())[0]).toMatchObject({ id: 9, error: { code: -32038 } });
  });

  test("isolated at its limit: a stateless request refused while another client holds the child is served once it left (the refusal does not stick)", async () => {
    const d = scope.dir();
    const t = await isolated(d);
    const url = t.httpUrl as string;
    const session = await legacySession(url);
    const own = await fetch(url, {
      method: "POST",
      headers: session,
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: {} } }),
    });
    expect(messagesOf(await own.text())[0]).toHaveProperty("result");
    expect((await call(url, 2, "echo"))[0]).toMatchObject({ id: 2, error: { code: -32038 } });
    await fetch(url, { method: "DELETE", headers: session });
    await waitFor(
      async () => "result" in ((await call(url, 3, "echo"))[0] as Json),
      10_000,
      "a stateless request served after the session left",
    );
  });
});

test("isolated: a shared stateless client whose child failed for good is replaced (the next request gets a child of its own)", async () => {
  const d = scope.dir();
  const crash = join(d, "crash");
  writeFileSync(crash, "");
  const t = await scope.target({
    socket: join(d, "f.sock"),
    ...fakeServer(d, { FAKE_CRASH_FILE: crash }),
    isolated: true,
    maxRestarts: 1,
    restartBackoffMs: 10,
    http: { listen: "127.0.0.1:0", auth: "none" },
  });
  const url = t.httpUrl as string;
  expect((await call(url, 1, "echo"))[0]).toHaveProperty("error");
  await waitFor(() => t.stderr().includes("restart limit reached"), 10_000, "the child to fail for good");
  rmSync(crash);
  expect((await call(url, 2, "echo", { ok: true }))[0]).toMatchObject({ id: 2, result: { resultType: "complete" } });
});

function isolated(d: string): Promise<Target> {
  return scope.target({
    socket: join(d, "i.sock"),
    ...fakeServer(d),
    isolated: true,
    maxIsolatedChildren: 1,
    http: { listen: "127.0.0.1:0", auth: "none" },
  });
}

function serve2(d: string): Promise<Target> {
  return scope.target({ socket: join(d, "s.sock"), ...fakeServer(d), http: { listen: "127.0.0.1:0", auth: "none" } });
}
