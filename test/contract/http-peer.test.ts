/**
 * The HTTP front as a peer of the socket (issue 19 item 3), against the compiled daemon: a big
 * POST body takes the byte path (never decoded whole: its bytes reach the child exactly, with
 * only the id spliced), and a POST whose server stops reading stdin waits in the front within
 * a budget (past it: 503 with Retry-After), while the socket clients of the service go on.
 */

import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { MuxOptions } from "../../src/index.ts";
import { fakeServer, type Json, recorded, type Target, testScope, waitFor } from "../helpers.ts";

const scope = testScope("bin");
const ACCEPT = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const LEGACY = "2025-11-25";
const MODERN = "2026-07-28";
const MODERN_META = {
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientCapabilities": {},
};

async function serve(dir: string, extra: Partial<MuxOptions> = {}): Promise<Target> {
  return scope.target({
    socket: join(dir, "p.sock"),
    ...fakeServer(dir, { FAKE_RAW_RECORD: join(dir, "raw.bin") }),
    ...extra,
    http: { listen: "127.0.0.1:0", auth: "none" },
  });
}

/** Open a legacy session: initialize, then initialized. Returns the headers of its POSTs. */
async function session(url: string): Promise<Record<string, string>> {
  const res = await fetch(url, {
    method: "POST",
    headers: { ...ACCEPT, "mcp-protocol-version": LEGACY },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: "peer", version: "1" } },
    }),
  });
  await res.text();
  const h = { ...ACCEPT, "mcp-protocol-version": LEGACY, "mcp-session-id": res.headers.get("mcp-session-id") ?? "" };
  const done = await fetch(url, {
    method: "POST",
    headers: h,
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  expect(done.status).toBe(202);
  return h;
}

/** The JSON-RPC messages of a JSON or SSE answer. */
function messagesOf(text: string): Json[] {
  if (text.startsWith("{")) return [JSON.parse(text) as Json];
  return text
    .split("\n")
    .filter((l) => l.startsWith("data: ") && l.length > 6)
    .map((l) => JSON.parse(l.slice(6)) as Json);
}

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The first line of `file` (bytes read by the child) containing `marker`. */
function childLine(file: string, marker: Uint8Array): Buffer | undefined {
  if (!existsSync(file)) return undefined;
  const all = readFileSync(file);
  const at = all.indexOf(marker);
  if (at < 0) return undefined;
  const start = all.lastIndexOf(10, at) + 1;
  const end = all.indexOf(10, at);
  return end < 0 ? undefined : all.subarray(start, end);
}

describe("the HTTP front as a transport peer", () => {
  test("a 5 MiB POST body reaches the child byte for byte (not decoded whole), only its id spliced; the answer has the client's id", async () => {
    const dir = scope.dir();
    const t = await serve(dir, { maxRequestBytes: 8 * 1_048_576 });
    const url = t.httpUrl as string;
    const h = await session(url);
    // Bytes a decode would change: lone continuation bytes and 0xff (not UTF-8), beside é; the
    // id is spelled with an escape and the body's spacing is unusual, so a re-serialization shows.
    const head = bytes('{ "jsonrpc" : "2.0", "method":"tools/call" ,"id": ');
    const rawId = '"\\u0041-big"';
    const tail0 = bytes(', "params":{"name":"echo","arguments":{"marker":"peer-5mib","blob":"');
    const chunk = new Uint8Array([0x61, 0xc3, 0xa9, 0x80, 0xff, 0x62, 0xbf, 0x20]);
    const blob = new Uint8Array(5 * 1_048_576);
    for (let i = 0; i < blob.length; i += chunk.length) blob.set(chunk, i);
    const tail = Buffer.concat([tail0, blob, bytes('"}}  }')]);
    const body = Buffer.concat([head, bytes(rawId), tail]);
    const res = await fetch(url, { method: "POST", headers: h, body });
    const text = await res.text();
    expect(res.status).toBe(200);
    // The answer carries the client's id exactly as it spelled it.
    expect(text.includes(`"id":${rawId}`)).toBe(true);
    const answer = messagesOf(text).find((m) => m.id === "A-big") as Json;
    expect(answer.result).toBeDefined();
    // At the child: the same bytes, with the mux's id in place of the client's.
    const line = childLine(join(dir, "raw.bin"), bytes('"marker":"peer-5mib"')) as Buffer;
    expect(line).toBeDefined();
    expect(line.length).toBeGreaterThan(5 * 1_048_576);
    expect(line.subarray(0, head.length).equals(head)).toBe(true);
    expect(line.subarray(line.length - tail.length).equals(tail)).toBe(true);
    const muxId = line.subarray(head.length, line.length - tail.length).toString();
    expect(muxId).toMatch(/^\d+$/);
  }, 60_000);

  test("a server that stops reading stdin: HTTP POSTs wait in the front within a budget (past it 503 + Retry-After), none is lost, and socket clients go on", async () => {
    const dir = scope.dir();
    const t = await serve(dir);
    const url = t.httpUrl as string;
    const pause = join(dir, "pause");
    writeFileSync(pause, "");
    const a = await scope.raw(t.socket);
    await a.handshake();
    const b = await scope.raw(t.socket);
    await b.handshake();
    a.request("pause", "tools/call", { name: "pause-reading", arguments: { file: pause } });
    await a.response("pause");
    const h = await session(url);
    const payload = "z".repeat(600 * 1024);
    const count = 90; // 54 MiB, past the front's 32 MiB budget of waiting bodies
    const statuses: number[] = [];
    const posts = Array.from({ length: count }, async (_, i) => {
      const modern = i % 3 === 2; // every third one a stateless 2026-07-28 request
      const call = {
        jsonrpc: "2.0",
        id: `c-${i}`,
        method: "tools/call",
        params: { name: "echo", arguments: { i, payload }, ...(modern ? { _meta: MODERN_META } : {}) },
      };
      const headers = modern
        ? { ...ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": "echo" }
        : h;
      const res = await fetch(url, { method: "POST", headers, body: JSON.stringify(call) });
      statuses.push(res.status);
      return { i, status: res.status, retryAfter: res.headers.get("retry-after"), text: await res.text() };
    });
    // The socket client asks while its server reads nothing: it waits (its socket is not read), never refused.
    b.request("during", "tools/call", { name: "echo", arguments: { from: "socket" } });
    await waitFor(() => statuses.includes(503), 30_000, "a POST past the budget to be refused");
    rmSync(pause);
    const results = await Promise.all(posts);
    const refused = results.filter((r) => r.status === 503);
    const served = results.filter((r) => r.status === 200);
    expect(refused.length + served.length).toBe(count);
    expect(refused.length).toBeGreaterThan(0);
    expect(served.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(r.retryAfter).toBe("1");
      const error = (JSON.parse(r.text) as Json).error as Json;
      expect(error.code).toBe(-32038);
    }
    for (const r of served) {
      const m = messagesOf(r.text).find((x) => x.id === `c-${r.i}`) as Json;
      const content = (m.result as { content: { text: string }[] }).content;
      expect((JSON.parse(content[0]?.text as string) as { i: number }).i).toBe(r.i);
    }
    const during = await b.response("during", 30_000);
    expect(JSON.parse((during.result as { content: { text: string }[] }).content[0]?.text as string)).toEqual({
      from: "socket",
    });
    a.request("after", "ping");
    expect((await a.response("after")).result).toEqual({});
    expect(a.closed || b.closed).toBe(false);
  }, 90_000);

  test("a POST that waits in the front and whose client goes away never reaches the server", async () => {
    const dir = scope.dir();
    const t = await serve(dir, { maxClientInflight: 1, requestTimeoutMs: 1500 });
    const url = t.httpUrl as string;
    const h = await session(url);
    const call = (id: string, name: string, args: Json) =>
      JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } });
    // One call in flight (the client's limit): the next POST waits in the front.
    const hang = fetch(url, { method: "POST", headers: h, body: call("h", "hang", {}) }).then((r) => r.text());
    await waitFor(
      () => recorded(dir).some((m) => (m.params as Json | undefined)?.name === "hang"),
      10_000,
      "the hanging call at the child",
    );
    const abort = new AbortController();
    const gone = fetch(url, {
      method: "POST",
      headers: h,
      body: call("g", "echo", { marker: "gone-away" }),
      signal: abort.signal,
    }).catch(() => "aborted");
    // Settle: an answer (to no question) is taken at once, after the waiting POST was read.
    const settle = await fetch(url, {
      method: "POST",
      headers: h,
      body: JSON.stringify({ jsonrpc: "2.0", id: 999, result: {} }),
    });
    expect(settle.status).toBe(202);
    abort.abort();
    expect(await gone).toBe("aborted");
    // The hanging call times out, which frees the client's slot: what still waits goes in now.
    expect(await hang).toContain("-32001");
    const after = await fetch(url, { method: "POST", headers: h, body: call("a", "echo", { marker: "after" }) });
    expect(await after.text()).toContain("after");
    const seen = recorded(dir).map((m) => JSON.stringify(m));
    expect(seen.some((m) => m.includes('"after"'))).toBe(true);
    expect(seen.some((m) => m.includes("gone-away"))).toBe(false);
  }, 60_000);
});
