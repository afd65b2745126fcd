/** `Mcp-Param-*` headers and the Base64 sentinel (2026-07-28 Streamable HTTP, SEP-2243), in process. */

import { describe, expect, test } from "bun:test";
import {
  decodeHeaderValue,
  type ParamHeader,
  paramHeaderProblem,
  paramHeadersOf,
  ToolHeaderBook,
} from "../../src/http/param-headers.ts";

const b64 = (s: string) => `=?base64?${Buffer.from(s).toString("base64")}?=`;
const schema = {
  type: "object",
  properties: {
    region: { type: "string", "x-mcp-header": "Region" },
    count: { type: "integer", "x-mcp-header": "Count" },
    dry: { type: "boolean", "x-mcp-header": "Dry" },
    nested: { type: "object", properties: { tenant: { type: "string", "x-mcp-header": "Tenant" } } },
    query: { type: "string" },
  },
};

describe("the Base64 sentinel", () => {
  test("decoded strictly; a value missing a marker is literal", () => {
    expect(decodeHeaderValue(b64("Hello"))).toBe("Hello");
    expect(decodeHeaderValue(b64("Hello, 世界"))).toBe("Hello, 世界");
    expect(decodeHeaderValue(`  ${b64(" padded ")}  `)).toBe(" padded ");
    expect(decodeHeaderValue("=?base64??=")).toBe("");
    expect(decodeHeaderValue("SGVsbG8=")).toBe("SGVsbG8=");
    expect(decodeHeaderValue("=?base64?SGVsbG8=")).toBe("=?base64?SGVsbG8=");
    expect(decodeHeaderValue("  us-west1 ")).toBe("us-west1");
  });

  test("bad padding, characters outside the alphabet, stray bits and non-UTF-8 are invalid", () => {
    expect(decodeHeaderValue("=?base64?SGVsbG8?=")).toEqual({ invalid: "malformed Base64" });
    expect(decodeHeaderValue("=?base64?SGVs!!!bG8=?=")).toEqual({ invalid: "malformed Base64" });
    expect(decodeHeaderValue("=?base64?SGVsbG9=?=")).toEqual({ invalid: "malformed Base64" });
    expect(decodeHeaderValue(`=?base64?${Buffer.from([0xff, 0xfe]).toString("base64")}?=`)).toEqual({
      invalid: "Base64 value is not UTF-8",
    });
  });
});

describe("x-mcp-header annotations", () => {
  test("primitive properties reachable through properties, nested ones included", () => {
    expect(paramHeadersOf(schema)).toEqual([
      { name: "Region", path: ["region"], type: "string" },
      { name: "Count", path: ["count"], type: "integer" },
      { name: "Dry", path: ["dry"], type: "boolean" },
      { name: "Tenant", path: ["nested", "tenant"], type: "string" },
    ]);
    expect(paramHeadersOf({ type: "object", properties: { q: { type: "string" } } })).toBeUndefined();
    expect(paramHeadersOf("not a schema")).toBeUndefined();
  });

  test("an annotation the rules forbid makes the definition invalid", () => {
    const bad = (properties: unknown, extra: object = {}) => paramHeadersOf({ type: "object", properties, ...extra });
    expect(bad({ n: { type: "number", "x-mcp-header": "N" } })).toHaveProperty("invalid");
    expect(bad({ a: { type: "string", "x-mcp-header": "Région" } })).toHaveProperty("invalid");
    expect(bad({ a: { type: "string", "x-mcp-header": "Region\t1" } })).toHaveProperty("invalid");
    expect(bad({ a: { type: "string", "x-mcp-header": "" } })).toHaveProperty("invalid");
    expect(
      bad({ a: { type: "string", "x-mcp-header": "X" }, b: { type: "string", "x-mcp-header": "x" } }),
    ).toHaveProperty("invalid");
    expect(bad({ list: { type: "array", items: { type: "string", "x-mcp-header": "Item" } } })).toHaveProperty(
      "invalid",
    );
    expect(bad({}, { anyOf: [{ properties: { a: { type: "string", "x-mcp-header": "A" } } }] })).toHaveProperty(
      "invalid",
    );
  });
});

describe("checking a call's headers against its arguments", () => {
  const annotated = paramHeadersOf(schema) as ParamHeader[];
  const h = (o: Record<string, string>) => new Headers(o);
  const args = { region: "us-west1", count: 42, dry: false, nested: { tenant: "Hello, 世界" } };
  const all = { "Mcp-Param-Region": "us-west1", "Mcp-Param-Count": "42", "mcp-param-dry": "false" };

  test("matching headers pass (names case-insensitive, integers numerically, values decoded)", () => {
    expect(paramHeaderProblem(h({ ...all, "Mcp-Param-Tenant": b64("Hello, 世界") }), annotated, args)).toBeUndefined();
    expect(
      paramHeaderProblem(
        h({ ...all, "Mcp-Param-Count": "42.0", "MCP-PARAM-TENANT": b64("Hello, 世界") }),
        annotated,
        args,
      ),
    ).toBeUndefined();
    // Arguments absent or null: no header expected.
    expect(paramHeaderProblem(h({}), annotated, { query: "x", region: null })).toBeUndefined();
  });

  test("a missing, different, malformed or wrongly typed header is refused", () => {
    const tenant = { "Mcp-Param-Tenant": b64("Hello, 世界") };
    expect(
      paramHeaderProblem(h({ ...tenant, "Mcp-Param-Count": "42", "Mcp-Param-Dry": "false" }), annotated, args),
    ).toContain("Mcp-Param-Region is required");
    expect(paramHeaderProblem(h({ ...all, ...tenant, "Mcp-Param-Region": "eu-west1" }), annotated, args)).toContain(
      "differs",
    );
    expect(paramHeaderProblem(h({ ...all, "Mcp-Param-Tenant": "=?base64?SGVsbG8?=" }), annotated, args)).toContain(
      "malformed Base64",
    );
    expect(paramHeaderProblem(h({ ...all, ...tenant, "Mcp-Param-Count": "0x2a" }), annotated, args)).toContain(
      "differs",
    );
    expect(paramHeaderProblem(h({ ...all, ...tenant, "Mcp-Param-Dry": "False" }), annotated, args)).toContain(
      "differs",
    );
    expect(paramHeaderProblem(h({ ...all, ...tenant }), annotated, { ...args, region: 7 })).toContain("differs");
  });

  test("the book learns from tools/list, forgets invalid and relisted tools, and is bounded", () => {
    const book = new ToolHeaderBook();
    book.learn({
      tools: [
        { name: "sql", inputSchema: schema },
        { name: "plain", inputSchema: { type: "object" } },
      ],
    });
    expect(book.of("sql")?.map((p) => p.name)).toEqual(["Region", "Count", "Dry", "Tenant"]);
    expect(book.of("plain")).toBeUndefined();
    book.learn({
      tools: [
        { name: "sql", inputSchema: { type: "object", properties: { n: { type: "number", "x-mcp-header": "N" } } } },
      ],
    });
    expect(book.of("sql")).toBeUndefined();
    book.learn("garbage");
    book.learn({ tools: "garbage" });
    for (let i = 0; i < 5000; i++) book.learn({ tools: [{ name: `t${i}`, inputSchema: schema }] });
    expect(book.of("t0")).toBeUndefined();
    expect(book.of("t4999")).toBeDefined();
  });
});
