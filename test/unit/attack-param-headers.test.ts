/** Adversarial checks of the `Mcp-Param-*` header checks (src/http/param-headers.ts), in process. */

import { describe, expect, test } from "bun:test";
import { paramHeaderProblem, paramHeadersOf } from "../../src/http/param-headers.ts";

describe("attack: Mcp-Param-* checks", () => {
  test("an annotated property named like an Object.prototype member, omitted by the client, asks for no header", () => {
    const schema = {
      type: "object",
      properties: {
        constructor: { type: "string", "x-mcp-header": "Ctor" },
        toString: { type: "string", "x-mcp-header": "Str" },
        outer: { type: "object", properties: { valueOf: { type: "boolean", "x-mcp-header": "Flag" } } },
      },
    };
    const annotated = paramHeadersOf(JSON.parse(JSON.stringify(schema)));
    if (!Array.isArray(annotated)) throw new Error("expected annotations");
    // The client omitted every annotated argument: nothing to mirror, nothing to refuse.
    expect(paramHeaderProblem(new Headers(), annotated, JSON.parse('{"outer":{}}'))).toBeUndefined();
    expect(paramHeaderProblem(new Headers(), annotated, JSON.parse("{}"))).toBeUndefined();
    // Given, they are checked as any other.
    const args = JSON.parse('{"constructor":"a","toString":"b","outer":{"valueOf":true}}');
    expect(paramHeaderProblem(new Headers(), annotated, args)).toContain("Mcp-Param-Ctor is required");
    const ok = new Headers({ "Mcp-Param-Ctor": "a", "Mcp-Param-Str": "b", "Mcp-Param-Flag": "true" });
    expect(paramHeaderProblem(ok, annotated, args)).toBeUndefined();
  });
});
