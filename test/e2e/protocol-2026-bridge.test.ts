/**
 * The input_required bridge through the compiled mux (protocol-2026 §3.2): a legacy child that
 * elicits while serving a 2026-07-28 client's `tools/call`, over the HTTP front (stateless
 * POSTs, each its own client) and over the socket through the real mux-proxy (a connection
 * that started with `server/discover`). The round's requestState resumes the parked call,
 * never a new one; an abandoned round is released at the child after the request timeout.
 */

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, fakeServer, type Json, ROOT, recorded, testScope, waitFor } from "../helpers.ts";

const scope = testScope("bin");
const SDK_FIXTURE = join(ROOT, "test/fixtures/conformance-server.ts");
const MODERN = "2026-07-28";
const V = "io.modelcontextprotocol/protocolVersion";
const CAPS = "io.modelcontextprotocol/clientCapabilities";
const ACCEPT = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const ALL = { elicitation: {}, sampling: {}, roots: {} };

const envelope = (caps: Json = ALL): Json => ({ [V]: MODERN, [CAPS]: caps });

/** POST one modern request with the standard headers; its JSON-RPC answer (JSON or the last SSE event). */
async function post(url: string, id: number, method: string, params: Json): Promise<Json> {
  const name = params.name ?? params.uri;
  const res = await fetch(url, {
    method: "POST",
    headers: {
      ...ACCEPT,
      "mcp-protocol-version": MODERN,
      "mcp-method": method,
      ...(typeof name === "string" ? { "mcp-name": name } : {}),
    },
    body: JSON.stringify({ jsonrpc: "2.0", id, method, params: { ...params, _meta: envelope() } }),
  });
  const text = await res.text();
  if (text.startsWith("{")) return JSON.parse(text) as Json;
  const events = text
    .split("\n")
    .filter((l) => l.startsWith("data: ") && l.length > 6)
    .map((l) => JSON.parse(l.slice(6)) as Json);
  return events.at(-1) as Json;
}

/** What the fake child's `elicit` tool got back from its elicitation/create (its tool result is that message). */
function childSaw(result: Json): Json {
  const content = result.content as { text: string }[];
  return JSON.parse(content[0]?.text as string) as Json;
}

/** The child's calls of its `elicit` tool. */
const toolCalls = (d: string): Json[] =>
  recorded(d).filter((m) => m.method === "tools/call" && (m.params as Json).name === "elicit");

/** Answers the child got (responses to its own requests). */
const answersAtChild = (d: string): Json[] => recorded(d).filter((m) => m.method === undefined);

/** A round trip through the child (it reads its stdin in order): what the mux wrote before has arrived. */
async function settled(url: string, id: number): Promise<void> {
  const echo = await post(url, id, "tools/call", { name: "echo", arguments: { settle: id } });
  expect((echo.result as Json).resultType).toBe("complete");
}

describe("input_required bridge", () => {
  test("over HTTP: the child's elicitation becomes input_required; the retry answers it and gets the real result", async () => {
    const d = scope.dir();
    const t = await scope.target({
      socket: join(d, "h.sock"),
      ...fakeServer(d),
      http: { listen: "127.0.0.1:0", auth: "none" },
    });
    const url = t.httpUrl as string;
    const first = await post(url, 1, "tools/call", { name: "elicit", arguments: {} });
    expect(first.id).toBe(1);
    const round = first.result as Json;
    expect(round.resultType).toBe("input_required");
    expect(round.inputRequests).toEqual({
      elicitation_1: {
        method: "elicitation/create",
        params: { message: "name?", requestedSchema: { type: "object", properties: { name: { type: "string" } } } },
      },
    });
    expect(typeof round.requestState).toBe("string");
    // The child's question is parked: nothing answered it yet, and its call was not cancelled.
    await settled(url, 100);
    expect(answersAtChild(d)).toEqual([]);
    expect(recorded(d).some((m) => m.method === "notifications/cancelled")).toBe(false);

    const answer = { action: "accept", content: { name: "Ada" } };
    const tampered = await post(url, 2, "tools/call", {
      name: "elicit",
      arguments: {},
      inputResponses: { elicitation_1: answer },
      requestState: `${round.requestState}-TAMPERED`,
    });
    expect(tampered).toMatchObject({ id: 2, error: { code: -32602 } });
    await settled(url, 101);
    expect(answersAtChild(d)).toEqual([]);

    const done = await post(url, 3, "tools/call", {
      name: "elicit",
      arguments: {},
      inputResponses: { elicitation_1: answer },
      requestState: round.requestState,
    });
    expect(done.id).toBe(3);
    const result = done.result as Json;
    expect(result.resultType).toBe("complete");
    expect(childSaw(result)).toMatchObject({ result: answer });
    // One call at the child: the retry resumed it.
    expect(toolCalls(d)).toHaveLength(1);
  });

  test("over HTTP: several rounds (two elicitations in a row), each with its own state", async () => {
    const d = scope.dir();
    const t = await scope.target({
      socket: join(d, "s.sock"),
      cmd: BUN,
      args: [SDK_FIXTURE],
      http: { listen: "127.0.0.1:0", auth: "none" },
    });
    const url = t.httpUrl as string;
    const tool = { name: "test_input_required_result_multi_round", arguments: {} };
    const r1 = (await post(url, 1, "tools/call", tool)).result as Json;
    expect(Object.keys(r1.inputRequests as Json)).toEqual(["step1"]);
    const r2 = (
      await post(url, 2, "tools/call", {
        ...tool,
        inputResponses: { step1: { action: "accept", content: { name: "Ada" } } },
        requestState: r1.requestState,
      })
    ).result as Json;
    expect(r2.resultType).toBe("input_required");
    expect(Object.keys(r2.inputRequests as Json)).toEqual(["step2"]);
    expect(r2.requestState).not.toBe(r1.requestState);
    // The first round's state is spent.
    const stale = await post(url, 3, "tools/call", {
      ...tool,
      inputResponses: { step2: { action: "accept", content: { color: "red" } } },
      requestState: r1.requestState,
    });
    expect(stale).toMatchObject({ id: 3, error: { code: -32602 } });
    const r3 = await post(url, 4, "tools/call", {
      ...tool,
      inputResponses: { step2: { action: "accept", content: { color: "blue" } } },
      requestState: r2.requestState,
    });
    expect(r3.result).toMatchObject({ resultType: "complete", content: [{ type: "text", text: "Ada likes blue" }] });
  });

  test("over the socket (mux-proxy, started with server/discover): a round on the connection; another connection's retry is refused", async () => {
    const d = scope.dir();
    const t = await scope.target({ socket: join(d, "m.sock"), ...fakeServer(d) });
    const c = await scope.raw(t.socket, "proxy");
    c.request("probe", "server/discover", { _meta: envelope() });
    expect(((await c.response("probe", 15_000)).result as Json).supportedVersions).toContain(MODERN);
    c.request("call-1", "tools/call", { name: "elicit", arguments: {}, _meta: envelope() });
    const round = (await c.response("call-1", 15_000)).result as Json;
    expect(round.resultType).toBe("input_required");
    expect(Object.keys(round.inputRequests as Json)).toEqual(["elicitation_1"]);
    // The modern client is never sent the child's request itself.
    expect(c.received.filter((m) => m.method !== undefined)).toEqual([]);

    const answer = { action: "accept", content: { name: "Bo" } };
    const retry = (): Json => ({
      name: "elicit",
      arguments: {},
      inputResponses: { elicitation_1: answer },
      requestState: round.requestState,
      _meta: envelope(),
    });
    const other = await scope.raw(t.socket, "proxy");
    other.request("steal", "tools/call", retry());
    expect(await other.response("steal", 15_000)).toMatchObject({ error: { code: -32602 } });
    other.request("settle", "tools/call", { name: "echo", arguments: {}, _meta: envelope() });
    await other.response("settle", 15_000);
    expect(answersAtChild(d)).toEqual([]);

    c.request("call-2", "tools/call", retry());
    const done = (await c.response("call-2", 15_000)).result as Json;
    expect(done.resultType).toBe("complete");
    expect(childSaw(done)).toMatchObject({ result: answer });
    expect(toolCalls(d)).toHaveLength(1);
  });

  test("over the socket: a connection that goes has its parked round released at the child, well before the timeout", async () => {
    const d = scope.dir();
    const t = await scope.target({ socket: join(d, "g.sock"), ...fakeServer(d), requestTimeoutMs: 600_000 });
    const c = await scope.raw(t.socket, "proxy");
    c.request("call", "tools/call", { name: "elicit", arguments: {}, _meta: envelope() });
    expect(((await c.response("call", 15_000)).result as Json).resultType).toBe("input_required");
    const call = toolCalls(d)[0] as Json;
    c.close();
    c.proc?.kill();
    await waitFor(
      () => answersAtChild(d).some((m) => (m.error as Json | undefined)?.code === -32034),
      20_000,
      "the child's question released (-32034)",
    );
    await waitFor(
      () => recorded(d).some((m) => m.method === "notifications/cancelled" && (m.params as Json).requestId === call.id),
      5000,
      "the cancel of the call at the child",
    );
  }, 60_000);

  test("an abandoned round is released at the child after the request timeout: its question gets an error, the call a cancel", async () => {
    const d = scope.dir();
    const t = await scope.target({
      socket: join(d, "a.sock"),
      ...fakeServer(d),
      requestTimeoutMs: 1000,
      http: { listen: "127.0.0.1:0", auth: "none" },
    });
    const url = t.httpUrl as string;
    const round = (await post(url, 1, "tools/call", { name: "elicit", arguments: {} })).result as Json;
    expect(round.resultType).toBe("input_required");
    const call = toolCalls(d)[0] as Json;
    const released = (): Json | undefined => answersAtChild(d).find((m) => "error" in m);
    await waitFor(() => released() !== undefined, 10_000, "the child's question released");
    expect((released() as Json).error).toMatchObject({ code: -32001 });
    await waitFor(
      () => recorded(d).some((m) => m.method === "notifications/cancelled" && (m.params as Json).requestId === call.id),
      5000,
      "the cancel of the call at the child",
    );
    // A retry now is refused: the round is gone (it is not sent to the child as a new call).
    const late = await post(url, 2, "tools/call", {
      name: "elicit",
      arguments: {},
      inputResponses: { elicitation_1: { action: "accept", content: { name: "Ada" } } },
      requestState: round.requestState,
    });
    expect(late).toMatchObject({ id: 2, error: { code: -32602 } });
    expect(toolCalls(d)).toHaveLength(1);
  });
});
