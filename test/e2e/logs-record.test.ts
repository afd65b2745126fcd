/**
 * What the record keeps of each message, entry by entry: direction, kind, client (name, pid,
 * workspace), method, id, duration, error code and size, for every kind of traffic (requests
 * with number and string ids, notifications, batches, parse errors, invalid messages, answers
 * built by the mux, progress, server→client requests and their answers, refused and probed
 * clients). Read through `mux logs --json` from the compiled `mux`, raw socket clients.
 * These expectations were taken from the record before its hot path was rewritten (it then
 * scanned every line again); they pin that the rewrite changed no observable.
 */

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { BUN, FAKE_SERVER, type Json, MUX_BIN, type RawClient, testScope, waitFor } from "../helpers.ts";

const scope = testScope();
const procs: ReturnType<typeof Bun.spawn>[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) {
    p.kill("SIGTERM");
    await p.exited;
  }
});

async function serve(extra: string[] = []): Promise<string> {
  const socket = join(scope.dir(), "s.sock");
  const p = Bun.spawn([MUX_BIN, "serve", "--socket", socket, ...extra, "--cmd", BUN, "--", FAKE_SERVER], {
    stdout: "ignore",
    stderr: "ignore",
  });
  procs.push(p);
  await waitFor(() => existsSync(socket) && existsSync(`${socket}.ctl`), 10_000, "the sockets");
  return socket;
}

/** The record's message entries, each cut to the fields that do not depend on timing. */
async function messages(socket: string): Promise<string[]> {
  const p = Bun.spawn([MUX_BIN, "logs", "--socket", socket, "--json", "--limit", "100000"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  expect(code).toBe(0);
  const entries = stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Json);
  const seqs = entries.map((e) => e.seq as number);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  return entries
    .filter((e) => e.type === "message")
    .map((e) => {
      const c = e.client as Json;
      const who = `${c.name ?? "?"}${c.pid ? `@${c.pid}` : ""}${c.workspace ? `[ws]` : ""}/${c.transport}`;
      const ms = e.ms === undefined ? "" : typeof e.ms === "number" && e.ms >= 0 ? " ms" : ` ms=${e.ms}`;
      const code = e.code === undefined ? "" : ` code=${e.code}`;
      // A status answer's size depends on the run (uptime, pids); the test helpers' settle
      // pings are numbered across the whole test process, so their ids (and sizes) vary.
      const settle = typeof e.id === "string" && /^"settle-\d+"$/.test(e.id);
      const bytes = (e.method === "mcp-mux/status" && e.dir === "out") || settle ? "?" : e.bytes;
      const id = settle ? '"settle-N"' : (e.id ?? "-");
      return `${e.dir} ${e.kind} ${who} ${e.method ?? "-"} ${id}${ms}${code} ${bytes}B`;
    });
}

function initialize(c: RawClient, id: unknown, name: string, capabilities: Json = {}): void {
  c.request(id, "initialize", {
    protocolVersion: "2025-11-25",
    capabilities,
    clientInfo: { name, version: "1" },
  });
}

describe("the record's entries", () => {
  test("every kind of message of two clients, with names, pids, ids, durations, codes and sizes", async () => {
    const socket = await serve();
    const a = await scope.raw(socket);
    // A proxy's hello (never recorded) gives the host's pid.
    a.send({ jsonrpc: "2.0", method: "mcp-mux/hello", params: { hostPid: 4242 } });
    initialize(a, 1, "alpha-host", { sampling: {} });
    await a.response(1);
    a.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    a.request(2, "tools/call", { name: "echo", arguments: { n: 2 } });
    await a.response(2);
    // A string id with an escape: recorded as the client wrote it.
    a.send('{"jsonrpc":"2.0","id":"s-\\u0041","method":"tools/call","params":{"name":"echo","arguments":{}}}');
    await a.response("s-A");
    a.request(4, "ping");
    await a.response(4);
    // An id already in flight: the mux answers the second at once.
    a.request(5, "tools/call", { name: "slow", arguments: { ms: 300 } });
    a.request(5, "tools/call", { name: "echo", arguments: {} });
    await a.next((m) => m.id === 5 && "error" in m);
    await a.next((m) => m.id === 5 && "result" in m);
    a.request(6, "no/such/method");
    await a.response(6);
    a.send('[{"jsonrpc":"2.0","id":7,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}]');
    await a.next((m) => Array.isArray(m.batch));
    a.send("{not json");
    await a.next((m) => m.id === null && "error" in m);
    a.send({ jsonrpc: "1.0", id: 8, method: "tools/list" });
    await a.response(8);
    a.request(9, "tools/call", { name: "progress", arguments: { steps: 2 }, _meta: { progressToken: "tok" } });
    await a.response(9);
    const mark = a.mark();
    a.request(10, "tools/call", { name: "sample", arguments: {} });
    const ask = await a.next((m) => m.method === "sampling/createMessage", 5000, mark);
    a.send({ jsonrpc: "2.0", id: ask.id, result: { role: "assistant", content: { type: "text", text: "ok" } } });
    await a.response(10);
    a.request(11, "tools/call", { name: "echo", arguments: { big: "x".repeat(600) } });
    await a.response(11);
    a.request(12, "logging/setLevel", { level: "info" });
    await a.response(12);
    a.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: 999 } });

    const b = await scope.raw(socket);
    b.send(
      '{"jsonrpc":"2.0","id":"i","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"b\\u00e9ta-host","version":"1"}}}',
    );
    await b.response("i");
    b.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    b.request(1, "tools/call", { name: "echo", arguments: { from: "b" } });
    await b.response(1);
    await a.settle();

    expect(await messages(socket)).toEqual([
      "in request alpha-host@4242/socket initialize 1 168B",
      "out response alpha-host@4242/socket initialize 1 ms 229B",
      "in notification alpha-host@4242/socket notifications/initialized - 54B",
      "in request alpha-host@4242/socket tools/call 2 91B",
      "out response alpha-host@4242/socket tools/call 2 ms 82B",
      'in request alpha-host@4242/socket tools/call "s-\\u0041" 95B',
      'out response alpha-host@4242/socket tools/call "s-\\u0041" ms 84B',
      "in request alpha-host@4242/socket ping 4 40B",
      "out response alpha-host@4242/socket ping 4 ms 36B",
      "in request alpha-host@4242/socket tools/call 5 94B",
      "in request alpha-host@4242/socket tools/call 5 86B",
      "out error alpha-host@4242/socket tools/call 5 ms code=-32600 124B",
      // The first request 5's own answer (the record before matched it by id, and the refused
      // duplicate had taken its place: no method, no duration).
      "out response alpha-host@4242/socket tools/call 5 ms 85B",
      "in request alpha-host@4242/socket no/such/method 6 50B",
      "out error alpha-host@4242/socket no/such/method 6 ms code=-32601 93B",
      "in batch alpha-host@4242/socket - - 104B",
      "out batch alpha-host@4242/socket - - 38B",
      "in other alpha-host@4242/socket - - 9B",
      "out error alpha-host@4242/socket - - code=-32700 107B",
      "in request alpha-host@4242/socket tools/list 8 46B",
      "out error alpha-host@4242/socket tools/list 8 ms code=-32600 115B",
      "in request alpha-host@4242/socket tools/call 9 131B",
      "out notification alpha-host@4242/socket notifications/progress - 107B",
      "out notification alpha-host@4242/socket notifications/progress - 107B",
      "out response alpha-host@4242/socket tools/call 9 ms 86B",
      "in request alpha-host@4242/socket tools/call 10 89B",
      'out request alpha-host@4242/socket sampling/createMessage "mux-1" 157B',
      'in response alpha-host@4242/socket - "mux-1" 98B',
      "out response alpha-host@4242/socket tools/call 10 ms 191B",
      "in request alpha-host@4242/socket tools/call 11 695B",
      "out response alpha-host@4242/socket tools/call 11 ms 688B",
      "in request alpha-host@4242/socket logging/setLevel 12 79B",
      "out response alpha-host@4242/socket logging/setLevel 12 ms 37B",
      "in notification alpha-host@4242/socket notifications/cancelled - 79B",
      'in request béta-host/socket initialize "i" 161B',
      'out response béta-host/socket initialize "i" ms 231B',
      "in notification béta-host/socket notifications/initialized - 54B",
      "in request béta-host/socket tools/call 1 96B",
      "out response béta-host/socket tools/call 1 ms 89B",
      'in request alpha-host@4242/socket ping "settle-N" ?B',
      'out response alpha-host@4242/socket ping "settle-N" ms ?B',
    ]);
  });

  test("probes answered without a child, refused clients, and a workspace's clients", async () => {
    const socket = await serve(["--isolated"]);
    const p = await scope.raw(socket);
    p.request(1, "ping");
    await p.response(1);
    p.request(2, "mcp-mux/status");
    await p.response(2);
    initialize(p, 3, "probe-host");
    await p.response(3);
    const r = await scope.raw(socket);
    r.send({ jsonrpc: "2.0", method: "mcp-mux/hello", params: { env: { NOT_ALLOWED: "x" }, hostPid: 77 } });
    initialize(r, "r1", "refused-host");
    await r.response("r1");
    r.send('[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]');
    await r.next((m) => Array.isArray(m.batch));
    await p.settle();

    const folder = join(scope.dir(), "project");
    mkdirSync(folder);
    const ws = await serve(["--share", "workspace"]);
    const w = await scope.raw(ws);
    w.send({ jsonrpc: "2.0", method: "mcp-mux/hello", params: { workspace: { cwd: folder }, hostPid: 99 } });
    initialize(w, 1, "ws-host");
    await w.response(1);
    w.request(2, "tools/call", { name: "echo", arguments: {} });
    await w.response(2);

    expect([...(await messages(socket)), ...(await messages(ws))]).toEqual([
      "in request probe-host/socket ping 1 40B",
      "out response probe-host/socket ping 1 ms 36B",
      "in request probe-host/socket mcp-mux/status 2 50B",
      "out response probe-host/socket mcp-mux/status 2 ms ?B",
      "in request probe-host/socket initialize 3 155B",
      "out response probe-host/socket initialize 3 ms 229B",
      'in request refused-host@77/socket initialize "r1" 160B',
      'out error refused-host@77/socket initialize "r1" ms code=-32035 188B',
      "in batch refused-host@77/socket - - 83B",
      "out batch refused-host@77/socket - - 373B",
      'in request probe-host/socket ping "settle-N" ?B',
      'out response probe-host/socket ping "settle-N" ms ?B',
      "in request ws-host@99[ws]/socket initialize 1 152B",
      "out response ws-host@99[ws]/socket initialize 1 ms 229B",
      "in request ws-host@99[ws]/socket tools/call 2 86B",
      "out response ws-host@99[ws]/socket tools/call 2 ms 75B",
    ]);
  });
});
