import { describe, expect, test } from "bun:test";
import { parseMessage } from "../../src/protocol/message.ts";
import { fastIdSpan, scanArray, scanObject, spanAt, splice } from "../../src/protocol/scan.ts";

describe("span scanner", () => {
  test("finds top-level keys, skipping nested ids and escaped quotes", () => {
    const text = '{"params":{"id":1,"s":"a\\"}{,"},"method":"x","id": 12345678901234567890 }';
    const spans = scanObject(text);
    const id = spans?.keys.get("id");
    expect(id && text.slice(id[0], id[1])).toBe("12345678901234567890");
    expect(spans?.end).toBe(text.length);
  });

  test("follows a path and splices without touching other bytes", () => {
    const text = '{"params":{"_meta":{"progressToken":"tok"},"n":1.50},"id":"\\u00e9"}';
    const span = spanAt(text, ["params", "_meta", "progressToken"]);
    expect(span).not.toBeNull();
    expect(splice(text, span as [number, number], "42")).toBe(
      '{"params":{"_meta":{"progressToken":42},"n":1.50},"id":"\\u00e9"}',
    );
  });

  test("splits arrays into element spans", () => {
    const text = '[{"a":[1,2]}, 3 ,"x"]';
    expect(scanArray(text)?.map(([s, e]) => text.slice(s, e))).toEqual(['{"a":[1,2]}', "3", '"x"']);
  });

  test("classifies messages and keeps the raw id text", () => {
    const req = parseMessage('{"jsonrpc":"2.0","id":"\\u00e9","method":"m"}');
    expect(req.kind).toBe("request");
    if (req.kind === "request") expect(req.rawId).toBe('"\\u00e9"');
    expect(parseMessage('{"jsonrpc":"2.0","method":"n"}').kind).toBe("notification");
    expect(parseMessage('{"jsonrpc":"2.0","id":1,"result":{}}').kind).toBe("response");
    expect(parseMessage("[1]").kind).toBe("batch");
    expect(parseMessage("nope").kind).toBe("parse-error");
    expect(parseMessage('{"jsonrpc":"2.0","id":null,"method":"m"}').kind).toBe("invalid");
    expect(parseMessage('{"jsonrpc":"1.0","id":1,"method":"m"}').kind).toBe("invalid");
  });
});

describe("fast id path", () => {
  const cases: [string, string | undefined][] = [
    ['{"result":{"id":9},"jsonrpc":"2.0","id":5}', "5"],
    ['{"method":"m","params":{},"jsonrpc":"2.0","id":"abc"}', '"abc"'],
    ['{"jsonrpc":"2.0","id":-7,"result":{}}', "-7"],
    ['{"jsonrpc":"2.0","id":"x","error":{"code":1}}', '"x"'],
    ['{"id":12345678901234567890}', "12345678901234567890"],
    ['{"a":{"id":5}}', undefined], // nested id: not top level
    ['{"a":"\\",\\"id\\":5}"}', undefined], // id inside a string
    ['{"a":1,"id":"e\\u00e9"}', undefined], // escapes: fall back to the scanner
    ['{"a":1,"id":1.5}', undefined],
    ['{"a":1,"xid":5}', undefined],
  ];
  for (const [text, expected] of cases) {
    test(`${text} → ${expected}`, () => {
      const span = fastIdSpan(text);
      expect(span ? text.slice(span[0], span[1]) : undefined).toBe(expected);
      if (expected !== undefined) expect(scanObject(text)?.keys.get("id")).toEqual(span as never);
    });
  }
});
