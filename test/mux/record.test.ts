import { describe, expect, test } from "bun:test";
import { Recorder, summarise } from "../../src/mux/record.ts";

const client = { id: 1, transport: "socket", clientInfo: { name: "host-a" }, workspace: undefined };

function recorder(over: Partial<ConstructorParameters<typeof Recorder>[0]> = {}): Recorder {
  return new Recorder({
    service: "s",
    maxEntries: 1000,
    maxBytes: 1 << 20,
    payloads: false,
    redactKeys: [],
    secrets: [],
    ...over,
  });
}

describe("record", () => {
  test("summaries from the first bytes: kind, method, id, error code; the id of a big answer from its end", () => {
    expect(summarise('{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"id":9,"method":"x"}}')).toMatchObject({
      kind: "request",
      method: "tools/call",
      id: "3",
    });
    expect(summarise('{"jsonrpc":"2.0","method":"notifications/progress","params":{"id":1}}')).toMatchObject({
      kind: "notification",
      method: "notifications/progress",
    });
    expect(
      summarise('{"jsonrpc":"2.0","id":"a","error":{"code":-32601,"data":{"code":5},"message":"x"}}'),
    ).toMatchObject({
      kind: "error",
      id: '"a"',
      code: -32601,
    });
    const big = `{"result":{"content":[{"type":"text","text":"${"x".repeat(100_000)}","id":4}]},"jsonrpc":"2.0","id":12}`;
    expect(summarise(big, true)).toMatchObject({ kind: "response", id: "12", bytes: big.length });
  });

  test("durations: a response is matched to its request", () => {
    const r = recorder();
    r.inbound(client, '{"jsonrpc":"2.0","id":5,"method":"tools/call"}');
    r.outbound(client, '{"jsonrpc":"2.0","id":5,"result":{}}', "response");
    const [, answer] = r.entries();
    expect(answer).toMatchObject({ dir: "out", method: "tools/call", id: "5", client: { name: "host-a" } });
    expect(typeof answer?.ms).toBe("number");
  });

  test("never exceeds its caps under a flood (entries and bytes), and keeps the newest", () => {
    const r = recorder({ maxEntries: 500, maxBytes: 64 * 1024, payloads: true });
    for (let i = 0; i < 50_000; i++) {
      r.inbound(
        client,
        JSON.stringify({ jsonrpc: "2.0", id: i, method: "tools/call", params: { pad: "p".repeat(i % 700) } }),
      );
      expect(r.size).toBeLessThanOrEqual(500);
      expect(r.bytes).toBeLessThanOrEqual(64 * 1024);
    }
    const kept = r.entries();
    expect(kept.at(-1)?.id).toBe("49999");
    expect(kept.length).toBe(r.size);
  });

  test("an entry bigger than the whole record keeps its summary only", () => {
    const r = recorder({ maxBytes: 4096, payloads: true });
    r.inbound(client, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "x", params: { pad: "p".repeat(10_000) } }));
    expect(r.entries()[0]?.payload).toBeUndefined();
    expect(r.entries()[0]?.method).toBe("x");
  });

  test("payloads redact credential keys, marked keys, env values and bearer tokens", () => {
    const r = recorder({ payloads: true, redactKeys: ["projectCode"], secrets: ["s3cr3t-value"] });
    r.inbound(
      client,
      JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: {
          arguments: { password: "pw", projectCode: "PRJ", q: "uses s3cr3t-value here", auth: "Bearer abc.def" },
          env: { HOME: "/home/x" },
        },
      }),
    );
    const text = JSON.stringify(r.entries());
    for (const s of ['pw"', "PRJ", "s3cr3t-value", "abc.def", "/home/x"]) expect(text).not.toContain(s);
    expect(text).toContain("uses [redacted] here");
  });

  test("off (max entries 0): nothing is recorded", () => {
    const r = recorder({ maxEntries: 0 });
    r.inbound(client, '{"jsonrpc":"2.0","id":5,"method":"tools/call"}');
    r.stderr("x");
    expect(r.size).toBe(0);
    expect(r.enabled).toBe(false);
  });
});
