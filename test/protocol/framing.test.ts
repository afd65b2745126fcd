import { describe, expect, test } from "bun:test";
import { createLineSplitter, type OversizedLine } from "../../src/protocol/framing.ts";

function collect(max?: number): { lines: string[]; big: OversizedLine[]; push(b: Uint8Array): void } {
  const lines: string[] = [];
  const big: OversizedLine[] = [];
  const s = createLineSplitter({ line: (t) => lines.push(t), oversized: (o) => big.push(o) }, { maxLineBytes: max });
  return { lines, big, push: (b) => s.push(b) };
}
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("line splitter", () => {
  test("a multi-byte character split across chunks survives", () => {
    const c = collect();
    const bytes = enc('{"t":"é日本🌍"}\n');
    for (let i = 0; i < bytes.length; i++) c.push(bytes.subarray(i, i + 1));
    expect(c.lines).toEqual(['{"t":"é日本🌍"}']);
  });

  test("many lines per chunk, CRLF, BOM and blank lines", () => {
    const c = collect();
    c.push(enc('\uFEFF{"a":1}\r\n\n{"b":2}\n{"c"'));
    c.push(enc(":3}\n"));
    expect(c.lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  test("a line over the limit is dropped and reported with its head and tail; later lines pass", () => {
    const c = collect(100);
    c.push(enc(`{"id":7,"pad":"${"x".repeat(300)}`));
    c.push(enc(`${"y".repeat(300)}","end":"id"}\n{"ok":true}\n`));
    expect(c.lines).toEqual(['{"ok":true}']);
    expect(c.big.length).toBe(1);
    expect(c.big[0]?.bytes).toBe(628);
    expect(c.big[0]?.head.startsWith('{"id":7')).toBe(true);
    expect(c.big[0]?.tail.endsWith('"end":"id"}')).toBe(true);
  });

  test("a line exactly at the limit passes", () => {
    const c = collect(10);
    c.push(enc("1234567890\n12345678901\n"));
    expect(c.lines).toEqual(["1234567890"]);
    expect(c.big.length).toBe(1);
  });
});
