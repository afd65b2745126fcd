/**
 * The proxy's session bookkeeping on the lines it forwards: the quick byte paths for the
 * layouts SDKs write, the general path for everything else, and line watching across chunks.
 */

import { describe, expect, test } from "bun:test";
import { HostSession } from "../../src/proxy/session.ts";
import { createLineWatcher, FULL_LINE_BYTES, type SeenLine } from "../../src/proxy/watch.ts";

const b = (s: string) => new TextEncoder().encode(s);

/** A session fed like the proxy feeds it: through two watchers with the quick paths. */
function fed() {
  const s = new HostSession();
  const quick = { host: 0, daemon: 0 };
  const host = createLineWatcher(
    (l) => s.hostLine(l),
    (c, a, e, end) => s.quickHostLine(c, a, e, end) && ++quick.host > 0,
  );
  const daemon = createLineWatcher(
    (l) => s.daemonLine(l),
    (c, a, e) => s.quickDaemonLine(c, a, e) && ++quick.daemon > 0,
  );
  const init = { protocolVersion: "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "s", version: "1" } };
  host.push(b(`${JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { capabilities: {} } })}\n`));
  daemon.push(b(`${JSON.stringify({ jsonrpc: "2.0", id: 0, result: init })}\n`));
  return { s, host: (t: string) => host.push(b(`${t}\n`)), daemon: (t: string) => daemon.push(b(`${t}\n`)), quick };
}

describe("in-flight requests", () => {
  test("SDK layouts take the quick path both ways; answers clear them", () => {
    const f = fed();
    expect(f.s.started).toBe(true);
    f.host('{"method":"tools/call","params":{"name":"echo","arguments":{"id":1}},"jsonrpc":"2.0","id":7}');
    f.host('{"method":"tools/list","jsonrpc":"2.0","id":8}');
    expect([...f.s.inflight.keys()].sort()).toEqual(["n7", "n8"]);
    f.daemon('{"result":{"content":[]},"jsonrpc":"2.0","id":7}'); // TypeScript SDK layout
    f.daemon('{"jsonrpc":"2.0","id":8,"result":{"tools":[]}}'); // jsonrpc-first layout
    expect(f.s.inflight.size).toBe(0);
    expect(f.quick).toEqual({ host: 2, daemon: 2 });
  });

  test("other layouts, string ids, errors and the server's own messages take the general path correctly", () => {
    const f = fed();
    f.host('{"jsonrpc":"2.0","id":"a\\"b","method":"tools/call","params":{}}');
    f.host('{"id":-3,"jsonrpc":"2.0","method":"ping"}');
    f.host('  {"method":"resources/read","params":{"uri":"x"},"jsonrpc":"2.0","id":9}');
    expect([...f.s.inflight.keys()].sort()).toEqual(["n-3", "n9", 'sa"b'].sort());
    // The server asks the host something: not an answer to anything of the host's.
    f.daemon('{"method":"sampling/createMessage","params":{},"jsonrpc":"2.0","id":9}');
    f.daemon('{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1}}');
    expect(f.s.inflight.size).toBe(3);
    f.daemon('{"jsonrpc":"2.0","id":"a\\"b","error":{"code":-1,"message":"x"}}');
    f.daemon('{"id":-3,"result":{}}');
    f.daemon('[{"jsonrpc":"2.0","id":9,"result":{}}]');
    expect(f.s.inflight.size).toBe(0);
  });

  test("the kept methods are read whole: level, subscriptions and initialized are replayed", () => {
    const f = fed();
    f.host('{"method":"notifications/initialized","jsonrpc":"2.0"}');
    f.host('{"method":"logging/setLevel","params":{"level":"debug"},"jsonrpc":"2.0","id":2}');
    f.host('{"method":"resources/subscribe","params":{"uri":"file:///a"},"jsonrpc":"2.0","id":3}');
    f.host('{"method":"resources/subscribe","params":{"uri":"file:///b"},"jsonrpc":"2.0","id":4}');
    f.host('{"method":"resources/unsubscribe","params":{"uri":"file:///a"},"jsonrpc":"2.0","id":5}');
    const plan = f.s.replay();
    expect(plan.initialize?.line).toContain('"method":"initialize"');
    expect(plan.after.map((a) => a.line)).toEqual([
      '{"jsonrpc":"2.0","method":"notifications/initialized"}',
      expect.stringContaining('"logging/setLevel","params":{"level":"debug"}'),
      expect.stringContaining('"resources/subscribe","params":{"uri":"file:///b"}'),
    ]);
    f.s.sent(Number.MAX_SAFE_INTEGER); // the proxy handed them all to the daemon
    expect(
      f.s
        .abandon("gone")
        .map((l) => JSON.parse(l).id)
        .sort(),
    ).toEqual([2, 3, 4, 5]);
  });
});

describe("what became of a request's line decides its answer when the daemon goes away", () => {
  test("sent whole: -32030 (may have run); dropped: -32037 (did not run); not sent yet: kept for the next daemon", () => {
    const s = new HostSession();
    const lines = [
      '{"method":"tools/call","params":{},"jsonrpc":"2.0","id":1}', // quick path
      '{"jsonrpc":"2.0","id":"two","method":"tools/call","params":{}}', // general path
      '[{"jsonrpc":"2.0","id":3,"method":"ping"},{"jsonrpc":"2.0","id":4,"method":"ping"}]', // a batch
      '{"method":"tools/call","params":{},"jsonrpc":"2.0","id":5}',
    ].map((l) => `${l}\n`);
    const ends: number[] = [];
    let at = 0;
    for (const l of lines) {
      at += l.length;
      ends.push(at);
    }
    const w = createLineWatcher(
      (l) => s.hostLine(l),
      (c, a, e, end) => s.quickHostLine(c, a, e, end),
    );
    w.push(b(lines.join("")));
    expect(s.inflight.size).toBe(5);
    s.sent((ends[0] as number) + 10); // the first line whole, part of the second
    const gone = s.abandon("gone").map((l) => JSON.parse(l));
    expect(gone.map((m) => [m.id, m.error.code])).toEqual([[1, -32030]]);
    expect([...s.inflight.keys()].sort()).toEqual(["n3", "n4", "n5", "stwo"]);
    // The rest of the second line is dropped (its start went to the daemon that went away).
    const dropped = s.dropped(ends[1] as number, "not sent").map((l) => JSON.parse(l));
    expect(dropped.map((m) => [m.id, m.error.code])).toEqual([["two", -32037]]);
    expect(s.dropped(ends[1] as number, "again")).toEqual([]);
    // The next daemon gets the batch, then goes away before the last line is sent whole.
    s.sent(ends[2] as number);
    const second = s.abandon("gone again").map((l) => JSON.parse(l));
    expect(second.map((m) => [m.id, m.error.code]).sort()).toEqual([
      [3, -32030],
      [4, -32030],
    ]);
    expect([...s.inflight.keys()]).toEqual(["n5"]);
    s.sent(ends[3] as number);
    expect(s.abandon("gone").map((l) => JSON.parse(l).id)).toEqual([5]);
    expect(s.inflight.size).toBe(0);
  });
});

describe("line watcher", () => {
  const watch = () => {
    const seen: SeenLine[] = [];
    return { w: createLineWatcher((l) => seen.push(l)), seen };
  };

  test("lines in one chunk, across chunks, with CRLF; empty lines are skipped", () => {
    const { w, seen } = watch();
    w.push(b('{"a":1}\n{"b":'));
    const split = b("2}\r\n\n");
    w.push(split);
    w.push(b('{"c":3}\n'));
    expect(seen.map((s) => s.text)).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
    // Where each line ends in the stream, newline included: 8, then 8 + 7 + 2 (CRLF), then + 1 (empty) + 8.
    expect(seen.map((s) => s.end)).toEqual([8, 17, 26]);
    expect(w.pendingBytes).toBe(0);
  });

  test("a big line is reported by its ends only", () => {
    const { w, seen } = watch();
    const big = `{"jsonrpc":"2.0","id":7,"result":"${"z".repeat(FULL_LINE_BYTES * 2)}"}`;
    const bytes = b(`${big}\n`);
    for (let at = 0; at < bytes.length; at += 10_000) w.push(bytes.subarray(at, at + 10_000));
    expect(seen).toHaveLength(1);
    expect(seen[0]?.text).toBeUndefined();
    expect(seen[0]?.size).toBe(big.length);
    expect(seen[0]?.head.startsWith('{"jsonrpc":"2.0","id":7')).toBe(true);
    expect(seen[0]?.tail.endsWith('zz"}')).toBe(true);
  });
});
