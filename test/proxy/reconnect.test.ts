/**
 * runProxy across a daemon that goes away with the proxy's writes half done, against two
 * stand-in daemons on a real Unix socket (the first stops reading, then drops the connection;
 * the second answers everything): every id is answered exactly once, nothing the host was told
 * failed reaches the second daemon, and the second daemon never sees half a line.
 */

import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "bun";
import { runProxy } from "../../src/proxy/proxy.ts";
import { waitFor } from "../helpers.ts";

type Json = Record<string, unknown>;
const dir = mkdtempSync(join(tmpdir(), "mux-proxy-reconnect-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const INIT_RESULT = {
  protocolVersion: "2025-11-25",
  capabilities: { tools: {} },
  serverInfo: { name: "s", version: "1" },
};

/** A stand-in daemon: records the bytes it reads; `onLine` may answer. */
function daemon(path: string, onLine: (line: string, sock: Socket<undefined>) => void) {
  const state = { bytes: "", sock: undefined as Socket<undefined> | undefined };
  const server = Bun.listen<undefined>({
    unix: path,
    socket: {
      open(sock) {
        state.sock = sock;
      },
      data(sock, chunk) {
        const text = new TextDecoder().decode(chunk);
        const from = state.bytes.length;
        state.bytes += text;
        let start = state.bytes.lastIndexOf("\n", from - 1) + 1;
        for (let nl = state.bytes.indexOf("\n", from); nl >= 0; nl = state.bytes.indexOf("\n", start)) {
          onLine(state.bytes.slice(start, nl), sock);
          start = nl + 1;
        }
      },
    },
  });
  return { state, server };
}

test("a daemon gone mid-write: one answer per id, -32030 for what it was sent, -32037 for the cut line, the rest to the next daemon whole", async () => {
  const path = join(dir, "d.sock");
  const answer = (sock: Socket<undefined>, id: unknown, result: unknown) =>
    sock.write(`${JSON.stringify({ jsonrpc: "2.0", id, result })}\n`);
  let paused = false;
  // The first daemon answers initialize, then reads ~64 KiB of calls and stops reading.
  const first = daemon(path, (line, sock) => {
    const msg = JSON.parse(line) as Json;
    if (msg.method === "initialize") answer(sock, msg.id, INIT_RESULT);
    if (first.state.bytes.length > 64 * 1024 && !paused) {
      paused = true;
      sock.pause();
    }
  });

  let feed!: ReadableStreamDefaultController<Uint8Array>;
  const stdin = new ReadableStream<Uint8Array>({
    start(c) {
      feed = c;
    },
  });
  const out: string[] = [];
  let carry = "";
  const stdout = {
    write(chunk: Uint8Array | string) {
      carry += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
      const lines = carry.split("\n");
      carry = lines.pop() as string;
      out.push(...lines);
    },
  };
  const abort = new AbortController();
  const done = runProxy({ socket: path, stdin, stdout, signal: abort.signal, log: () => {} });
  const send = (value: Json) => feed.enqueue(new TextEncoder().encode(`${JSON.stringify(value)}\n`));
  send({
    jsonrpc: "2.0",
    id: "init",
    method: "initialize",
    params: { protocolVersion: "2025-11-25", capabilities: {} },
  });
  await waitFor(() => out.some((l) => l.includes('"init"')), 5000, "the initialize answer");
  send({ jsonrpc: "2.0", method: "notifications/initialized" });
  const ids = Array.from({ length: 400 }, (_, i) => `c${i}`);
  const pad = "p".repeat(3001); // odd sizes: the socket's take rarely ends on a newline
  feed.enqueue(
    new TextEncoder().encode(
      ids
        .map((id) => `${JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "x", pad } })}\n`)
        .join(""),
    ),
  );
  // The socket fills (the proxy holds the rest of that one big chunk), then the daemon goes away.
  await waitFor(() => paused, 10_000, "the first daemon to stop reading");
  await Bun.sleep(0);
  const readByFirst = first.state.bytes;
  first.state.sock?.terminate();
  first.server.stop(true);
  rmSync(path, { force: true });

  // The next daemon answers the replayed initialize and every call.
  const second = daemon(path, (line, sock) => {
    const msg = JSON.parse(line) as Json; // throws (fails the test) on half a line
    if (msg.id !== undefined) answer(sock, msg.id, msg.method === "initialize" ? INIT_RESULT : { ok: msg.id });
  });
  await waitFor(() => ids.every((id) => out.some((l) => l.includes(`"id":"${id}"`))), 20_000, "every id answered");
  const settle = { jsonrpc: "2.0", id: "settle", method: "ping" };
  send(settle);
  await waitFor(() => out.some((l) => l.includes('"settle"')), 5000, "the settle answer");

  const answers = new Map<string, Json[]>();
  for (const l of out) {
    const m = JSON.parse(l) as Json;
    answers.set(String(m.id), [...(answers.get(String(m.id)) ?? []), m]);
  }
  const sentToSecond = second.state.bytes
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Json);
  const secondIds = new Set(sentToSecond.map((m) => String(m.id)));
  const firstWhole = new Set(
    readByFirst
      .split("\n")
      .slice(0, -1)
      .map((l) => String((JSON.parse(l) as Json).id)),
  );
  const outcome = { mayHaveRun: 0, notSent: 0, second: 0 };
  for (const id of ids) {
    const got = answers.get(id) ?? [];
    expect(`${id}: ${got.length}`).toBe(`${id}: 1`);
    const code = ((got[0] as Json).error as Json | undefined)?.code;
    if (code === -32030) outcome.mayHaveRun++;
    else if (code === -32037) outcome.notSent++;
    else {
      expect((got[0] as Json).result).toEqual({ ok: id });
      outcome.second++;
    }
    // Told it failed: never sent to the next daemon. Read whole by the first: never sent again.
    if (code !== undefined) expect(secondIds.has(id)).toBe(false);
    if (firstWhole.has(id)) expect(code).toBe(-32030);
  }
  // The scenario happened: some calls were sent, one line was cut, the rest went to the next daemon.
  expect(outcome.mayHaveRun).toBeGreaterThan(0);
  expect(outcome.second).toBeGreaterThan(0);
  expect(outcome.notSent).toBe(1);
  // The next daemon got the replay first, then whole lines of the host's only.
  expect(sentToSecond[0]?.method).toBe("initialize");
  expect(sentToSecond[1]?.method).toBe("notifications/initialized");
  abort.abort();
  feed.close();
  await done;
  second.server.stop(true);
}, 30_000);
