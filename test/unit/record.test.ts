/**
 * The record as the router feeds it, in process: the real `Router`, `MuxClient` and
 * `Recorder` (each client's tap), a fake child and fake transports. The router hands the
 * record what it parsed; an answer carries its request back, so durations and methods need
 * no id matching (and survive what id matching got wrong).
 */

import { describe, expect, test } from "bun:test";
import { type RecordEntry, Recorder } from "../../src/mux/record.ts";
import { connect, makeRouter, ready, session } from "./fakes.ts";

function recorder(over: Partial<ConstructorParameters<typeof Recorder>[0]> = {}): Recorder {
  return new Recorder({
    service: "unit",
    maxEntries: 1000,
    maxBytes: 1 << 20,
    payloads: false,
    redactKeys: [],
    secrets: [],
    ...over,
  });
}

/** The fields of a message entry that do not depend on timing. */
function shape(e: RecordEntry): string {
  const ms = e.ms === undefined ? "" : e.ms >= 0 ? " ms" : " bad-ms";
  return `${e.dir} ${e.kind} ${e.method ?? "-"} ${e.id ?? "-"}${ms}${e.code === undefined ? "" : ` ${e.code}`}`;
}

describe("the record fed by the router", () => {
  test("an answer keeps its request's method and duration when the same id came again meanwhile", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const rec = recorder();
    const a = session(router);
    a.client.tap = rec.tap(a.client);
    a.send({ jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "slow" } });
    a.send({ jsonrpc: "2.0", id: 5, method: "tools/list" });
    child.answer(child.last("tools/call").id, { content: [] });
    expect(rec.entries().map(shape)).toEqual([
      "in request tools/call 5",
      "in request tools/list 5",
      "out error tools/list 5 ms -32600",
      "out response tools/call 5 ms",
    ]);
  });

  test("a request whose id comes after a long params (not at the end) is a request, and its answer is timed", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const rec = recorder();
    const a = session(router);
    a.client.tap = rec.tap(a.client);
    // Neither in the first bytes nor at the end: only a parse finds it.
    a.sendText(`{"method":"tools/call","params":{"name":"x","pad":"${"p".repeat(2000)}"},"id":"late","jsonrpc":"2.0"}`);
    child.answer(child.last("tools/call").id, {});
    expect(rec.entries().map(shape)).toEqual(['in request tools/call "late"', 'out response tools/call "late" ms']);
  });

  test("a hostile id of 10,000 characters is kept cut; the client still gets its exact id back", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const rec = recorder();
    const a = session(router);
    a.client.tap = rec.tap(a.client);
    const id = "i".repeat(10_000);
    a.send({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "x" } });
    child.answer(child.last("tools/call").id, {});
    expect(a.port.messages[0]?.id).toBe(id);
    const shown = `"${"i".repeat(255)}…`;
    expect(rec.entries().map(shape)).toEqual([`in request tools/call ${shown}`, `out response tools/call ${shown} ms`]);
  });

  test("a request held until the child is ready is timed from its arrival", () => {
    const { router, child } = makeRouter();
    const rec = recorder();
    const a = connect(router);
    a.client.tap = rec.tap(a.client);
    a.send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "held-host", version: "1" } },
    });
    expect(rec.entries().map(shape)).toEqual(["in request initialize 1"]);
    ready(router, child);
    const entries = rec.entries();
    expect(entries.map(shape)).toEqual(["in request initialize 1", "out response initialize 1 ms"]);
    expect(entries.every((e) => e.client?.name === "held-host")).toBe(true);
  });

  test("big messages (bytes, answered as views of the child's bytes) are recorded like small ones", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const rec = recorder();
    const a = session(router);
    a.client.tap = rec.tap(a.client);
    const pad = "p".repeat(300 * 1024);
    const line = new TextEncoder().encode(
      `{"jsonrpc":"2.0","id":"big","method":"tools/call","params":{"name":"echo","arguments":{"pad":"${pad}"}}}`,
    );
    router.clientLine(a.client, line);
    const sent = child.last("tools/call");
    router.childBytes(new TextEncoder().encode(`{"jsonrpc":"2.0","id":${sent.id},"result":{"pad":"${pad}"}}`));
    const entries = rec.entries();
    expect(entries.map(shape)).toEqual(['in request tools/call "big"', 'out response tools/call "big" ms']);
    expect(entries[0]?.bytes).toBe(line.length);
    expect(entries[1]?.bytes).toBeGreaterThan(pad.length);
  });

  test("the ring wraps and grows: entries stay in order, the newest kept, followers see what a read sees", () => {
    const rec = recorder({ maxEntries: 700 });
    const client = { id: 1, transport: "unit", clientInfo: { name: "h" }, workspace: undefined };
    const tap = rec.tap(client);
    const followed: RecordEntry[] = [];
    const stop = rec.follow((e) => followed.push(e));
    for (let i = 0; i < 2500; i++) {
      if (i % 7 === 0) rec.stderr(`line ${i}`);
      tap.sent(`{"jsonrpc":"2.0","method":"notifications/progress","params":{"i":${i}}}`, "progress", undefined);
      expect(rec.size).toBeLessThanOrEqual(700);
    }
    stop();
    const kept = rec.entries();
    expect(kept).toHaveLength(700);
    expect(kept.map((e) => e.seq)).toEqual(Array.from({ length: 700 }, (_, k) => (followed.at(-700)?.seq ?? 0) + k));
    expect(kept).toEqual(followed.slice(-700));
    expect(kept.at(-1)).toMatchObject({ type: "message", dir: "out", kind: "notification", bytes: expect.any(Number) });
    expect(kept.find((e) => e.type === "stderr")).toMatchObject({ text: expect.stringMatching(/^line \d+$/) });
    // Bytes: a tight cap holds fewer, and never more than it says.
    const small = recorder({ maxEntries: 100_000, maxBytes: 8192 });
    const t = small.tap(client);
    for (let i = 0; i < 5000; i++) {
      t.sent(`{"jsonrpc":"2.0","method":"notifications/message","params":{"i":${i}}}`, "log", undefined);
      expect(small.bytes).toBeLessThanOrEqual(8192);
    }
    expect(small.size).toBeLessThan(100);
    expect(small.entries().at(-1)?.seq).toBe(5000);
  });
});
