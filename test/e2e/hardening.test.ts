/**
 * Hostile and careless input (issue: no line, client or neighbour can freeze or cross-wire
 * the mux), each through the compiled `dist/mux` with raw socket clients.
 */

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { MuxOptions } from "../../src/index.ts";
import { fakeServer, type Json, type RawClient, recorded, type Target, testScope, textOf } from "../helpers.ts";

const scope = testScope("bin");
const { dir } = scope;
const use = (options: MuxOptions): Promise<Target> => scope.target(options);
const client = async (socket: string): Promise<RawClient> => {
  const c = await scope.raw(socket);
  await c.handshake();
  return c;
};
const fake = async (extra: Partial<MuxOptions> = {}) => {
  const d = dir();
  const t = await use({ socket: join(d, "h.sock"), ...fakeServer(d), maxActiveClients: 20, ...extra });
  return { d, t };
};
const echo = (c: RawClient, id: unknown, args: Json = { ok: 1 }): void =>
  c.request(id, "tools/call", { name: "echo", arguments: args });

describe("one line cannot freeze the daemon", () => {
  test("200 KB of nested arrays is answered at once while another client keeps working", async () => {
    const { t } = await fake();
    const attacker = await client(t.socket);
    const other = await client(t.socket);
    const depth = 100_000;
    const from = attacker.mark();
    attacker.send(`${"[".repeat(depth)}${"]".repeat(depth)}`);
    const started = performance.now();
    echo(other, 1);
    expect(JSON.parse(textOf((await other.response(1, 20_000)).result))).toEqual({ ok: 1 });
    const answer = await attacker.next((m) => "batch" in m, 20_000, from);
    // Generous bound: the old daemon took more than 90 s here; a fixed one takes milliseconds.
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(answer.batch).toEqual([
      { jsonrpc: "2.0", id: null, error: expect.objectContaining({ code: -32600 }) as unknown },
    ]);
    // Deep nesting inside params is the server's business: forwarded, answered.
    const deep = JSON.parse(`${"[".repeat(5000)}1${"]".repeat(5000)}`) as unknown;
    echo(attacker, 2, { deep });
    expect(textOf((await attacker.response(2, 20_000)).result).length).toBeGreaterThan(10_000);
  });
});

describe("batches", () => {
  test("a batch element that is not an object gets its own -32600 inside the batch answer", async () => {
    const { t } = await fake();
    const c = await client(t.socket);
    c.send('[{"jsonrpc":"2.0","id":1,"method":"ping"},[],42,{"jsonrpc":"2.0","id":2,"method":"ping"}]');
    const answer = (await c.next((m) => "batch" in m)).batch as Json[];
    expect(answer).toHaveLength(4);
    expect(answer.find((a) => a.id === 1)).toMatchObject({ result: {} });
    expect(answer.find((a) => a.id === 2)).toMatchObject({ result: {} });
    expect(answer.filter((a) => a.id === null && (a.error as Json).code === -32600)).toHaveLength(2);
  });

  test("a 1,000-element batch is answered as one array, every element once", async () => {
    const { t } = await fake();
    const c = await client(t.socket);
    const items = Array.from({ length: 1000 }, (_, i) =>
      i % 3 === 2
        ? { jsonrpc: "2.0", method: "notifications/progress", params: {} }
        : { jsonrpc: "2.0", id: `b${i}`, method: "tools/call", params: { name: "echo", arguments: { i } } },
    );
    c.send(JSON.stringify(items));
    const answer = (await c.next((m) => "batch" in m, 30_000)).batch as Json[];
    const expected = items.filter((i) => "id" in i).map((i) => i.id);
    expect(answer.map((a) => a.id).sort()).toEqual([...expected].sort());
  });
});

describe("ids", () => {
  test("a request with a duplicate id key is refused and never reaches the server", async () => {
    const { d, t } = await fake();
    const c = await client(t.socket);
    c.send('{"jsonrpc":"2.0","id":"a1","id":22,"method":"tools/call","params":{"name":"echo","arguments":{}}}');
    c.send('{"jsonrpc":"2.0","id":"a2","\\u0069d":23,"method":"tools/call","params":{"name":"echo","arguments":{}}}');
    c.send(
      '{"jsonrpc":"2.0","id":"a3","method":"tools/call","params":{"name":"echo","_meta":{"progressToken":1,"progressToken":2}}}',
    );
    // The top-level id is ambiguous in the first two, so the answer has id null; the third has a clear id.
    const third = await c.response("a3");
    expect((third.error as Json).code).toBe(-32600);
    await c.settle(); // a ping through the child: anything forwarded before it is recorded
    const refused = c.received.filter((m) => m.id === null && "error" in m);
    expect(refused).toHaveLength(2);
    expect(refused.every((r) => (r.error as Json).code === -32600)).toBe(true);
    expect(recorded(d).filter((m) => m.method === "tools/call")).toHaveLength(0);
  });

  test("duplicate keys cannot answer another client's request", async () => {
    const { t } = await fake();
    const victim = await client(t.socket);
    const attacker = await client(t.socket);
    victim.request("v", "tools/call", { name: "slow", arguments: { ms: 1500, who: "victim" } });
    await Bun.sleep(100);
    for (let n = 1; n <= 50; n++)
      attacker.send(
        `{"jsonrpc":"2.0","id":"x${n}","id":${n},"method":"tools/call","params":{"name":"echo","arguments":{"who":"attacker"}}}`,
      );
    const answer = await victim.response("v", 10_000);
    expect(JSON.parse(textOf(answer.result))).toEqual({ ms: 1500, who: "victim" });
  });

  test("integer ids beyond 2^53 stay distinct and come back byte-identical", async () => {
    const { t } = await fake();
    const c = await client(t.socket);
    c.send(
      '{"jsonrpc":"2.0","id":9007199254740993,"method":"tools/call","params":{"name":"slow","arguments":{"ms":200}}}',
    );
    c.send(
      '{"jsonrpc":"2.0","id":9007199254740992,"method":"tools/call","params":{"name":"slow","arguments":{"ms":200}}}',
    );
    c.send('{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}');
    const deadline = Date.now() + 10_000;
    while (c.rawLines.filter((l) => l.includes('"result"')).length < 4 && Date.now() < deadline) await Bun.sleep(20);
    const lines = c.rawLines.filter((l) => l.includes('"result"') && !l.includes('"init"'));
    expect(lines.some((l) => l.includes('"id":9007199254740993'))).toBe(true);
    expect(lines.some((l) => l.includes('"id":9007199254740992'))).toBe(true);
    expect(lines.some((l) => l.includes('"id":123456789012345678901234567890'))).toBe(true);
    expect(c.rawLines.some((l) => l.includes("already used"))).toBe(false);
  });
});
