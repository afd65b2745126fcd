/**
 * The 2026-07-28 leg over a legacy child writes what the child gets and what the client gets
 * from text where it can (`src/mux/era2026/modern.ts`: the child's request is written once,
 * the common answer is stamped in its text). Every shape of answer is checked against what a
 * parse-and-rewrite would give, and the text the client gets is always one valid JSON object.
 */

import { describe, expect, test } from "bun:test";
import { connect, makeRouter, ready } from "./fakes.ts";

const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
  "io.modelcontextprotocol/clientInfo": { name: "t", version: "1" },
};
const INFO = "io.modelcontextprotocol/serverInfo";

/** A modern tools/call with id text `rawId` answered by the child with `answer(muxId)`; the client's line. */
function relay(rawId: string, answer: (muxId: number) => string, init?: unknown): string {
  const { router, child } = makeRouter();
  ready(router, child, init);
  const c = connect(router);
  c.sendText(
    `{"jsonrpc":"2.0","id":${rawId},"method":"tools/call","params":{"name":"t","arguments":{},"_meta":${JSON.stringify(META)}}}`,
  );
  const at = child.last("tools/call");
  router.childLine(answer(at.id));
  const got = c.port.got.at(-1);
  if (!got) throw new Error("the client got nothing");
  return got.line;
}

describe("the stamp of a legacy child's answer", () => {
  test("the common answer: stamped, the client's id, the child's members as they came", () => {
    const line = relay("7", (id) => `{"jsonrpc":"2.0","id":${id},"result":{"content":[{"type":"text","text":"hi"}]}}`);
    expect(JSON.parse(line)).toEqual({
      jsonrpc: "2.0",
      id: 7,
      result: {
        resultType: "complete",
        _meta: { [INFO]: { name: "fake", version: "1" } },
        content: [{ type: "text", text: "hi" }],
      },
    });
  });

  test("the SDK's order (result first, then jsonrpc and id) is stamped in its text too, members after it kept", () => {
    const line = relay('"x"', (id) => `{"result":{"content":[]},"jsonrpc":"2.0","id":${id}}`);
    expect(line).toStartWith('{"result":{"resultType":"complete",');
    expect(JSON.parse(line)).toEqual({
      jsonrpc: "2.0",
      id: "x",
      result: { resultType: "complete", _meta: { [INFO]: { name: "fake", version: "1" } }, content: [] },
    });
    const extra = relay("3", (id) => `{"result":{},"y":[1,"}"],"jsonrpc":"2.0","id":${id}}`);
    expect(JSON.parse(extra)).toEqual({
      jsonrpc: "2.0",
      id: 3,
      y: [1, "}"],
      result: { resultType: "complete", _meta: { [INFO]: { name: "fake", version: "1" } } },
    });
  });

  test("an empty result, with or without spaces, and spaces before the end", () => {
    for (const body of ["{}", "{ }", "{\n}", "{} "]) {
      const line = relay("1", (id) => `{"jsonrpc":"2.0","id":${id},"result":${body}}`);
      expect(JSON.parse(line)).toEqual({
        jsonrpc: "2.0",
        id: 1,
        result: { resultType: "complete", _meta: { [INFO]: { name: "fake", version: "1" } } },
      });
    }
  });

  test("ids the client wrote its own way come back exactly: escaped strings, integers past 2^53", () => {
    expect(relay('"\\u00e9x"', (id) => `{"jsonrpc":"2.0","id":${id},"result":{"a":1}}`)).toStartWith(
      '{"jsonrpc":"2.0","id":"\\u00e9x",',
    );
    expect(relay("12345678901234567890", (id) => `{"jsonrpc":"2.0","id":${id},"result":{"a":1}}`)).toStartWith(
      '{"jsonrpc":"2.0","id":12345678901234567890,',
    );
  });

  test("members after the result pass through as a legacy client gets them, and the line stays one JSON object", () => {
    const line = relay("1", (id) => `{"jsonrpc":"2.0","id":${id},"result":{},"x":{"y":"}"}}`);
    expect(JSON.parse(line)).toEqual({
      jsonrpc: "2.0",
      id: 1,
      result: { resultType: "complete", _meta: { [INFO]: { name: "fake", version: "1" } } },
      x: { y: "}" },
    });
  });

  test("other shapes are rewritten from the parsed answer: own _meta kept, own resultType replaced, members in another order", () => {
    const own = relay("1", (id) => `{"jsonrpc":"2.0","id":${id},"result":{"_meta":{"k":1},"a":2}}`);
    expect(JSON.parse(own).result).toEqual({
      resultType: "complete",
      a: 2,
      _meta: { k: 1, [INFO]: { name: "fake", version: "1" } },
    });
    const typed = relay("1", (id) => `{"jsonrpc":"2.0","id":${id},"result":{"resultType":"input_required","a":2}}`);
    expect(JSON.parse(typed).result.resultType).toBe("complete");
    const order = relay("1", (id) => `{"id":${id},"jsonrpc":"2.0","result":{"a":2}}`);
    expect(JSON.parse(order)).toMatchObject({ id: 1, result: { resultType: "complete", a: 2 } });
    const spaced = relay("1", (id) => `{ "jsonrpc": "2.0", "id": ${id}, "result": { "a": 2 } }`);
    expect(JSON.parse(spaced)).toMatchObject({ id: 1, result: { resultType: "complete", a: 2 } });
  });

  test("an answer whose text could spell a member the stamp must merge (an escaped key) is parsed: one _meta, merged", () => {
    const line = relay("1", (id) => `{"result":{"\\u005fmeta":{"k":1},"a":2},"jsonrpc":"2.0","id":${id}}`);
    expect(line.match(/_meta/g)?.length).toBe(1);
    expect(JSON.parse(line).result).toEqual({
      resultType: "complete",
      a: 2,
      _meta: { k: 1, [INFO]: { name: "fake", version: "1" } },
    });
  });

  test("words that need the parse (error, task) anywhere in the text give the same answer as the text path", () => {
    const line = relay(
      "1",
      (id) => `{"result":{"content":[{"type":"text","text":"\\"error\\" and \\"task\\""}]},"jsonrpc":"2.0","id":${id}}`,
    );
    expect(JSON.parse(line)).toEqual({
      jsonrpc: "2.0",
      id: 1,
      result: {
        resultType: "complete",
        _meta: { [INFO]: { name: "fake", version: "1" } },
        content: [{ type: "text", text: '"error" and "task"' }],
      },
    });
  });

  test("an answer that is not valid JSON-RPC still answers the modern request (-32603), once", () => {
    // The SDK's layout (taken as an answer at once) with a repeated key: the parse refuses it.
    const line = relay("4", (id) => `{"result":{"_meta":{}},"x":1,"x":2,"jsonrpc":"2.0","id":${id}}`);
    expect(JSON.parse(line)).toMatchObject({ id: 4, error: { code: -32603 } });
  });

  test("a server without serverInfo: the stamp's _meta is empty, as the rewrite gives", () => {
    const init = { protocolVersion: "2025-06-18", capabilities: { tools: {} } };
    const line = relay("1", (id) => `{"jsonrpc":"2.0","id":${id},"result":{"a":1}}`, init);
    expect(JSON.parse(line)).toEqual({ jsonrpc: "2.0", id: 1, result: { resultType: "complete", _meta: {}, a: 1 } });
  });
});

describe("what the legacy child gets of a modern request", () => {
  test("reserved _meta keys and the MRTR members left out, its own _meta kept, the mux's id in place", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const c = connect(router);
    c.sendText(
      `{"jsonrpc":"2.0","id":"a\\"b","method":"tools/call","params":{"name":"t","arguments":{"q":"é"},"_meta":{"own":1,${JSON.stringify(META).slice(1, -1)}}}}`,
    );
    const at = child.last("tools/call");
    expect(JSON.parse(at.raw)).toEqual({
      jsonrpc: "2.0",
      id: at.id,
      method: "tools/call",
      params: { name: "t", arguments: { q: "é" }, _meta: { own: 1 } },
    });
    router.childLine(`{"jsonrpc":"2.0","id":${at.id},"result":{}}`);
    expect(JSON.parse(c.port.got.at(-1)?.line ?? "{}").id).toBe('a"b');
  });

  test("members named __proto__ reach the child as members, in params and in _meta", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const c = connect(router);
    c.sendText(
      `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","__proto__":{"x":1},"_meta":{"__proto__":{"y":2},${JSON.stringify(META).slice(1, -1)}}}}`,
    );
    const at = child.last("tools/call");
    expect(at.raw).toContain('"__proto__":{"x":1}');
    expect(at.raw).toContain('"_meta":{"__proto__":{"y":2}}');
  });

  test("a progress token the client kept is rewritten for the child and its progress comes back under the client's token", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const c = connect(router);
    c.send({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "t", _meta: { ...META, progressToken: "tok" } },
    });
    const at = child.last("tools/call");
    const token = (at.params._meta as { progressToken: unknown }).progressToken;
    expect(token).not.toBe("tok");
    expect(Object.keys(at.params._meta as object)).toEqual(["progressToken"]);
    child.say({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: token, progress: 1 } });
    expect(c.port.messages.at(-1)).toMatchObject({
      method: "notifications/progress",
      params: { progressToken: "tok" },
    });
  });
});
