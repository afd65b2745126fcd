/**
 * Backpressure and memory through the compiled daemon: nothing a client sends or fails to
 * read piles up in the daemon, a slow reader is never cut off, a stuck one is, and big
 * messages cost a small multiple of their size. Memory is read from /proc (Linux only);
 * the bounds are loose on purpose, the real figures are in the benchmark report.
 */

import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Socket } from "bun";
import type { MuxOptions } from "../../src/index.ts";
import {
  fakeServer,
  type Json,
  type RawClient,
  reportFigure,
  type Target,
  testScope,
  textOf,
  WriteQueue,
  waitFor,
} from "../helpers.ts";

const scope = testScope("bin");
const { dir } = scope;
const MiB = 1_048_576;
const linux = existsSync("/proc/self/status");
if (!linux) console.log("skipping memory bounds: no /proc on this system");

/** Resident and peak resident memory of a process, in MiB. */
function memory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

const start = async (extra: Partial<MuxOptions> = {}): Promise<Target> => {
  const d = dir();
  return scope.target({ socket: join(d, "b.sock"), ...fakeServer(d), maxActiveClients: 20, ...extra });
};
const client = async (socket: string): Promise<RawClient> => {
  const c = await scope.raw(socket);
  await c.handshake();
  return c;
};

/** A client that sends but reads nothing (its socket is paused from the start). */
async function deafClient(path: string): Promise<{ socket: Socket; closed: () => boolean; send(line: string): void }> {
  let closed = false;
  const out = new WriteQueue((b) => socket.write(b));
  const socket: Socket = await Bun.connect({
    unix: path,
    socket: {
      open(s) {
        s.pause();
      },
      data() {},
      drain() {
        out.drain();
      },
      close() {
        closed = true;
      },
      error() {},
    },
  });
  return {
    socket,
    closed: () => closed,
    send(line) {
      out.send(new TextEncoder().encode(`${line}\n`));
    },
  };
}

describe.skipIf(!linux)("inbound backpressure", () => {
  test("requests sent faster than the server reads wait in the client, not in the daemon", async () => {
    const t = await start();
    const pid = t.proc?.pid as number;
    const c = await client(t.socket);
    c.request("pause", "tools/call", { name: "pause-reading", arguments: { ms: 2500 } });
    await c.response("pause");
    const before = memory(pid);
    const payload = "x".repeat(100 * 1024);
    const count = 1000; // 100 MiB of requests while the server reads nothing
    for (let i = 0; i < count; i++) c.request(i, "tools/call", { name: "echo", arguments: { i, payload } });
    await Bun.sleep(2000);
    const during = memory(pid);
    for (let i = 0; i < count; i++) await c.response(i, 60_000);
    const answered = c.received.filter((m) => typeof m.id === "number");
    expect(answered).toHaveLength(count);
    expect(new Set(answered.map((m) => m.id)).size).toBe(count);
    reportFigure("flood", { requestsMb: 100, daemonGrowthMb: Math.round(during.peak - before.rss) });
    // Unbounded buffering held ~2.7x of 100 MiB here; now at most the in-flight cap's worth.
    expect(during.peak - before.rss).toBeLessThan(64);
  });

  test("a client that reads nothing is not read either, others are unaffected, and it is cut off once stuck", async () => {
    const t = await start({ clientStallTimeoutMs: 1500 });
    const pid = t.proc?.pid as number;
    const other = await client(t.socket);
    const deaf = await deafClient(t.socket);
    deaf.send(
      JSON.stringify({
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "deaf", version: "1" } },
      }),
    );
    const before = memory(pid);
    const payload = "y".repeat(10 * 1024);
    for (let i = 1; i <= 5000; i++)
      deaf.send(
        JSON.stringify({
          jsonrpc: "2.0",
          id: i,
          method: "tools/call",
          params: { name: "echo", arguments: { payload } },
        }),
      );
    await Bun.sleep(500);
    other.request("alive", "tools/call", { name: "echo", arguments: { still: "here" } });
    expect(JSON.parse(textOf((await other.response("alive", 5000)).result))).toEqual({ still: "here" });
    const during = memory(pid);
    reportFigure("deaf", { requestsMb: 50, daemonGrowthMb: Math.round(during.peak - before.rss) });
    expect(during.peak - before.rss).toBeLessThan(64);
    await waitFor(() => deaf.closed(), 10_000, "the stuck client to be disconnected");
    other.request("after", "ping");
    expect((await other.response("after")).result).toEqual({});
  });

  test("a slow reader that keeps reading is never cut off, whatever its backlog", async () => {
    const t = await start({ clientStallTimeoutMs: 1000 });
    const c = await scope.raw(t.socket);
    await c.handshake();
    let got = 0;
    let closed = false;
    const socket = await Bun.connect({
      unix: t.socket,
      socket: {
        data(_s, chunk) {
          for (const b of chunk) if (b === 10) got++;
        },
        close() {
          closed = true;
        },
      },
    });
    socket.write(
      `${JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "slow", version: "1" } } })}\n`,
    );
    for (let i = 1; i <= 100; i++)
      socket.write(
        `${JSON.stringify({ jsonrpc: "2.0", id: i, method: "tools/call", params: { name: "big", arguments: { bytes: 200 * 1024 } } })}\n`,
      );
    // Read in short bursts: 20 MiB of answers trickle out over several stall periods.
    const until = Date.now() + 30_000;
    while (got < 101 && Date.now() < until && !closed) {
      socket.pause();
      await Bun.sleep(300);
      socket.resume();
      await Bun.sleep(15);
    }
    expect(closed).toBe(false);
    expect(got).toBe(101);
    socket.end();
  }, 60_000);
});

describe.skipIf(!linux)("big messages", () => {
  test("three 50 MiB round trips: a small multiple of the message at the peak, and no growth run to run", async () => {
    const t = await start({ maxRequestBytes: 64 * MiB });
    const pid = t.proc?.pid as number;
    const c = await client(t.socket);
    const base = memory(pid).rss;
    const after: number[] = [];
    for (let i = 0; i < 3; i++) {
      c.request(i, "tools/call", { name: "echo", arguments: { data: "z".repeat(50 * MiB) } });
      const r = await c.response(i, 60_000);
      expect(textOf(r.result).length).toBe(50 * MiB + 11);
      c.received.length = 0;
      c.rawLines.length = 0;
      await Bun.sleep(200);
      after.push(memory(pid).rss);
    }
    const peak = memory(pid).peak;
    console.log(
      `50 MiB echo x3: base ${base.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB, after each ${after.map((a) => a.toFixed(0)).join("/")} MiB`,
    );
    reportFigure("echo50", {
      baseRssMb: Math.round(base),
      peakRssMb: Math.round(peak),
      afterRssMb: after.map((x) => x.toFixed(0)).join("/"),
    });
    expect(peak - base).toBeLessThan(6 * 50);
    expect((after[2] as number) - (after[0] as number)).toBeLessThan(32);
  }, 60_000);

  test("a message over the limit is refused with -32032 and costs no more than the limit", async () => {
    const t = await start({ maxRequestBytes: 1 * MiB });
    const c = await client(t.socket);
    c.request("big", "tools/call", { name: "echo", arguments: { data: "q".repeat(20 * MiB) } });
    const r = await c.response("big", 30_000);
    expect((r.error as Json).code).toBe(-32032);
    expect((r.error as Json).data).toMatchObject({ limit: MiB });
  });
});
