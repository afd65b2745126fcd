/** Resilience: child failure and restart, timeouts, slots, lazy start, shutdown, socket ownership, status. */

import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MuxOptions } from "../../src/index.ts";
import { startMux } from "../../src/index.ts";
import {
  BUN,
  fakeServer,
  type Json,
  MEMORY_BIN,
  type Mode,
  MUX_BIN,
  type RawClient,
  recorded,
  sdkClient,
  silentLogger,
  startTarget,
  type Target,
  testScope,
  textOf,
  waitFor,
} from "../helpers.ts";

const scope = testScope();
const { dir } = scope;
const use = (mode: Mode, options: MuxOptions): Promise<Target> => scope.target(options, mode);
const raw = (socket: string, proxy = false): Promise<RawClient> => scope.raw(socket, proxy ? "proxy" : "socket");
let statusSeq = 0;
async function status(c: RawClient): Promise<Json> {
  const id = `status-${statusSeq++}`;
  c.request(id, "mcp-mux/status");
  return (await c.response(id)).result as Json;
}
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("child failure and restart", () => {
  test("SIGKILL under 20 clients: each request answered exactly once, sessions continue without reconnecting", async () => {
    const d = dir();
    const t = await use("bin", {
      socket: join(d, "k.sock"),
      ...fakeServer(d),
      maxActiveClients: 20,
      restartBackoffMs: 50,
    });
    const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => raw(t.socket, i < 2)));
    await Promise.all(clients.map((c) => c.handshake()));
    const before = await status(clients[0] as RawClient);
    for (const c of clients)
      for (let n = 0; n < 10; n++) c.request(n, "tools/call", { name: "slow", arguments: { ms: 400, n } });
    await Bun.sleep(150);
    process.kill(before.childPid as number, "SIGKILL");
    await Promise.all(
      clients.map(async (c) => {
        for (let n = 0; n < 10; n++) {
          const r = await c.response(n, 10_000);
          if (r.error) expect((r.error as Json).code).toBe(-32030);
        }
        await waitFor(
          () => c.received.some((m) => m.method === "notifications/tools/list_changed"),
          10_000,
          "list_changed",
        );
        c.request("after", "tools/call", { name: "echo", arguments: { ok: 1 } });
        expect(JSON.parse(textOf((await c.response("after", 10_000)).result))).toEqual({ ok: 1 });
        const answers = c.received.filter(
          (m) =>
            "id" in m &&
            ("result" in m || "error" in m) &&
            !String(m.id).startsWith("init-") &&
            !String(m.id).startsWith("status"),
        );
        expect(answers.length).toBe(11);
      }),
    );
    const after = await status(clients[0] as RawClient);
    expect(after.restarts).toBe(1);
    expect(after.childPid).not.toBe(before.childPid);
    expect(String(after.lastRestartReason)).toContain("SIGKILL");
    expect(recorded(d).filter((m) => m.method === "initialize").length).toBe(2);
    expect(recorded(d).filter((m) => m.method === "notifications/initialized").length).toBe(2);
  });

  test("re-initialize re-applies the log level and subscriptions", async () => {
    const d = dir();
    const t = await use("lib", { socket: join(d, "r.sock"), ...fakeServer(d), restartBackoffMs: 20 });
    const c = await raw(t.socket);
    await c.handshake();
    c.request(1, "logging/setLevel", { level: "warning" });
    c.request(2, "resources/subscribe", { uri: "file:///a" });
    await c.response(2);
    const { childPid } = await status(c);
    process.kill(childPid as number, "SIGKILL");
    await waitFor(
      async () => (await status(c)).state === "ready" && (await status(c)).childPid !== childPid,
      10_000,
      "restart",
    );
    c.request(3, "tools/call", { name: "whoami" });
    const who = JSON.parse(textOf((await c.response(3)).result)) as Json;
    expect(who.logLevel).toBe("warning");
    expect(who.subscriptions).toEqual(["file:///a"]);
  });

  test("a restarted child with another protocol version closes clients so they reconnect", async () => {
    const d = dir();
    const versionFile = join(d, "version");
    writeFileSync(versionFile, "2025-11-25");
    const t = await use("lib", {
      socket: join(d, "v.sock"),
      ...fakeServer(d, { FAKE_PROTOCOL_FILE: versionFile }),
      restartBackoffMs: 20,
    });
    const c = await raw(t.socket);
    await c.handshake();
    const { childPid } = await status(c);
    writeFileSync(versionFile, "2025-06-18");
    process.kill(childPid as number, "SIGKILL");
    await waitFor(() => c.closed, 10_000, "client closed");
    // Closed for that reason (not a crash, not a stall), and the daemon takes the reconnect.
    expect(t.stderr()).toMatch(/client \d+ disconnected: server restarted with a different protocol version/);
    const again = await raw(t.socket);
    const init = await again.handshake({}, "2025-06-18");
    expect((init.result as Json).protocolVersion).toBe("2025-06-18");
    again.request(1, "tools/call", { name: "whoami" });
    const who = JSON.parse(textOf((await again.response(1)).result)) as Json;
    expect(who.pid).not.toBe(childPid);
    expect(who.initializeCount).toBe(1);
  });

  test("restart exhaustion: the service turns failed, requests fail at once, health says so", async () => {
    const d = dir();
    const t = await use("lib", {
      socket: join(d, "x.sock"),
      cmd: BUN,
      args: ["-e", "process.exit(3)"],
      maxRestarts: 2,
      restartBackoffMs: 10,
    });
    const c = await raw(t.socket);
    await waitFor(async () => (await status(c)).state === "failed", 10_000, "failed");
    const s = await status(c);
    expect(s.restarts).toBe(2);
    expect(String(s.failReason)).toContain("restart limit reached (2)");
    const started = Date.now();
    c.request(1, "initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "x", version: "1" },
    });
    expect(((await c.response(1)).error as Json).code).toBe(-32031);
    c.request(2, "tools/list");
    expect(((await c.response(2)).error as Json).code).toBe(-32031);
    expect(Date.now() - started).toBeLessThan(1000);
    const health = Bun.spawn({ cmd: [MUX_BIN, "health", "--socket", t.socket], stdout: "ignore" });
    expect(await health.exited).toBe(1);
  });

  test("a child that crashes during initialize: the waiting client is told at once (-32040), retries go on, and once it gives up initialize gets -32031", async () => {
    const d = dir();
    const t = await use("lib", {
      socket: join(d, "ci.sock"),
      ...fakeServer(d, { FAKE_CRASH_ON_INIT: "1" }),
      maxRestarts: 2,
      restartBackoffMs: 10,
    });
    const c = await raw(t.socket);
    c.request(1, "initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "x", version: "1" },
    });
    const first = (await c.response(1, 10_000)).error as Json;
    expect(first.code).toBe(-32040);
    expect(String(first.message)).toContain("MCP server could not start: server exited with code 4");
    await waitFor(async () => (await status(c)).state === "failed", 10_000, "the restart limit");
    expect(recorded(d).filter((m) => m.method === "initialize").length).toBe(3);
    c.request(2, "initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "x", version: "1" },
    });
    expect(((await c.response(2, 10_000)).error as Json).code).toBe(-32031);
  });

  test("a command that cannot be started is reported clearly", async () => {
    const d = dir();
    const error = await startMux({
      socket: join(d, "n.sock"),
      cmd: "definitely-not-a-command-xyz",
      logger: silentLogger,
    }).catch((e: unknown) => e);
    expect(String(error)).toContain('"definitely-not-a-command-xyz": command not found');
    const cli = Bun.spawnSync({
      cmd: [MUX_BIN, "serve", "--socket", join(d, "n.sock"), "--cmd", "/nonexistent/server"],
    });
    expect(cli.exitCode).not.toBe(0);
    expect(cli.stderr.toString()).toContain("command not found");
    expect(existsSync(join(d, "n.sock"))).toBe(false);
  });
});

describe("backoff and noisy servers", () => {
  test("restart delays grow exponentially up to the maximum", async () => {
    const d = dir();
    const started = Date.now();
    const t = await use("lib", {
      socket: join(d, "bo.sock"),
      cmd: BUN,
      args: ["-e", "process.exit(1)"],
      maxRestarts: 4,
      restartBackoffMs: 50,
      restartBackoffMaxMs: 200,
    });
    const c = await raw(t.socket);
    await waitFor(async () => (await status(c)).state === "failed", 10_000, "failed");
    // delays 50 + 100 + 200 + 200 (capped) before the fifth failure
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    expect((await status(c)).restarts).toBe(4);
  });

  test("a child that stays up long enough resets the failure count", async () => {
    const d = dir();
    const t = await use("lib", {
      socket: join(d, "hr.sock"),
      ...fakeServer(d),
      maxRestarts: 1,
      restartBackoffMs: 10,
      healthyAfterMs: 150,
    });
    const c = await raw(t.socket);
    await c.handshake();
    for (let i = 0; i < 3; i++) {
      await Bun.sleep(200);
      const { childPid } = await status(c);
      process.kill(childPid as number, "SIGKILL");
      await waitFor(
        async () => {
          const s = await status(c);
          return s.state === "ready" && s.childPid !== childPid;
        },
        5000,
        "restart",
      );
    }
    const s = await status(c);
    expect(s.state).toBe("ready");
    expect(s.restarts).toBe(3);
  });

  test("stderr floods, stdout banners and notification floods do not break routing", async () => {
    const d = dir();
    const t = await use("bin", {
      socket: join(d, "fl.sock"),
      ...fakeServer(d, { FAKE_STDERR_LINES: "20000", FAKE_BANNER: "1" }),
    });
    const c = await raw(t.socket, true);
    await c.handshake();
    c.request(1, "tools/call", { name: "flood", arguments: { count: 5000 } });
    await c.response(1, 20_000);
    expect(c.received.filter((m) => m.method === "notifications/message").length).toBe(5000);
  });

  test("a restart kills the crashed child's whole process group", async () => {
    const d = dir();
    const grandchildFile = join(d, "gc.pid");
    const t = await use("lib", {
      socket: join(d, "pg.sock"),
      ...fakeServer(d, { FAKE_GRANDCHILD_PID_FILE: grandchildFile }),
      restartBackoffMs: 10,
    });
    const c = await raw(t.socket);
    await c.handshake();
    const grandchild = Number(readFileSync(grandchildFile, "utf8"));
    c.request(1, "tools/call", { name: "crash" });
    expect(((await c.response(1)).error as Json).code).toBe(-32030);
    await waitFor(() => !alive(grandchild), 5000, "grandchild gone");
  });
});

describe("timeouts, slots, lazy start", () => {
  test("a request timeout answers -32001, cancels at the child and frees the entry", async () => {
    const d = dir();
    const t = await use("lib", { socket: join(d, "t.sock"), ...fakeServer(d), requestTimeoutMs: 300 });
    const c = await raw(t.socket);
    await c.handshake();
    c.request(1, "tools/call", { name: "hang" });
    const r = await c.response(1);
    expect((r.error as Json).code).toBe(-32001);
    const seen = recorded(d);
    const hang = seen.find((m) => m.method === "tools/call") as Json;
    await waitFor(() => recorded(d).some((m) => m.method === "notifications/cancelled"), 2000, "cancel");
    const cancel = recorded(d).find((m) => m.method === "notifications/cancelled") as Json;
    expect((cancel.params as Json).requestId).toBe(hang.id as number);
    expect((await status(c)).pendingRequests).toBe(0);
  });

  test("active-client slots: other clients queue FIFO, visibly, bounded by the timeout", async () => {
    const d = dir();
    const t = await use("bin", {
      socket: join(d, "q.sock"),
      ...fakeServer(d),
      maxActiveClients: 1,
      requestTimeoutMs: 2000,
    });
    const a = await raw(t.socket, true);
    const b = await raw(t.socket);
    const observer = await raw(t.socket);
    await a.handshake();
    await b.handshake();
    a.request(1, "tools/call", { name: "slow", arguments: { ms: 600 } });
    await Bun.sleep(100);
    b.request(1, "tools/call", { name: "echo", arguments: { b: 1 } });
    await waitFor(async () => (await status(observer)).queuedRequests === 1, 2000, "queued");
    const s = await status(observer);
    expect(s.activeClients).toBe(1);
    expect(JSON.parse(textOf((await b.response(1)).result))).toEqual({ b: 1 });
    expect((await a.response(1)).result).toBeDefined();
    // a queued request still times out (a keeps its slot with overlapping hung calls)
    a.request(2, "tools/call", { name: "hang" });
    await Bun.sleep(50);
    b.request(2, "tools/call", { name: "echo" });
    await Bun.sleep(500);
    a.request(3, "tools/call", { name: "hang" });
    const late = await b.response(2, 5000);
    expect((late.error as Json).code).toBe(-32001);
    expect(String((late.error as Json).message)).toContain("waiting");
  });

  test("max_concurrent_requests: the server works on at most N calls; others wait in order; ping, cancel and timeouts never wait", async () => {
    const d = dir();
    const t = await use("bin", {
      socket: join(d, "c.sock"),
      ...fakeServer(d),
      maxConcurrentRequests: 1,
      requestTimeoutMs: 1500,
    });
    const clients = [await raw(t.socket, true), await raw(t.socket), await raw(t.socket)];
    for (const c of clients) await c.handshake();
    const [a, b, observer] = clients as [RawClient, RawClient, RawClient];
    // 15 overlapping calls from three clients: the server sees them one at a time.
    for (const [i, c] of clients.entries())
      for (let n = 1; n <= 5; n++) c.request(n, "tools/call", { name: "slow", arguments: { ms: 20, who: i, n } });
    for (const [i, c] of clients.entries())
      for (let n = 1; n <= 5; n++)
        expect(JSON.parse(textOf((await c.response(n)).result))).toEqual({ ms: 20, who: i, n });
    a.request(6, "tools/call", { name: "peak" });
    expect(JSON.parse(textOf((await a.response(6)).result))).toEqual({ peak: 1 });
    // A hung call holds the one place: the next waits (visible in status), a ping does not.
    a.request(7, "tools/call", { name: "hang" });
    await Bun.sleep(100);
    b.request(7, "tools/call", { name: "echo", arguments: { after: "cancel" } });
    await waitFor(async () => (await status(observer)).queuedRequests === 1, 2000, "the echo to wait");
    expect(((await status(observer)).settings as Json).maxConcurrentRequests).toBe(1);
    b.request(8, "ping");
    expect((await b.response(8)).result).toEqual({});
    // Cancelling the hung call frees the place at once.
    a.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 7, reason: "user" } });
    expect(JSON.parse(textOf((await b.response(7)).result))).toEqual({ after: "cancel" });
    // A call that waits too long gets the timeout error; first come, first served: the second
    // hung call, queued before the echo, takes the place when the first one times out.
    a.request(9, "tools/call", { name: "hang" });
    await Bun.sleep(50);
    a.request(10, "tools/call", { name: "hang" });
    await Bun.sleep(50);
    b.request(9, "tools/call", { name: "echo" });
    const late = await b.response(9, 8000);
    expect((late.error as Json).code).toBe(-32001);
    expect(String((late.error as Json).message)).toContain("waiting");
    expect(((await a.response(9, 8000)).error as Json).code).toBe(-32001);
    expect(((await a.response(10, 8000)).error as Json).code).toBe(-32001);
    b.request(10, "tools/call", { name: "echo", arguments: { ok: true } });
    expect(JSON.parse(textOf((await b.response(10)).result))).toEqual({ ok: true });

    // With 2, two at a time and never more.
    const e = dir();
    const two = await use("bin", { socket: join(e, "c2.sock"), ...fakeServer(e), maxConcurrentRequests: 2 });
    const c = await raw(two.socket);
    await c.handshake();
    for (let n = 1; n <= 8; n++) c.request(n, "tools/call", { name: "slow", arguments: { ms: 50 } });
    for (let n = 1; n <= 8; n++) await c.response(n);
    c.request(9, "tools/call", { name: "peak" });
    expect(JSON.parse(textOf((await c.response(9)).result))).toEqual({ peak: 2 });
  });

  test("max_concurrent_requests = 1 keeps every write of two hosts sharing server-memory (and without it, writes are lost)", async () => {
    /** Two SDK hosts write 60 entities each at once through mux-proxy; how many the graph keeps. */
    const kept = async (maxConcurrentRequests?: number): Promise<number> => {
      const d = dir();
      const t = await use("bin", {
        socket: join(d, "m.sock"),
        cmd: MEMORY_BIN,
        env: { MEMORY_FILE_PATH: join(d, "memory.jsonl") },
        maxConcurrentRequests,
      });
      const hosts = [await sdkClient(t.socket, { name: "a" }), await sdkClient(t.socket, { name: "b" })];
      for (const h of hosts) scope.defer(() => h.close());
      const results = await Promise.all(
        hosts.flatMap((h, i) =>
          Array.from({ length: 60 }, (_, n) =>
            h.callTool({
              name: "create_entities",
              arguments: { entities: [{ name: `e-${i}-${n}`, entityType: "test", observations: [] }] },
            }),
          ),
        ),
      );
      expect(results.filter((r) => r.isError)).toEqual([]); // every write was answered as done
      const graph = JSON.parse(textOf(await hosts[0]?.callTool({ name: "read_graph", arguments: {} })));
      return (graph.entities as unknown[]).length;
    };
    // Control: server-memory rewrites its whole file per call, so concurrent calls lose writes.
    expect(await kept()).toBeLessThan(120);
    expect(await kept(1)).toBe(120);
  }, 60_000);

  test("lazy start: no child until the first request, then the normal handshake", async () => {
    const d = dir();
    const t = await use("bin", { socket: join(d, "lz.sock"), ...fakeServer(d), lazyStart: true });
    const c = await raw(t.socket);
    const s = await status(c);
    expect(s.state).toBe("lazy");
    expect(s.childPid).toBeNull();
    // Another round trip through the daemon: still no child, so nothing can have reached one.
    expect((await status(c)).childPid).toBeNull();
    expect(recorded(d).length).toBe(0);
    const init = await c.handshake();
    expect((init.result as Json).serverInfo).toEqual({ name: "fake-server", version: "1.0.0" });
    expect(recorded(d).filter((m) => m.method === "initialize").length).toBe(1);
    expect((await status(c)).state).toBe("ready");
  });
});

describe("shutdown and socket ownership", () => {
  test("SIGTERM answers in-flight requests, kills the whole tree (even a child ignoring SIGTERM), removes the socket, exits 0", async () => {
    const d = dir();
    const grandchildFile = join(d, "grandchild.pid");
    const childFile = join(d, "child.pid");
    const t = await startTarget("bin", {
      socket: join(d, "st.sock"),
      ...fakeServer(d, {
        FAKE_GRANDCHILD_PID_FILE: grandchildFile,
        FAKE_PID_FILE: childFile,
        FAKE_IGNORE_SIGTERM: "1",
      }),
    });
    const c = await raw(t.socket);
    await c.handshake();
    c.request(1, "tools/call", { name: "hang" });
    await Bun.sleep(100);
    const child = Number(readFileSync(childFile, "utf8"));
    const grandchild = Number(readFileSync(grandchildFile, "utf8"));
    expect(alive(child) && alive(grandchild)).toBe(true);
    t.proc?.kill("SIGTERM");
    const code = await t.proc?.exited;
    expect(code).toBe(0);
    expect(((await c.response(1)).error as Json).code).toBe(-32033);
    expect(existsSync(t.socket)).toBe(false);
    await waitFor(() => !alive(child) && !alive(grandchild), 5000, "tree gone");
  });

  test("SIGTERM while the server is still initializing: the waiting client gets -32033 and the log blames no one", async () => {
    const d = dir();
    const t = await startTarget("bin", {
      socket: join(d, "si.sock"),
      ...fakeServer(d, { FAKE_INIT_DELAY_MS: "3000" }),
    });
    const c = await raw(t.socket, true);
    c.request("init", "initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "early", version: "1" },
    });
    await waitFor(() => recorded(d).some((m) => m.method === "initialize"), 5000, "the child's initialize");
    t.proc?.kill("SIGTERM");
    expect(await t.proc?.exited).toBe(0);
    expect(((await c.response("init")).error as Json).code).toBe(-32033);
    expect(t.stderr()).toContain("SIGTERM: shutting down");
    expect(t.stderr()).not.toMatch(/rejected initialize|server rejected|initialize failed/i);
    expect(t.stderr()).not.toMatch(/\bERROR\b|✖/);
  });

  test("shutdown lets requests that finish within the grace period complete", async () => {
    const d = dir();
    const t = await startTarget("bin", { socket: join(d, "gr.sock"), ...fakeServer(d) });
    const c = await raw(t.socket);
    await c.handshake();
    c.request(1, "tools/call", { name: "slow", arguments: { ms: 300 } });
    await Bun.sleep(50);
    t.proc?.kill("SIGTERM");
    const r = await c.response(1);
    expect(JSON.parse(textOf(r.result))).toEqual({ ms: 300 });
    expect(await t.proc?.exited).toBe(0);
  });

  test("library close() does the same without signals", async () => {
    const d = dir();
    const childFile = join(d, "child.pid");
    const mux = await startMux({
      socket: join(d, "lc.sock"),
      ...fakeServer(d, { FAKE_PID_FILE: childFile }),
      logger: silentLogger,
    });
    const c = await raw(mux.socket);
    await c.handshake();
    await mux.close();
    expect(existsSync(mux.socket)).toBe(false);
    await waitFor(() => !alive(Number(readFileSync(childFile, "utf8"))), 5000, "child gone");
    expect(mux.status().state).toBe("stopped");
  });

  test("a live daemon's socket is never stolen; a stale one is replaced; bad paths are refused up front", async () => {
    const d = dir();
    const t = await use("bin", { socket: join(d, "own.sock"), ...fakeServer(d) });
    const second = Bun.spawnSync({ cmd: [MUX_BIN, "serve", "--socket", t.socket, "--cmd", BUN, "--", "-e", "1"] });
    expect(second.exitCode).not.toBe(0);
    const err = second.stderr.toString();
    expect(err).toContain(t.socket);
    expect(err).toMatch(/already served by mcp-mux pid \d+/);
    const c = await raw(t.socket);
    await c.handshake(); // the first daemon still serves

    // stale socket from a SIGKILLed process
    const stalePath = join(d, "stale.sock");
    const holder = Bun.spawn({
      cmd: [BUN, "-e", `Bun.listen({unix:${JSON.stringify(stalePath)},socket:{data(){}}});setInterval(()=>{},1e3)`],
    });
    await waitFor(() => existsSync(stalePath), 5000, "stale socket");
    holder.kill("SIGKILL");
    await holder.exited;
    const replaced = await use("lib", { socket: stalePath, ...fakeServer(d) });
    const c2 = await raw(replaced.socket);
    await c2.handshake();

    const long = join(d, `${"x".repeat(120)}.sock`);
    const tooLong = Bun.spawnSync({ cmd: [MUX_BIN, "serve", "--socket", long, "--cmd", BUN] });
    expect(tooLong.exitCode).not.toBe(0);
    expect(tooLong.stderr.toString()).toContain("over the 107-byte limit");

    writeFileSync(join(d, "file.sock"), "not a socket");
    const notSocket = Bun.spawnSync({ cmd: [MUX_BIN, "serve", "--socket", join(d, "file.sock"), "--cmd", BUN] });
    expect(notSocket.exitCode).not.toBe(0);
    expect(readFileSync(join(d, "file.sock"), "utf8")).toBe("not a socket");
  });

  test("the socket is 0600 and a directory the mux creates is 0700", async () => {
    const d = dir();
    const t = await use("lib", { socket: join(d, "new", "dir", "m.sock"), ...fakeServer(d) });
    expect(statSync(t.socket).mode & 0o777).toBe(0o600);
    expect(statSync(join(d, "new", "dir")).mode & 0o777).toBe(0o700);
  });
});

describe("status file", () => {
  test("written atomically through a restart, quiet while idle", async () => {
    const d = dir();
    const file = join(d, "status.json");
    const t = await use("bin", {
      socket: join(d, "sf.sock"),
      ...fakeServer(d),
      statusFile: file,
      restartBackoffMs: 20,
      serviceName: "svc",
      childCapabilities: "all",
    });
    await waitFor(
      () => existsSync(file) && JSON.parse(readFileSync(file, "utf8")).state === "ready",
      5000,
      "ready status",
    );
    const first = JSON.parse(readFileSync(file, "utf8")) as Json;
    expect(first).toMatchObject({
      service: "svc",
      state: "ready",
      restarts: 0,
      initializeCached: true,
      connectedClients: 0,
    });
    expect(first.muxPid).toBe(t.proc?.pid);
    for (const key of [
      "childPid",
      "activeClients",
      "queuedRequests",
      "pendingRequests",
      "uptimeMs",
      "timestamp",
      "lastRestartReason",
    ]) {
      expect(key in first).toBe(true);
    }
    const idleMtime = statSync(file).mtimeMs;
    await Bun.sleep(800);
    expect(statSync(file).mtimeMs).toBe(idleMtime);
    process.kill(first.childPid as number, "SIGKILL");
    await waitFor(
      () => {
        const s = JSON.parse(readFileSync(file, "utf8")) as Json;
        return s.restarts === 1 && s.state === "ready" && s.childPid !== first.childPid;
      },
      10_000,
      "restart in status",
    );
    expect(String((JSON.parse(readFileSync(file, "utf8")) as Json).lastRestartReason)).toContain("SIGKILL");
    const statusCli = Bun.spawnSync({ cmd: [MUX_BIN, "status", "--socket", t.socket] });
    expect(statusCli.stdout.toString()).toMatch(/svc\s+ready/);
    const statusJson = JSON.parse(
      Bun.spawnSync({ cmd: [MUX_BIN, "status", "--socket", t.socket, "--json"] }).stdout.toString(),
    );
    expect(statusJson.restarts).toBe(1);
  });
});
