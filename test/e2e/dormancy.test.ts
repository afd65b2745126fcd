/** Dormant servers (`dormant_after_ms`): stopped while idle, woken by the next request that needs them. */

import { describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkHealth, type MuxOptions } from "../../src/index.ts";
import {
  fakeServer,
  type Json,
  MEMORY_BIN,
  type Mode,
  MUX_BIN,
  type RawClient,
  recorded,
  testScope,
  waitFor,
} from "../helpers.ts";

const scope = testScope();
const { dir } = scope;
const use = (mode: Mode, options: MuxOptions) => scope.target(options, mode);
let seq = 0;
async function status(c: RawClient): Promise<Json> {
  const id = `status-${seq++}`;
  c.request(id, "mcp-mux/status");
  return (await c.response(id)).result as Json;
}
async function call(c: RawClient, name: string, args: Json = {}, timeoutMs = 10_000): Promise<Json> {
  const id = `call-${seq++}`;
  c.request(id, "tools/call", { name, arguments: args });
  return c.response(id, timeoutMs);
}
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
async function dormant(c: RawClient): Promise<Json> {
  let s: Json = {};
  await waitFor(
    async () => {
      s = await status(c);
      return s.state === "dormant";
    },
    10_000,
    "dormant",
  );
  return s;
}
const initializes = (d: string): number => recorded(d).filter((m) => m.method === "initialize").length;

describe("dormancy", () => {
  test("an idle server goes dormant, clients stay; a tool call wakes it (shown as waking), same parameters and log level", async () => {
    const d = dir();
    const t = await use("bin", {
      socket: join(d, "d.sock"),
      ...fakeServer(d, { FAKE_INIT_DELAY_MS: "300" }),
      dormantAfterMs: 300,
    });
    const c = await scope.raw(t.socket, "proxy");
    await c.handshake({ sampling: {} });
    c.request("lvl", "logging/setLevel", { level: "debug" });
    await c.response("lvl");
    const first = (await call(c, "whoami")).result as Json;
    const pid = JSON.parse(String(((first.content as Json[])[0] as Json).text)).pid as number;
    const asleep = await dormant(c);
    expect(asleep.childPid).toBeNull();
    expect(asleep.initializeCached).toBe(true);
    await waitFor(() => !alive(pid), 5000, "old child gone");
    // A keep-alive ping is answered without waking the server.
    await c.settle();
    expect((await status(c)).state).toBe("dormant");

    c.request("wake", "tools/call", { name: "whoami", arguments: {} });
    await waitFor(async () => (await status(c)).state === "waking", 5000, "waking");
    const woken = await c.response("wake", 10_000);
    const who = JSON.parse(String((((woken.result as Json).content as Json[])[0] as Json).text));
    expect(who.pid).not.toBe(pid);
    expect(who.logLevel).toBe("debug");
    expect((await status(c)).state).toBe("ready");
    const inits = recorded(d).filter((m) => m.method === "initialize");
    expect(inits.length).toBe(2);
    expect((inits[1] as Json).params).toEqual((inits[0] as Json).params);
    // The same server again: clients are not told to re-list.
    await c.settle();
    expect(c.received.some((m) => String(m.method).endsWith("/list_changed"))).toBe(false);
  });

  test("a new client's initialize is answered from the last result with no child running", async () => {
    const d = dir();
    const t = await use("lib", { socket: join(d, "d.sock"), ...fakeServer(d), dormantAfterMs: 200 });
    const a = await scope.raw(t.socket);
    await a.handshake();
    await dormant(a);
    const b = await scope.raw(t.socket);
    const init = await b.handshake();
    expect((init.result as Json).serverInfo).toEqual({ name: "fake-server", version: "1.0.0" });
    await b.settle();
    const s = await status(b);
    expect(s.state).toBe("dormant");
    expect(s.childPids).toEqual([]);
    expect(initializes(d)).toBe(1);
  });

  test("a subscription keeps the server awake; the last unsubscribe lets it sleep", async () => {
    const d = dir();
    const t = await use("lib", { socket: join(d, "d.sock"), ...fakeServer(d), dormantAfterMs: 150 });
    const c = await scope.raw(t.socket);
    await c.handshake();
    c.request("sub", "resources/subscribe", { uri: "demo://x" });
    await c.response("sub");
    const pid = (await status(c)).childPid as number;
    await Bun.sleep(600);
    await c.settle();
    const s = await status(c);
    expect(s.state).toBe("ready");
    expect(s.childPid).toBe(pid);
    c.request("unsub", "resources/unsubscribe", { uri: "demo://x" });
    await c.response("unsub");
    await dormant(c);
  });

  test("a request in flight keeps it awake", async () => {
    const d = dir();
    const t = await use("lib", { socket: join(d, "d.sock"), ...fakeServer(d), dormantAfterMs: 100 });
    const c = await scope.raw(t.socket);
    await c.handshake();
    const pid = (await status(c)).childPid as number;
    const r = await call(c, "slow", { ms: 600 });
    expect(r.error).toBeUndefined();
    expect(initializes(d)).toBe(1);
    expect(alive(pid)).toBe(true);
    await dormant(c);
  });

  test("a server→client request during wake-up reaches the client that caused it", async () => {
    const d = dir();
    const t = await use("bin", {
      socket: join(d, "d.sock"),
      ...fakeServer(d, { FAKE_INIT_DELAY_MS: "200" }),
      dormantAfterMs: 200,
    });
    const other = await scope.raw(t.socket);
    await other.handshake();
    const c = await scope.raw(t.socket, "proxy");
    await c.handshake({ sampling: {} });
    await dormant(c);
    c.request("s", "tools/call", { name: "sample", arguments: {} });
    const ask = await c.next((m) => m.method === "sampling/createMessage", 10_000);
    c.send({
      jsonrpc: "2.0",
      id: ask.id as string | number,
      result: { role: "assistant", content: { type: "text", text: "hello" }, model: "m" },
    });
    const res = await c.response("s", 10_000);
    expect(JSON.stringify(res.result)).toContain("hello");
    await other.settle();
    expect(other.received.some((m) => m.method === "sampling/createMessage")).toBe(false);
  });

  test("a crash while waking: the held call waits through the restart and is answered", async () => {
    const d = dir();
    const crash = join(d, "crash");
    const t = await use("lib", {
      socket: join(d, "d.sock"),
      ...fakeServer(d, { FAKE_CRASH_FILE: crash }),
      dormantAfterMs: 200,
      restartBackoffMs: 50,
      restartBackoffMaxMs: 100,
      requestTimeoutMs: 20_000,
    });
    const c = await scope.raw(t.socket);
    await c.handshake();
    await dormant(c);
    writeFileSync(crash, "");
    c.request("w", "tools/call", { name: "echo", arguments: { x: 1 } });
    await waitFor(async () => Number((await status(c)).restarts) >= 1, 10_000, "a crash while waking");
    rmSync(crash);
    const res = await c.response("w", 15_000);
    expect(res.error).toBeUndefined();
    expect(JSON.stringify(res.result)).toContain('\\"x\\":1');
    expect((await status(c)).state).toBe("ready");
  });

  test("a woken server with another version: clients get list_changed", async () => {
    const d = dir();
    const version = join(d, "version");
    writeFileSync(version, "1.0.0");
    const t = await use("lib", {
      socket: join(d, "d.sock"),
      ...fakeServer(d, { FAKE_VERSION_FILE: version }),
      dormantAfterMs: 200,
    });
    const c = await scope.raw(t.socket);
    await c.handshake();
    await dormant(c);
    writeFileSync(version, "2.0.0");
    await call(c, "echo");
    await c.next((m) => m.method === "notifications/tools/list_changed", 5000, 0);
    expect(((await status(c)).serverInfo as Json).version).toBe("2.0.0");
  });

  test("mux health of a dormant service says so (exit 7) and does not wake it unless --wake", async () => {
    const d = dir();
    const t = await use("bin", { socket: join(d, "d.sock"), ...fakeServer(d), dormantAfterMs: 500 });
    const c = await scope.raw(t.socket);
    await c.handshake();
    await dormant(c);
    const h = await checkHealth({ socket: t.socket });
    expect(h.state).toBe("dormant");
    const cli = Bun.spawnSync([MUX_BIN, "health", "--socket", t.socket]);
    expect(cli.exitCode).toBe(7);
    expect(cli.stdout.toString()).toContain("DORMANT");
    await c.settle();
    expect((await status(c)).state).toBe("dormant");
    expect(initializes(d)).toBe(1);
    const woke = Bun.spawnSync([MUX_BIN, "health", "--socket", t.socket, "--wake"]);
    expect(woke.exitCode).toBe(0);
    expect((await status(c)).state).toBe("ready");
  });

  test("server-memory goes dormant and wakes for a tool call (its graph is in its file)", async () => {
    const d = dir();
    const t = await use("lib", {
      socket: join(d, "m.sock"),
      cmd: MEMORY_BIN,
      args: [],
      env: { MEMORY_FILE_PATH: join(d, "memory.jsonl") },
      dormantAfterMs: 300,
    });
    const c = await scope.raw(t.socket);
    await c.handshake();
    const create = await call(c, "create_entities", {
      entities: [{ name: "a", entityType: "t", observations: ["kept"] }],
    });
    expect(create.error).toBeUndefined();
    await dormant(c);
    const read = await call(c, "read_graph", {}, 20_000);
    expect(JSON.stringify(read.result)).toContain("kept");
  });

  test("keeps_state keeps an idle server up whatever dormant_after_ms says", async () => {
    const d = dir();
    const t = await use("lib", { socket: join(d, "k.sock"), ...fakeServer(d), dormantAfterMs: 100, keepsState: true });
    const c = await scope.raw(t.socket);
    await c.handshake();
    const pid = (await status(c)).childPid as number;
    await Bun.sleep(800);
    await c.settle();
    const s = await status(c);
    expect(s.state).toBe("ready");
    expect(s.childPid).toBe(pid);
    expect(initializes(d)).toBe(1);
  });

  test("by default server-memory sleeps after 10 idle minutes and an unknown server never (status shows it)", async () => {
    const d = dir();
    const memory = await use("lib", {
      socket: join(d, "m.sock"),
      cmd: MEMORY_BIN,
      args: [],
      env: { MEMORY_FILE_PATH: join(d, "memory.jsonl") },
    });
    const unknown = await use("lib", { socket: join(d, "u.sock"), ...fakeServer(d) });
    const m = await scope.raw(memory.socket);
    await m.handshake();
    const u = await scope.raw(unknown.socket);
    await u.handshake();
    expect(((await status(m)).settings as Json).dormantAfterMs).toBe(600_000);
    expect(((await status(u)).settings as Json).dormantAfterMs).toBe(0);
  });
});
