/**
 * Core behaviour (issue: one server shared by many clients), run against both the in-process
 * library and the compiled binaries.
 */

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { MuxOptions } from "../../src/index.ts";
import {
  EVERYTHING_BIN,
  fakeServer,
  type Json,
  MEMORY_BIN,
  MODES,
  type RawClient,
  recorded,
  sdkClient,
  type Target,
  testScope,
  textOf,
  waitFor,
} from "../helpers.ts";

for (const mode of MODES) {
  describe(`core [${mode}]`, () => {
    const scope = testScope(mode);
    const { dir } = scope;
    const use = (options: MuxOptions): Promise<Target> => scope.target(options);
    // In binary mode every raw client goes through a real mux-proxy process.
    const raw = (socket: string): Promise<RawClient> => scope.raw(socket, mode === "bin" ? "proxy" : "socket");

    test("SDK clients share server-memory through mux-proxy and see each other's state", async () => {
      const d = dir();
      const t = await use({
        socket: join(d, "m.sock"),
        cmd: MEMORY_BIN,
        env: { MEMORY_FILE_PATH: join(d, "mem.jsonl") },
      });
      const a = await sdkClient(t.socket, { name: "a" });
      const b = await sdkClient(t.socket, { name: "b" });
      scope.defer(() => Promise.all([a.close(), b.close()]));
      expect(a.getServerVersion()?.name).toBe("memory-server");
      const tools = await b.listTools();
      expect(tools.tools.map((x) => x.name)).toContain("create_entities");
      await a.callTool({
        name: "create_entities",
        arguments: { entities: [{ name: "mux", entityType: "project", observations: ["shared"] }] },
      });
      const graph = await b.callTool({ name: "read_graph", arguments: {} });
      expect(textOf(graph)).toContain('"mux"');
    });

    test("SDK client works against server-everything through mux-proxy", async () => {
      const d = dir();
      const t = await use({ socket: join(d, "e.sock"), cmd: EVERYTHING_BIN, args: ["stdio"] });
      const c = await sdkClient(t.socket, { capabilities: { sampling: {}, roots: { listChanged: true } } });
      scope.defer(() => c.close());
      expect(c.getServerVersion()?.name).toContain("everything");
      const echo = await c.callTool({ name: "echo", arguments: { message: "héllo 🌍" } });
      expect(textOf(echo)).toContain("héllo 🌍");
      const prompts = await c.listPrompts();
      expect(prompts.prompts.length).toBeGreaterThan(0);
      const resources = await c.listResources();
      expect(resources.resources.length).toBeGreaterThan(0);
      await c.ping();
    });

    test("20 clients × 100 interleaved calls with colliding ids each get their own answers", async () => {
      const d = dir();
      const t = await use({ socket: join(d, "c.sock"), ...fakeServer(d), maxActiveClients: 20 });
      const clients = await Promise.all(Array.from({ length: 20 }, () => raw(t.socket)));
      await Promise.all(clients.map((c) => c.handshake()));
      for (let n = 0; n < 100; n++) {
        clients.forEach((c, i) => {
          // ids collide across clients; odd n uses the string form of the same number
          const id = n % 2 === 0 ? n : String(n);
          c.request(id, "tools/call", { name: "echo", arguments: { client: i, n } });
        });
      }
      await Promise.all(
        clients.map(async (c, i) => {
          for (let n = 0; n < 100; n++) {
            const id = n % 2 === 0 ? n : String(n);
            const res = await c.response(id, 20_000);
            expect(JSON.parse(textOf(res.result))).toEqual({ client: i, n });
          }
          const answers = c.received.filter((m) => "result" in m || "error" in m);
          expect(answers.length).toBe(101); // 100 calls + initialize: exactly one answer each
        }),
      );
    });

    test("the child is spawned once and sees exactly one initialize and one initialized", async () => {
      const d = dir();
      const t = await use({ socket: join(d, "i.sock"), ...fakeServer(d) });
      const clients = await Promise.all(Array.from({ length: 8 }, () => raw(t.socket)));
      const results = await Promise.all(clients.map((c, i) => c.handshake({}, i % 2 ? "2025-06-18" : "2025-11-25")));
      results.forEach((r, i) => {
        expect(String(r.id)).toStartWith("init-");
        expect((r.result as Json).protocolVersion).toBe(i % 2 ? "2025-06-18" : "2025-11-25");
      });
      clients[0]?.request(1, "tools/call", { name: "whoami" });
      const who = JSON.parse(textOf((await clients[0]?.response(1))?.result)) as Json;
      expect(who.initializeCount).toBe(1);
      const got = recorded(d);
      expect(got.filter((m) => m.method === "initialize").length).toBe(1);
      expect(got.filter((m) => m.method === "notifications/initialized").length).toBe(1);
      const initAt = got.findIndex((m) => m.method === "initialize");
      const initializedAt = got.findIndex((m) => m.method === "notifications/initialized");
      expect(initializedAt).toBeGreaterThan(initAt);
      // a second client handshake later still does not reach the child
      const late = await raw(t.socket);
      await late.handshake();
      expect(recorded(d).filter((m) => m.method === "initialize").length).toBe(1);
    });

    test("ids come back byte-identical: big integers, unicode and escaped strings", async () => {
      const d = dir();
      const t = await use({ socket: join(d, "b.sock"), ...fakeServer(d) });
      const c = await raw(t.socket);
      await c.handshake();
      const ids = ["12345678901234567890", '"\\u00e9t\\u00e9"', '"日本"', "-7", '"1"', "1"];
      for (const id of ids)
        c.send(`{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{}}}`);
      await waitFor(() => c.rawLines.length >= 1 + ids.length, 10_000, "answers");
      for (const id of ids) {
        const line = c.rawLines.find((l) => l.includes(`"id":${id}`) && l.includes('"result"'));
        expect(line).toBeDefined();
      }
    });

    test("a 10 MiB result passes; an oversized request gets -32032 and the connection stays usable", async () => {
      const d = dir();
      const t = await use({ socket: join(d, "l.sock"), ...fakeServer(d), maxRequestBytes: 64 * 1024 });
      const c = await raw(t.socket);
      await c.handshake();
      c.request(1, "tools/call", { name: "big", arguments: { bytes: 10 * 1024 * 1024 } });
      const big = await c.response(1, 30_000);
      expect(textOf(big.result).length).toBe(10 * 1024 * 1024);
      c.request(2, "tools/call", { name: "echo", arguments: { pad: "y".repeat(100 * 1024) } });
      const tooBig = await c.response(2);
      expect((tooBig.error as Json).code).toBe(-32032);
      expect(String((tooBig.error as Json).message)).toContain("65536");
      expect(((tooBig.error as Json).data as Json).limit).toBe(65536);
      c.send({ jsonrpc: "2.0", method: "notifications/whatever", params: { pad: "z".repeat(100 * 1024) } });
      c.request(3, "tools/call", { name: "echo", arguments: { ok: true } });
      expect(JSON.parse(textOf((await c.response(3)).result))).toEqual({ ok: true });
      // the oversized notification got no answer
      expect(c.received.filter((m) => "error" in m).length).toBe(1);
      expect(recorded(d).some((m) => m.method === "notifications/whatever")).toBe(false);
    });

    test("bad input gets -32700/-32600, unknown response ids are dropped, nothing reaches the child", async () => {
      const d = dir();
      const t = await use({ socket: join(d, "g.sock"), ...fakeServer(d) });
      const c = await raw(t.socket);
      await c.handshake();
      await waitFor(() => recorded(d).some((m) => m.method === "notifications/initialized"), 5000, "initialized");
      const before = recorded(d).length;
      c.send("this is not json");
      c.send('{"jsonrpc":"2.0","id":5,"method":');
      c.send("42");
      c.send('{"id":6,"method":"tools/list"}');
      c.send('{"jsonrpc":"2.0","id":null,"method":"tools/list"}');
      c.send('{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}');
      c.send('{"jsonrpc":"2.0","id":99,"result":{}}');
      c.send('{"jsonrpc":"2.0","id":7,"method":"tools/list"}');
      await c.response(7);
      const errors = c.received.filter((m) => "error" in m).map((m) => (m.error as Json).code);
      expect(errors).toEqual([-32700, -32700, -32600, -32600, -32600, -32600]);
      expect(recorded(d).length).toBe(before + 1); // only tools/list id 7
    });

    test("1,000 garbage lines from one client do not disturb an SDK client", async () => {
      const d = dir();
      const t = await use({ socket: join(d, "z.sock"), ...fakeServer(d) });
      const sdk = await sdkClient(t.socket);
      scope.defer(() => sdk.close());
      const bad = await raw(t.socket);
      const garbage = Array.from(
        { length: 1000 },
        (_, i) =>
          [`{{{${i}`, `[1,2,${i}]`, `"str${i}"`, `{"jsonrpc":"2.0","id":${i},"result":{}}`, `\u0000\u00ff${i}`][i % 5],
      );
      const calls = (async () => {
        for (let i = 0; i < 50; i++) {
          const r = await sdk.callTool({ name: "echo", arguments: { i } });
          expect(JSON.parse(textOf(r))).toEqual({ i });
        }
      })();
      for (const g of garbage) bad.send(g as string);
      await calls;
      await waitFor(() => bad.received.length >= 600, 10_000, "garbage answers");
      expect(bad.received.every((m) => "error" in m || "batch" in m)).toBe(true);
    });

    test("before its initialize a client gets ping answered and a server/discover without the 2026 envelope refused at once", async () => {
      const d = dir();
      const t = await use({ socket: join(d, "p.sock"), ...fakeServer(d, { FAKE_INIT_DELAY_MS: "1500" }) });
      const c = await raw(t.socket);
      const started = Date.now();
      c.request(1, "ping");
      c.request(2, "server/discover");
      c.request(3, "some/unknown");
      expect((await c.response(1, 1000)).result).toEqual({});
      expect(((await c.response(2, 1000)).error as Json).code).toBe(-32602);
      expect(((await c.response(3, 1000)).error as Json).code).toBe(-32601);
      expect(Date.now() - started).toBeLessThan(1000);
      // initialize waits for the slow child and then succeeds
      const init = await c.handshake();
      expect((init.result as Json).serverInfo).toEqual({ name: "fake-server", version: "1.0.0" });
    });

    test("a client that stops reading is disconnected; others keep working", async () => {
      const d = dir();
      const t = await use({ socket: join(d, "s.sock"), ...fakeServer(d), clientStallTimeoutMs: 1000 });
      const good = await raw(t.socket);
      await good.handshake();
      // a slow consumer: connects, asks for many large results, never reads
      let slowClosed = false;
      const slow = await new Promise<Awaited<ReturnType<typeof Bun.connect>>>((resolve) => {
        void Bun.connect({
          unix: t.socket,
          socket: {
            open(s) {
              s.pause();
              resolve(s);
            },
            data() {},
            close() {
              slowClosed = true;
            },
            error() {},
          },
        });
      });
      slow.write(
        '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"slow","version":"1"}}}\n',
      );
      for (let i = 1; i <= 20; i++) {
        slow.write(
          `{"jsonrpc":"2.0","id":${i},"method":"tools/call","params":{"name":"big","arguments":{"bytes":8388608}}}\n`,
        );
      }
      for (let i = 0; i < 20; i++) {
        good.request(i, "tools/call", { name: "echo", arguments: { i } });
        expect(JSON.parse(textOf((await good.response(i, 20_000)).result))).toEqual({ i });
      }
      // The mux cuts the slow client off, saying why; the good one stays connected and served.
      await waitFor(() => /disconnected: client stopped reading/.test(t.stderr()), 20_000, "the stall cut-off");
      slow.resume(); // read what it was sent: the stream ends (a paused socket sees no close)
      await waitFor(() => slowClosed, 10_000, "the slow socket to close");
      const cutOff = t.stderr().match(/client \d+ disconnected: client stopped reading: \d+ bytes unread/g) ?? [];
      expect(cutOff).toHaveLength(1);
      good.request("after", "tools/call", { name: "echo", arguments: { after: true } });
      expect(JSON.parse(textOf((await good.response("after", 20_000)).result))).toEqual({ after: true });
      expect(good.closed).toBe(false);
      expect(t.stderr()).not.toMatch(/disconnected: (?!client stopped reading)/);
      slow.end();
    }, 60_000);
  });
}
