/** `parseMessage`, `parseMessageBytes` and the byte validator (`scanJsonBytes`), in process. */

import { describe, expect, test } from "bun:test";
import { decodeSpan, scanJsonBytes } from "../../src/protocol/json-bytes.ts";
import { parseMessage, parseMessageBytes } from "../../src/protocol/message.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe("parseMessage", () => {
  test("classifies each kind of line", () => {
    const kinds = [
      '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
      '{"jsonrpc":"2.0","method":"notifications/initialized"}',
      '{"jsonrpc":"2.0","id":1,"result":{}}',
      '{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"x"}}',
      '[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"b"}]',
      '{"jsonrpc":"1.0","id":1,"method":"a"}',
      '{"jsonrpc":"2.0","id":1.5,"method":"a"}',
      '{"jsonrpc":"2.0","id":1,"method":"a"',
    ].map((l) => parseMessage(l).kind);
    expect(kinds).toEqual([
      "request",
      "notification",
      "response",
      "response",
      "batch",
      "invalid",
      "invalid",
      "parse-error",
    ]);
  });

  test('ids keep their exact text; 1 and "1" are different keys; big integers stay exact', () => {
    const a = parseMessage('{"jsonrpc":"2.0","id":1,"method":"m"}');
    const b = parseMessage('{"jsonrpc":"2.0","id":"1","method":"m"}');
    const big = parseMessage('{"jsonrpc":"2.0","id":12345678901234567890,"method":"m"}');
    const bigger = parseMessage('{"jsonrpc":"2.0","id":12345678901234567891,"method":"m"}');
    if (a.kind !== "request" || b.kind !== "request" || big.kind !== "request" || bigger.kind !== "request")
      throw new Error("not requests");
    expect(a.key).not.toBe(b.key);
    expect(big.rawId).toBe("12345678901234567890");
    expect(big.key).not.toBe(bigger.key);
    const escaped = parseMessage('{"jsonrpc":"2.0","id":"\\u00e9","method":"m"}');
    expect(escaped.kind === "request" && escaped.rawId).toBe('"\\u00e9"');
  });

  test("the progress token's span is found; an invalid request keeps a readable id to answer", () => {
    const text = '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"_meta":{"progressToken":"p"}}}';
    const m = parseMessage(text);
    expect(m.kind === "request" && m.progressSpan && text.slice(...m.progressSpan)).toBe('"p"');
    const bad = parseMessage('{"jsonrpc":"2.0","id":4,"method":5}');
    expect(bad).toMatchObject({ kind: "invalid", rawId: "4" });
  });
});

describe("parseMessageBytes agrees with parseMessage", () => {
  const lines = [
    '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":7}}}',
    '{"jsonrpc":"2.0","id":"a\\"b","method":"m"}',
    '{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}',
    '{"jsonrpc":"2.0","id":1,"result":{"ok":true}}',
    '{"jsonrpc":"1.0","id":1,"method":"a"}',
    '{"jsonrpc":"2.0","id":1,"method":"a","params":3}',
    '{"jsonrpc":"2.0","id":1,"method":"a"',
    '{"jsonrpc":"2.0","id":1,"id":2,"method":"a"}',
  ];
  for (const line of lines) {
    test(line, () => {
      const t = parseMessage(line);
      const b = parseMessageBytes(bytes(line));
      expect(b.kind).toBe(t.kind);
      if (t.kind === "request" && b.kind === "request") {
        expect([b.method, b.rawId, b.key]).toEqual([t.method, t.rawId, t.key]);
        expect(decodeSpan(b.bytes as Uint8Array, b.idSpan)).toBe(t.rawId);
        if (t.progressSpan) expect(decodeSpan(b.bytes as Uint8Array, b.progressSpan as [number, number])).toBe("7");
      }
      if (t.kind === "invalid" && b.kind === "invalid") expect(b.rawId).toBe(t.rawId);
    });
  }
});

describe("scanJsonBytes", () => {
  test("valid JSON: top members with byte spans (multi-byte text before them)", () => {
    const text = '{"a":"é€😀","id":42,"params":{"x":[1,2,{"y":null}],"_meta":{"k":true}}}';
    const b = bytes(text);
    const scan = scanJsonBytes(b);
    expect(scan).not.toBeNull();
    const top = new Map(scan?.top.map((m) => [m.key, decodeSpan(b, m.value)]));
    expect(top.get("id")).toBe("42");
    expect(top.get("a")).toBe('"é€😀"');
    const params = scan?.top.find((m) => m.key === "params")?.value as [number, number];
    expect(scan?.nested.get(params[0])?.map((m) => m.key)).toEqual(["x", "_meta"]);
  });

  test("rejects what JSON.parse rejects", () => {
    const bad = [
      '{"a":1,}',
      '{"a":01}',
      '{"a":"x',
      '{"a":tru}',
      '{"a":"\\x"}',
      '{"a":"line\nbreak"}',
      "{'a':1}",
      '{"a":1} x',
      '{"a" 1}',
      "[1,2",
      "",
    ];
    for (const text of bad) {
      expect(() => JSON.parse(text)).toThrow();
      expect({ text, scan: scanJsonBytes(bytes(text)) }).toEqual({ text, scan: null });
    }
  });

  test("accepts what JSON.parse accepts, at any depth without recursion", () => {
    const good = ["[]", "{}", "0", "-1.5e+3", '"\\ud83d\\ude00"', ' \t\r\n{ "a" : [ 1 , { } ] } '];
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    for (const text of [...good, deep])
      expect({ text: text.slice(0, 20), ok: scanJsonBytes(bytes(text)) !== null }).toEqual({
        text: text.slice(0, 20),
        ok: true,
      });
  });
});

describe("a repeated _meta cannot carry a progress token past the mux", () => {
  test("a token in an earlier _meta (plain or escaped) makes the request invalid; a _meta without any token is read as it is", () => {
    const req = (params: string): string => `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":${params}}`;
    expect(parseMessage(req('{"name":"t","_meta":{"progressToken":7},"_meta":{"k":1}}')).kind).toBe("invalid");
    expect(parseMessage(req('{"name":"t","_meta":{"\\u0070rogressToken":7},"_meta":{"k":1}}')).kind).toBe("invalid");
    expect(parseMessage(req('{"name":"t","_meta":{"k":1,"progressToken":"a","progressToken":"b"}}')).kind).toBe(
      "invalid",
    );
    const plain = parseMessage(req('{"name":"t","_meta":{"k":1}}'));
    expect(plain.kind).toBe("request");
  });
});
