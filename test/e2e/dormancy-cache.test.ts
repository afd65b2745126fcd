/** The persisted handshake cache: after a restart, initialize and lists are answered with no server running. */

import { describe, expect, test } from "bun:test";
import { existsSync, lstatSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MuxOptions } from "../../src/index.ts";
import { fakeServer, type Json, type RawClient, recorded, testScope, waitFor } from "../helpers.ts";

const scope = testScope("lib");
const { dir } = scope;
let seq = 0;
async function status(c: RawClient): Promise<Json> {
  const id = `status-${seq++}`;
  c.request(id, "mcp-mux/status");
  return (await c.response(id)).result as Json;
}
async function ask(c: RawClient, method: string, params?: Json, timeoutMs = 10_000): Promise<Json> {
  const id = `r-${seq++}`;
  c.request(id, method, params);
  return c.response(id, timeoutMs);
}
const initializes = (d: string): number => recorded(d).filter((m) => m.method === "initialize").length;
const cacheFolder = (state: string): string => join(state, "handshake-cache");
function cacheFiles(state: string): string[] {
  const folder = cacheFolder(state);
  return existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith(".json")) : [];
}
function cached(state: string): Json {
  const [file] = cacheFiles(state);
  return JSON.parse(readFileSync(join(cacheFolder(state), file as string), "utf8")) as Json;
}
const hasTools = (state: string): boolean =>
  cacheFiles(state).length === 1 && (cached(state).lists as Json)["tools/list"] !== undefined;

/** Run a service once so its cache is written, then close it. */
async function warm(options: MuxOptions, state: string): Promise<void> {
  const t = await scope.target(options);
  const c = await scope.raw(t.socket);
  await c.handshake();
  await waitFor(() => hasTools(state), 5000, "the cache file");
  c.close();
  await t.close();
}

describe("persisted handshake cache", () => {
  test("after a restart, initialize + tools/list are answered from the cache with no server; a tool call starts it", async () => {
    const d = dir();
    const state = join(d, "state");
    const options: MuxOptions = { socket: join(d, "c.sock"), ...fakeServer(d), stateDir: state };
    await warm(options, state);
    const folder = statSync(cacheFolder(state));
    expect(folder.mode & 0o777).toBe(0o700);
    expect(statSync(join(cacheFolder(state), cacheFiles(state)[0] as string)).mode & 0o777).toBe(0o600);
    expect(initializes(d)).toBe(1);

    const t = await scope.target(options);
    const c = await scope.raw(t.socket);
    const init = await c.handshake();
    expect((init.result as Json).serverInfo).toEqual({ name: "fake-server", version: "1.0.0" });
    const tools = await ask(c, "tools/list");
    expect(((tools.result as Json).tools as Json[]).some((x) => x.name === "echo")).toBe(true);
    await c.settle();
    const s = await status(c);
    expect(s.state).toBe("dormant");
    expect(s.childPids).toEqual([]);
    expect(initializes(d)).toBe(1);

    const echo = await ask(c, "tools/call", { name: "echo", arguments: { hi: 1 } });
    expect(echo.error).toBeUndefined();
    expect(initializes(d)).toBe(2);
    expect((await status(c)).state).toBe("ready");
    // The same server: no list_changed.
    await c.settle();
    expect(c.received.some((m) => String(m.method).endsWith("/list_changed"))).toBe(false);
  });

  test("a cache from another version of the server is replaced, and clients get list_changed", async () => {
    const d = dir();
    const state = join(d, "state");
    const version = join(d, "version");
    writeFileSync(version, "1.0.0");
    const options: MuxOptions = {
      socket: join(d, "c.sock"),
      ...fakeServer(d, { FAKE_VERSION_FILE: version }),
      stateDir: state,
    };
    await warm(options, state);
    writeFileSync(version, "2.0.0");
    const t = await scope.target(options);
    const c = await scope.raw(t.socket);
    const init = await c.handshake();
    expect(((init.result as Json).serverInfo as Json).version).toBe("1.0.0");
    await ask(c, "tools/call", { name: "echo", arguments: {} });
    await c.next((m) => m.method === "notifications/tools/list_changed", 5000, 0);
    await waitFor(() => ((cached(state).result as Json).serverInfo as Json).version === "2.0.0", 5000, "new cache");
    const late = await scope.raw(t.socket);
    expect((((await late.handshake()).result as Json).serverInfo as Json).version).toBe("2.0.0");
  });

  test("a cached page's own caching hint rules: ttlMs 0 wakes the server, a long ttlMs is answered from the cache", async () => {
    for (const [ttl, fromCache] of [
      ["0", false],
      ["3600000", true],
    ] as const) {
      const d = dir();
      const state = join(d, "state");
      const options: MuxOptions = {
        socket: join(d, "c.sock"),
        ...fakeServer(d, { FAKE_LIST_TTL_MS: ttl }),
        stateDir: state,
      };
      await warm(options, state);
      expect(typeof cached(state).listedAt).toBe("number");
      const t = await scope.target(options);
      const c = await scope.raw(t.socket);
      await c.handshake();
      const tools = await ask(c, "tools/list");
      expect((tools.result as Json).ttlMs).toBe(Number(ttl));
      await c.settle();
      expect((await status(c)).state).toBe(fromCache ? "dormant" : "ready");
      expect(initializes(d)).toBe(fromCache ? 1 : 2);
      c.close();
      await t.close();
    }
  });

  test("another launch (an env value changed) does not read the cache", async () => {
    const d = dir();
    const state = join(d, "state");
    const base = fakeServer(d);
    await warm({ socket: join(d, "c.sock"), ...base, env: { ...base.env, TOKEN: "a" }, stateDir: state }, state);
    expect(readFileSync(join(cacheFolder(state), cacheFiles(state)[0] as string), "utf8")).not.toContain('"a"');
    const t = await scope.target({
      socket: join(d, "c.sock"),
      ...base,
      env: { ...base.env, TOKEN: "b" },
      stateDir: state,
    });
    const c = await scope.raw(t.socket);
    await c.handshake();
    expect((await status(c)).state).toBe("ready");
    expect(initializes(d)).toBe(2);
  });

  test("a cache file that is not one, or a symlink, is ignored and replaced", async () => {
    for (const kind of ["garbage", "shape", "symlink"]) {
      const d = dir();
      const state = join(d, "state");
      const options: MuxOptions = { socket: join(d, "c.sock"), ...fakeServer(d), stateDir: state };
      await warm(options, state);
      const file = join(cacheFolder(state), cacheFiles(state)[0] as string);
      const good = readFileSync(file, "utf8");
      if (kind === "garbage") writeFileSync(file, '{"format":1,"params":{},"result":"x","lists":[]}');
      else if (kind === "shape") writeFileSync(file, '{"format":1,"params":{},"result":{},"lists":{}}');
      else {
        const elsewhere = join(d, "elsewhere.json");
        writeFileSync(elsewhere, good);
        Bun.spawnSync(["rm", file]);
        symlinkSync(elsewhere, file);
      }
      const t = await scope.target(options);
      const c = await scope.raw(t.socket);
      await c.handshake();
      expect((await status(c)).state).toBe("ready");
      expect(initializes(d)).toBe(2);
      await waitFor(() => !lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink() && hasTools(state), 5000);
      await t.close();
    }
  });

  test("handshake_cache off: no file, the server starts as usual", async () => {
    const d = dir();
    const state = join(d, "state");
    const t = await scope.target({
      socket: join(d, "c.sock"),
      ...fakeServer(d),
      stateDir: state,
      handshakeCache: false,
    });
    const c = await scope.raw(t.socket);
    await c.handshake();
    await ask(c, "tools/list");
    await c.settle();
    expect(existsSync(cacheFolder(state))).toBe(false);
  });
});
