/**
 * Adversarial HTTP requests against the compiled mux's Streamable HTTP front (dist/mux, the
 * SDK-based conformance fixture as the child).
 */

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, fakeServer, type Json, ROOT, testScope } from "../helpers.ts";

const scope = testScope("bin");
const FIXTURE = join(ROOT, "test/fixtures/conformance-server.ts");
const MODERN = "2026-07-28";
const META = {
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientCapabilities": {},
};

/** POST one modern request with the standard headers (plus `extra`): its status and JSON-RPC answer. */
async function post(
  url: string,
  id: number,
  method: string,
  params: Json,
  extra: Record<string, string> = {},
  meta: Json = {},
): Promise<{ status: number; body: Json; type: string }> {
  const name = params.name;
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": MODERN,
      "mcp-method": method,
      ...(typeof name === "string" ? { "mcp-name": name } : {}),
      ...extra,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id, method, params: { ...params, _meta: { ...META, ...meta } } }),
  });
  const text = await res.text();
  const json = text.startsWith("{")
    ? text
    : (text
        .split("\n")
        .filter((l) => l.startsWith("data: ") && l.length > 6)
        .at(-1)
        ?.slice(6) ?? "{}");
  return { status: res.status, body: JSON.parse(json) as Json, type: res.headers.get("content-type") ?? "" };
}

describe("attack: the HTTP front", () => {
  test("a tools/list answered as an event (slow: a lazy start) teaches the Mcp-Param-* checks too", async () => {
    const d = scope.dir();
    const t = await scope.target({
      socket: join(d, "h.sock"),
      cmd: BUN,
      args: [FIXTURE],
      lazyStart: true,
      http: { listen: "127.0.0.1:0", auth: "none" },
    });
    const url = t.httpUrl as string;
    // The child starts with this request: far slower than the front's 50 ms, so it streams.
    const listed = await post(url, 1, "tools/list", {});
    expect(listed.type).toStartWith("text/event-stream");
    expect(JSON.stringify(listed.body)).toContain('"x-mcp-header":"Region"');
    const call = { name: "test_custom_header", arguments: { region: "eu", query: "q" } };
    const differs = await post(url, 2, "tools/call", call, { "mcp-param-region": "us" });
    expect(differs.status).toBe(400);
    expect((differs.body.error as Json).code).toBe(-32020);
    expect((await post(url, 3, "tools/call", call, { "mcp-param-region": "eu" })).status).toBe(200);
    await t.close();
  });

  test("Mcp-Param-* headers are checked on a body big enough for the byte path too (no bypass by padding)", async () => {
    const d = scope.dir();
    const t = await scope.target({
      socket: join(d, "h.sock"),
      cmd: BUN,
      args: [FIXTURE],
      http: { listen: "127.0.0.1:0", auth: "none" },
    });
    const url = t.httpUrl as string;
    await post(url, 0, "tools/list", {});
    const listed = await post(url, 1, "tools/list", {});
    expect(JSON.stringify(listed.body)).toContain('"x-mcp-header":"Region"');
    // Small bodies: a header that differs is refused, the matching one served.
    const small = { name: "test_custom_header", arguments: { region: "eu", query: "q" } };
    expect((await post(url, 2, "tools/call", small, { "mcp-param-region": "us" })).status).toBe(400);
    expect((await post(url, 3, "tools/call", small, { "mcp-param-region": "eu" })).status).toBe(200);
    // Over the byte-path threshold (256 KiB), with an argument over 64 KiB: the same rules.
    const big = { name: "test_custom_header", arguments: { region: "eu", query: "x".repeat(300_000) } };
    const differs = await post(url, 4, "tools/call", big, { "mcp-param-region": "us" });
    expect(differs.status).toBe(400);
    expect((differs.body.error as Json).code).toBe(-32020);
    expect((await post(url, 5, "tools/call", big)).status).toBe(400);
    const same = await post(url, 6, "tools/call", big, { "mcp-param-region": "eu" });
    expect(same.status).toBe(200);
    expect(JSON.stringify(same.body.result)).toContain("Region: eu");
    await t.close();
  });

  test("an input_required retry whose answer is big (over 256 KiB) reaches the child whole and resumes the call", async () => {
    const d = scope.dir();
    const t = await scope.target({
      socket: join(d, "h.sock"),
      ...fakeServer(d),
      http: { listen: "127.0.0.1:0", auth: "none" },
    });
    const url = t.httpUrl as string;
    const caps = { "io.modelcontextprotocol/clientCapabilities": { elicitation: {} } };
    const round = (await post(url, 1, "tools/call", { name: "elicit", arguments: {} }, {}, caps)).body.result as Json;
    expect(round.resultType).toBe("input_required");
    const name = "n".repeat(300_000);
    const done = await post(
      url,
      2,
      "tools/call",
      {
        name: "elicit",
        arguments: {},
        requestState: round.requestState,
        inputResponses: { elicitation_1: { action: "accept", content: { name } } },
      },
      {},
      caps,
    );
    const result = done.body.result as Json;
    expect(result?.resultType).toBe("complete");
    const saw = JSON.parse((result.content as { text: string }[])[0]?.text as string) as Json;
    expect(saw).toMatchObject({ result: { action: "accept", content: { name } } });
    await t.close();
  });
});
