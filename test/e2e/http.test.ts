/**
 * The Streamable HTTP front (issue: hosts connect by URL), through the compiled daemon: the
 * official conformance suite (every server scenario, with a second session busy on the same
 * child; progress 20 times out of 20), the header and session rules, secure defaults, shared
 * state with socket clients, resumption, stuck clients, and 10,000 session cycles.
 */

import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { MuxOptions } from "../../src/index.ts";
import {
  BUN,
  fakeServer,
  type Json,
  MUX_BIN,
  ROOT,
  recorded,
  type Target,
  testScope,
  textOf,
  waitFor,
} from "../helpers.ts";

const scope = testScope("bin");
const CONFORMANCE = join(ROOT, "node_modules/@modelcontextprotocol/conformance/dist/index.js");
const FIXTURE = join(ROOT, "test/fixtures/conformance-server.ts");

const serve = (extra: Partial<MuxOptions> = {}): Promise<Target> => {
  const d = scope.dir();
  return scope.target({
    socket: join(d, "h.sock"),
    ...fakeServer(d),
    http: { listen: "127.0.0.1:0", auth: "none" },
    ...extra,
  });
};

async function httpClient(url: string, capabilities: Json = {}, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: "http-test", version: "1" }, { capabilities });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  scope.defer(() => client.close());
  return client;
}

async function conformance(url: string, args: string[]): Promise<{ code: number; out: string }> {
  const p = Bun.spawn({ cmd: [BUN, CONFORMANCE, "server", "--url", url, ...args], stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out: out + err };
}

const init = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "curl", version: "1" } },
};
const JSON_AND_SSE = { "content-type": "application/json", accept: "application/json, text/event-stream" };

/** Read SSE events from a response until `until` says stop (or the stream ends). */
/** The events of an SSE answer; a plain JSON answer counts as one event without an id. */
async function events(res: Response, until: (e: { id?: string; data: string }[]) => boolean = () => false) {
  if (res.headers.get("content-type")?.startsWith("application/json")) return [{ data: await res.text() }];
  const out: { id?: string; data: string }[] = [];
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    for (let sep = buf.indexOf("\n\n"); sep >= 0; sep = buf.indexOf("\n\n")) {
      const block = buf.slice(0, sep);
      buf = buf.slice(sep + 2);
      const id = /^id: (.*)$/m.exec(block)?.[1];
      const data = /^data: ?(.*)$/m.exec(block)?.[1] ?? "";
      out.push({ id, data });
    }
    if (until(out)) {
      await reader.cancel();
      break;
    }
  }
  return out;
}

async function openSession(url: string): Promise<string> {
  const res = await fetch(url, { method: "POST", headers: JSON_AND_SSE, body: JSON.stringify(init) });
  expect(res.status).toBe(200);
  const id = res.headers.get("mcp-session-id") as string;
  expect(id).toMatch(/^[0-9a-f]{32}$/);
  await events(res);
  await fetch(url, {
    method: "POST",
    headers: { ...JSON_AND_SSE, "mcp-session-id": id },
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  return id;
}

describe("the official conformance suite", () => {
  test("every server scenario passes against the HTTP front, with a second session busy on the same child", async () => {
    const d = scope.dir();
    const t = await scope.target({
      socket: join(d, "c.sock"),
      cmd: BUN,
      args: [FIXTURE],
      http: { listen: "127.0.0.1:0", auth: "none" },
      maxActiveClients: 20,
    });
    const url = t.httpUrl as string;
    // A neighbour that stays connected the whole run and keeps the shared child busy.
    const neighbour = await httpClient(url, { sampling: {}, elicitation: {} });
    let busy = true;
    let calls = 0;
    const loop = (async () => {
      while (busy) {
        await neighbour.listTools();
        await neighbour.ping();
        calls++;
      }
    })();
    const r = await conformance(url, ["--suite", "all", "-o", join(d, "out")]);
    busy = false;
    await loop;
    const summary = /Total: (\d+) passed, (\d+) failed/.exec(r.out);
    expect({ code: r.code, failed: summary?.[2], tail: r.out.slice(-1500) }).toMatchObject({ code: 0, failed: "0" });
    console.log(`conformance: ${summary?.[0]}`);
    expect(r.out).toContain("dns-rebinding-protection: 2 passed, 0 failed");
    expect(r.out).toContain("tools-call-sampling: 1 passed, 0 failed");
    expect(r.out).toContain("tools-call-elicitation: 1 passed, 0 failed");
    expect(calls).toBeGreaterThan(5);
  }, 180_000);

  test("the progress scenario passes 20 times out of 20", async () => {
    const d = scope.dir();
    const t = await scope.target({
      socket: join(d, "p.sock"),
      cmd: BUN,
      args: [FIXTURE],
      http: { listen: "127.0.0.1:0", auth: "none" },
    });
    let passed = 0;
    for (let i = 0; i < 20; i++) {
      const r = await conformance(t.httpUrl as string, ["--scenario", "tools-call-with-progress"]);
      if (r.code === 0 && r.out.includes("Passed: 1/1")) passed++;
    }
    expect(passed).toBe(20);
  }, 120_000);
});

describe("HTTP rules", () => {
  test("Accept 406, Content-Type 415, protocol version 400, missing session 400, unknown and ended sessions 404, body limit 413", async () => {
    const t = await serve({ maxRequestBytes: 4096 });
    const url = t.httpUrl as string;
    const post = (headers: Record<string, string>, body: unknown = init) =>
      fetch(url, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
    expect((await post({ "content-type": "application/json", accept: "application/json" })).status).toBe(406);
    expect((await post({ "content-type": "text/plain", accept: JSON_AND_SSE.accept })).status).toBe(415);
    expect((await post({ ...JSON_AND_SSE, "mcp-protocol-version": "1999-01-01" })).status).toBe(400);
    const ping = { jsonrpc: "2.0", id: 2, method: "ping" };
    expect((await post(JSON_AND_SSE, ping)).status).toBe(400);
    expect((await post({ ...JSON_AND_SSE, "mcp-session-id": "0".repeat(32) }, ping)).status).toBe(404);
    expect((await post(JSON_AND_SSE, "{nope")).status).toBe(400);
    expect((await post(JSON_AND_SSE, { ...init, pad: "x".repeat(5000) })).status).toBe(413);
    const id = await openSession(url);
    // Any supported version is accepted inside a session, not only the negotiated one.
    const ok = await post({ ...JSON_AND_SSE, "mcp-session-id": id, "mcp-protocol-version": "2025-03-26" }, ping);
    expect(ok.status).toBe(200);
    // A lone request answered before anything else for it comes back as plain JSON, no stream.
    expect(ok.headers.get("content-type")).toBe("application/json");
    expect(JSON.parse((await events(ok)).find((e) => e.data)?.data ?? "{}")).toEqual({
      jsonrpc: "2.0",
      id: 2,
      result: {},
    });
    const notification = await post(
      { ...JSON_AND_SSE, "mcp-session-id": id },
      { jsonrpc: "2.0", method: "notifications/roots/list_changed" },
    );
    expect(notification.status).toBe(202);
    expect((await fetch(url, { method: "DELETE", headers: { "mcp-session-id": id } })).status).toBe(200);
    expect((await post({ ...JSON_AND_SSE, "mcp-session-id": id }, ping)).status).toBe(404);
    expect(
      (await fetch(url, { method: "GET", headers: { accept: "text/event-stream", "mcp-session-id": id } })).status,
    ).toBe(404);
    expect((await fetch(url, { method: "DELETE", headers: { "mcp-session-id": id } })).status).toBe(404);
    expect((await fetch(url, { method: "PUT" })).status).toBe(405);
  });

  test("DNS rebinding: a foreign Host or Origin gets 403; localhost, 127.0.0.1 and configured names pass", async () => {
    const t = await serve({ http: { listen: "127.0.0.1:0", auth: "none", allowedHosts: ["mux.internal"] } });
    const url = new URL(t.httpUrl as string);
    const raw = async (host: string, origin?: string): Promise<number> => {
      const lines = [
        `POST ${url.pathname} HTTP/1.1`,
        `Host: ${host}`,
        ...(origin ? [`Origin: ${origin}`] : []),
        "Content-Type: application/json",
        "Accept: application/json, text/event-stream",
        `Content-Length: ${JSON.stringify(init).length}`,
        "Connection: close",
        "",
        JSON.stringify(init),
      ];
      const p = Bun.spawn({
        cmd: [
          "sh",
          "-c",
          `printf '%s' "$REQ" | timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/${url.port}; cat >&3; head -c 12 <&3'`,
        ],
        env: { ...process.env, REQ: lines.join("\r\n") },
        stdout: "pipe",
      });
      const out = await new Response(p.stdout).text();
      return Number(/HTTP\/1\.1 (\d+)/.exec(out)?.[1] ?? 0);
    };
    expect(await raw("evil.example.com")).toBe(403);
    expect(await raw(`127.0.0.1:${url.port}`, "http://evil.example.com")).toBe(403);
    expect(await raw(`evil.example.com:${url.port}`, `http://127.0.0.1:${url.port}`)).toBe(403);
    expect(await raw(`127.0.0.1:${url.port}`, `http://127.0.0.1:${url.port}`)).toBe(200);
    expect(await raw(`localhost:${url.port}`)).toBe(200);
    expect(await raw(`[::1]:${url.port}`)).toBe(200);
    expect(await raw(`mux.internal:${url.port}`)).toBe(200);
  });

  test("a bearer token file: created 0600, required on every request; a non-loopback bind without one is refused", async () => {
    const d = scope.dir();
    const tokenFile = join(d, "token");
    const proc = Bun.spawn({
      cmd: [
        MUX_BIN,
        "serve",
        "--socket",
        join(d, "t.sock"),
        "--http",
        "127.0.0.1:0",
        "--http-token-file",
        tokenFile,
        "--cmd",
        BUN,
        "--",
        join(ROOT, "test/fixtures/fake-server.ts"),
      ],
      stderr: "pipe",
    });
    scope.defer(async () => {
      proc.kill();
      await proc.exited;
    });
    let err = "";
    void (async () => {
      for await (const c of proc.stderr) err += new TextDecoder().decode(c);
    })();
    await waitFor(() => /Streamable HTTP: (\S+)/.test(err), 10_000, "the HTTP front");
    const url = /Streamable HTTP: (\S+)/.exec(err)?.[1] as string;
    expect(existsSync(tokenFile)).toBe(true);
    expect(Bun.spawnSync(["stat", "-c", "%a", tokenFile]).stdout.toString().trim()).toBe("600");
    const token = readFileSync(tokenFile, "utf8").trim();
    const post = (auth?: string) =>
      fetch(url, {
        method: "POST",
        headers: { ...JSON_AND_SSE, ...(auth ? { authorization: auth } : {}) },
        body: JSON.stringify(init),
      });
    expect((await post()).status).toBe(401);
    expect((await post("Bearer wrong")).status).toBe(401);
    const ok = await post(`Bearer ${token}`);
    expect(ok.status).toBe(200);
    await events(ok);
    const c = await httpClient(url, {}, { authorization: `Bearer ${token}` });
    expect((await c.listTools()).tools.length).toBeGreaterThan(0);

    const open = Bun.spawnSync(
      [
        MUX_BIN,
        "serve",
        "--socket",
        join(d, "o.sock"),
        "--http",
        "0.0.0.0:0",
        "--cmd",
        BUN,
        "--",
        join(ROOT, "test/fixtures/fake-server.ts"),
      ],
      { stderr: "pipe" },
    );
    expect(open.exitCode).not.toBe(0);
    expect(open.stderr.toString()).toContain("needs a bearer token");
  });
});

describe("one client model for every transport", () => {
  test("HTTP sessions and socket clients share the child, its subscriptions and log levels", async () => {
    const d = scope.dir();
    const t = await serve({ ...fakeServer(d) });
    const http = await httpClient(t.httpUrl as string);
    const sock = await scope.raw(t.socket);
    await sock.handshake();
    const who = JSON.parse(textOf(await http.callTool({ name: "whoami", arguments: {} }))) as Json;
    sock.request("w", "tools/call", { name: "whoami", arguments: {} });
    expect(JSON.parse(textOf((await sock.response("w")).result)).pid).toBe(who.pid);
    // Same ids on both transports do not collide.
    sock.request(1, "tools/call", { name: "slow", arguments: { ms: 200, who: "socket" } });
    const fromHttp = await http.callTool({ name: "echo", arguments: { who: "http" } });
    expect(JSON.parse(textOf(fromHttp))).toEqual({ who: "http" });
    expect(JSON.parse(textOf((await sock.response(1)).result))).toEqual({ ms: 200, who: "socket" });
    // One subscribe at the child for both; the child's most verbose level wins.
    await http.subscribeResource({ uri: "demo://x" });
    sock.request("s", "resources/subscribe", { uri: "demo://x" });
    await sock.response("s");
    expect(recorded(d).filter((m) => m.method === "resources/subscribe")).toHaveLength(1);
    sock.request("lv", "logging/setLevel", { level: "warning" });
    await sock.response("lv");
    await http.setLoggingLevel("debug");
    await waitFor(
      () => recorded(d).some((m) => m.method === "logging/setLevel" && (m.params as Json).level === "debug"),
      5000,
      "the child's level to follow the most verbose client",
    );
  });

  test("a config daemon serves each service at /mcp/<service>, reloads add and remove routes", async () => {
    const d = scope.dir();
    const config = join(d, "mux.json");
    const svc = (name: string) => ({ socket: join(d, `${name}.sock`), ...fakeServer(d) });
    writeFileSync(
      config,
      JSON.stringify({ servers: { a: svc("a"), b: svc("b") }, http: { listen: "127.0.0.1:0", auth: "none" } }),
    );
    const proc = Bun.spawn({ cmd: [MUX_BIN, "serve", "--config", config], stderr: "pipe" });
    scope.defer(async () => {
      proc.kill();
      await proc.exited;
    });
    let err = "";
    void (async () => {
      for await (const c of proc.stderr) err += new TextDecoder().decode(c);
    })();
    await waitFor(() => /and (http:\S+)\/a/.test(err), 10_000, "the HTTP front");
    const base = /and (http:\S+)\/a/.exec(err)?.[1] as string;
    const a = await httpClient(`${base}/a`);
    const b = await httpClient(`${base}/b`);
    expect((await a.listTools()).tools.length).toBeGreaterThan(0);
    expect((await b.listTools()).tools.length).toBeGreaterThan(0);
    expect(
      (await fetch(`${base}/c`, { method: "POST", headers: JSON_AND_SSE, body: JSON.stringify(init) })).status,
    ).toBe(404);
    writeFileSync(
      config,
      JSON.stringify({ servers: { a: svc("a"), c: svc("c") }, http: { listen: "127.0.0.1:0", auth: "none" } }),
    );
    proc.kill("SIGHUP");
    await waitFor(
      async () =>
        (await fetch(`${base}/c`, { method: "POST", headers: JSON_AND_SSE, body: JSON.stringify(init) })).status ===
        200,
      10_000,
      "route c",
    );
    expect(
      (await fetch(`${base}/b`, { method: "POST", headers: JSON_AND_SSE, body: JSON.stringify(init) })).status,
    ).toBe(404);
  });
});

describe("bad clients", () => {
  test("DELETE releases what the session held: in-flight requests are cancelled at the child, subscriptions dropped; logs name the session by a short form only", async () => {
    const d = scope.dir();
    const t = await serve({ ...fakeServer(d) });
    const url = t.httpUrl as string;
    const id = await openSession(url);
    const h = { ...JSON_AND_SSE, "mcp-session-id": id };
    await events(
      await fetch(url, {
        method: "POST",
        headers: h,
        body: JSON.stringify({ jsonrpc: "2.0", id: 5, method: "resources/subscribe", params: { uri: "demo://y" } }),
      }),
    );
    const slow = await fetch(url, {
      method: "POST",
      headers: h,
      body: JSON.stringify({ jsonrpc: "2.0", id: 6, method: "tools/call", params: { name: "hang" } }),
    });
    expect(slow.status).toBe(200);
    await Bun.sleep(100);
    expect((await fetch(url, { method: "DELETE", headers: { "mcp-session-id": id } })).status).toBe(200);
    await waitFor(() => recorded(d).some((m) => m.method === "notifications/cancelled"), 5000, "the cancel");
    await waitFor(() => recorded(d).some((m) => m.method === "resources/unsubscribe"), 5000, "the unsubscribe");
    // The daemon (at debug level) logged the session opening and ending by a short form only.
    await waitFor(() => t.stderr().includes(`http session ${id.slice(0, 8)}… ended`), 5000, "the end in the log");
    expect(t.stderr()).toContain(`http session ${id.slice(0, 8)}… opened`);
    expect(t.stderr()).not.toContain(id.slice(0, 12));
  });

  test("an idle session expires after --http-session-idle-ms and releases what it held; one with an open stream lives on", async () => {
    const d = scope.dir();
    const t = await serve({ ...fakeServer(d), http: { listen: "127.0.0.1:0", auth: "none", sessionIdleMs: 1000 } });
    const url = t.httpUrl as string;
    const post = (id: string, body: Json) =>
      fetch(url, { method: "POST", headers: { ...JSON_AND_SSE, "mcp-session-id": id }, body: JSON.stringify(body) });
    const idle = await openSession(url);
    await events(
      await post(idle, { jsonrpc: "2.0", id: 1, method: "resources/subscribe", params: { uri: "demo://idle" } }),
    );
    const kept = await openSession(url);
    const stream = await fetch(url, { headers: { accept: "text/event-stream", "mcp-session-id": kept } });
    expect(stream.status).toBe(200);
    await waitFor(
      () => recorded(d).some((m) => m.method === "resources/unsubscribe"),
      5000,
      "the idle session's subscription to be released",
    );
    expect(t.stderr()).toContain(`http session ${idle.slice(0, 8)}… ended: idle session expired`);
    expect((await post(idle, { jsonrpc: "2.0", id: 2, method: "ping" })).status).toBe(404);
    await Bun.sleep(1000); // past the idle time again: the session with an open stream is not idle
    const ping = await post(kept, { jsonrpc: "2.0", id: 3, method: "ping" });
    expect(ping.status).toBe(200);
    expect(await events(ping)).toHaveLength(1);
    await stream.body?.cancel();
  });

  test("a bad --http-session-idle-ms is refused before anything listens", async () => {
    const d = scope.dir();
    for (const value of ["abc", "-5", "999", "1.5", ""]) {
      const socket = join(d, "bad.sock");
      const p = Bun.spawn({
        cmd: [
          MUX_BIN,
          "serve",
          "--socket",
          socket,
          "--cmd",
          "cat",
          "--http",
          "127.0.0.1:0",
          "--http-no-auth",
          `--http-session-idle-ms=${value}`,
        ],
        stdout: "pipe",
        stderr: "pipe",
      });
      const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
      expect({ value, code }).toEqual({ value, code: 1 });
      expect(err).toContain(`--http-session-idle-ms must be an integer ≥ 1000, got ${value}`);
      expect(existsSync(socket)).toBe(false);
    }
  });

  test("a client that drops its stream mid-call resumes it with Last-Event-ID and gets the answer", async () => {
    const t = await serve();
    const url = t.httpUrl as string;
    const id = await openSession(url);
    const h = { ...JSON_AND_SSE, "mcp-session-id": id };
    const res = await fetch(url, {
      method: "POST",
      headers: h,
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 7,
        method: "tools/call",
        params: { name: "progress", arguments: { steps: 3, delayMs: 100 }, _meta: { progressToken: "tok" } },
      }),
    });
    // Progress comes before the answer: a stream, primed. Read the priming event and the first
    // progress, then hang up.
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const first = await events(res, (e) => e.filter((x) => x.data).length >= 1);
    expect(first[0]).toMatchObject({ data: "" });
    const last = first[first.length - 1]?.id as string;
    await Bun.sleep(500);
    const resumed = await fetch(url, {
      method: "GET",
      headers: { accept: "text/event-stream", "mcp-session-id": id, "last-event-id": last },
    });
    expect(resumed.status).toBe(200);
    const rest = (await events(resumed)).filter((e) => e.data).map((e) => JSON.parse(e.data) as Json);
    expect(rest.filter((m) => m.method === "notifications/progress").length).toBeGreaterThanOrEqual(1);
    expect(rest[rest.length - 1]).toMatchObject({ id: 7, result: { content: [{ text: '{"steps":3}' }] } });
  });

  test("a client that never reads its stream is cut off; the daemon and other sessions go on", async () => {
    // The sweep runs every quarter of the session idle time: 2 s makes it run every 500 ms.
    const t = await serve({
      clientStallTimeoutMs: 500,
      http: { listen: "127.0.0.1:0", auth: "none", sessionIdleMs: 2000 },
    });
    const url = t.httpUrl as string;
    const id = await openSession(url);
    // 16 MiB of log lines for a call that stays unanswered: far more than the socket buffers take.
    const res = await fetch(url, {
      method: "POST",
      headers: { ...JSON_AND_SSE, "mcp-session-id": id },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 8,
        method: "tools/call",
        params: { name: "flood", arguments: { count: 16, bytes: 1_048_576, hang: true } },
      }),
    });
    expect(res.status).toBe(200); // and not read until the daemon gave up on it
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const other = await httpClient(url);
    for (let i = 0; i < 5; i++) expect((await other.listTools()).tools.length).toBeGreaterThan(0);
    await waitFor(() => t.stderr().includes(": a stream cut off (its client took nothing)"), 20_000, "the cut-off");
    // Read now: what was queued, then the end of the stream, without the (still pending) answer.
    const got = (await events(res)).filter((e) => e.data).map((e) => JSON.parse(e.data) as Json);
    expect(got.length).toBeLessThan(16);
    expect(got.some((m) => m.id === 8)).toBe(false);
    expect(t.stderr().match(/a stream cut off/g)).toHaveLength(1);
    expect(t.proc?.exitCode).toBeNull();
    expect((await other.listTools()).tools.length).toBeGreaterThan(0);
  }, 60_000);

  test("10,000 session open/close cycles leak nothing", async () => {
    const t = await serve();
    const url = t.httpUrl as string;
    const pid = t.proc?.pid as number;
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
    const cycle = async (): Promise<void> => {
      const res = await fetch(url, { method: "POST", headers: JSON_AND_SSE, body: JSON.stringify(init) });
      const id = res.headers.get("mcp-session-id") as string;
      await res.arrayBuffer();
      await fetch(url, { method: "DELETE", headers: { "mcp-session-id": id } });
    };
    for (let i = 0; i < 500; i++) await cycle();
    const before = rss();
    const workers = Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 10_000 / 8; i++) await cycle();
    });
    await Promise.all(workers);
    Bun.gc(true);
    await Bun.sleep(300);
    const after = rss();
    const c = await scope.raw(t.socket);
    c.request("st", "mcp-mux/status");
    const status = (await c.response("st")).result as Json;
    expect(status.connectedClients).toBe(0); // this raw client is a probe, not a session
    expect(status.pendingRequests).toBe(0);
    console.log(`10,000 HTTP sessions: daemon RSS ${before.toFixed(1)} → ${after.toFixed(1)} MiB`);
    expect(after - before).toBeLessThan(24);
  }, 120_000);
});
