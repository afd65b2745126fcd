/**
 * Adversarial checks of the input_required bridge and the 2026-07-28 leg in process
 * (`src/mux/era2026/bridge.ts`, `modern.ts`): hostile client lines against the real router.
 */

import { describe, expect, test } from "bun:test";
import { parseMessageBytes } from "../../src/protocol/message.ts";
import { RpcErrorCode } from "../../src/protocol/rpc-error.ts";
import { connect, makeRouter, ready, session, settle } from "./fakes.ts";

const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": { elicitation: {} },
};

const ASK = { message: "name?", requestedSchema: { type: "object", properties: { name: { type: "string" } } } };

/** The gather window (30 ms) and a margin. */
const gathered = (): Promise<void> => Bun.sleep(80);

/** A JSON value nested `n` deep (arrays), as text: JSON.parse reads it, JSON.stringify of it overflows the stack. */
const deep = (n: number): string => `${"[".repeat(n)}${"]".repeat(n)}`;

describe("attack: the 2026-07-28 leg and its bridge", () => {
  test("a tools/call whose arguments nest absurdly deep is refused, and the client and router go on", async () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const c = connect(router);
    const line = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"x":${deep(200_000)}},"_meta":${JSON.stringify(META)}}}`;
    expect(() => c.sendText(line)).not.toThrow();
    await settle();
    const first = c.port.messages.at(-1) as { id: number; error?: { code: number } };
    expect(first.id).toBe(1);
    expect(first.error?.code).toBe(RpcErrorCode.InvalidParams);
    // The same client is still served.
    c.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "t", arguments: {}, _meta: META } });
    const at = child.last("tools/call");
    child.answer(at.id, { content: [] });
    await settle();
    expect((c.port.messages.at(-1) as { id: number }).id).toBe(2);
  });

  test("a first request whose inputResponses nest absurdly deep: its round is asked, and nothing throws in the gather timer", async () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const c = connect(router);
    const answers = `{"elicitation_1":{"action":"accept","content":{"x":${deep(200_000)}}}}`;
    c.sendText(
      `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{},"inputResponses":${answers},"_meta":${JSON.stringify(META)}}}`,
    );
    const at = child.last("tools/call");
    child.say({ jsonrpc: "2.0", id: "e1", method: "elicitation/create", params: ASK });
    // Before the fix the gather timer threw RangeError here (the request was never answered).
    await gathered();
    const round = c.port.messages.at(-1) as { id: number; result?: { resultType: string; inputRequests: object } };
    expect(round.id).toBe(1);
    expect(round.result?.resultType).toBe("input_required");
    expect(Object.keys(round.result?.inputRequests ?? {})).toEqual(["elicitation_1"]);
    expect(child.lines.some((l) => l.includes('"e1"'))).toBe(false);
    expect(at.id).toBeNumber();
  });

  test("a retry whose answer nests absurdly deep is refused with -32602 and the round can still be resumed", async () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const c = connect(router);
    c.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "t", arguments: {}, _meta: META } });
    const at = child.last("tools/call");
    child.say({ jsonrpc: "2.0", id: "e1", method: "elicitation/create", params: ASK });
    await gathered();
    const state = (c.port.messages.at(-1) as { result: { requestState: string } }).result.requestState;
    const bad = `{"elicitation_1":{"action":"accept","content":{"x":${deep(200_000)}}}}`;
    const retry = (id: number, answers: string): void =>
      c.sendText(
        `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"t","arguments":{},"requestState":${JSON.stringify(state)},"inputResponses":${answers},"_meta":${JSON.stringify(META)}}}`,
      );
    const lines = child.lines.length;
    expect(() => retry(2, bad)).not.toThrow();
    expect(c.port.messages.at(-1)).toMatchObject({
      id: 2,
      error: { code: RpcErrorCode.InvalidParams, data: { reason: "invalid_input_responses" } },
    });
    expect(child.lines.length).toBe(lines);
    retry(3, `{"elicitation_1":{"action":"accept","content":{"name":"Ada"}}}`);
    expect(child.messages.at(-1)).toEqual({
      jsonrpc: "2.0",
      id: "e1",
      result: { action: "accept", content: { name: "Ada" } },
    });
    child.answer(at.id, { content: [] });
    expect(c.port.messages.at(-1)).toMatchObject({ id: 3, result: { resultType: "complete" } });
  });

  test("a child result nested absurdly deep reaches the modern client stamped (written from its text), and one the mux must rewrite as an error, never a throw in the child's line handler", async () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const c = connect(router);
    // Stamped in its text: the client gets the result as a legacy client would, nothing rewritten.
    c.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "t", arguments: {}, _meta: META } });
    let at = child.last("tools/call");
    const line = `{"jsonrpc":"2.0","id":${at.id},"result":{"content":[],"x":${deep(200_000)}}}`;
    expect(() => router.childLine(line)).not.toThrow();
    expect(c.port.messages.at(-1)).toMatchObject({ id: 1, result: { resultType: "complete", content: [] } });
    // A result with its own `_meta` is merged from the parsed value, which cannot be written again.
    c.send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "t", arguments: {}, _meta: META } });
    at = child.last("tools/call");
    const merged = `{"jsonrpc":"2.0","id":${at.id},"result":{"content":[],"_meta":{},"x":${deep(200_000)}}}`;
    expect(() => router.childLine(merged)).not.toThrow();
    expect(c.port.messages.at(-1)).toMatchObject({ id: 2, error: { code: RpcErrorCode.InternalError } });
    expect(router.pending.size).toBe(0);
  });

  test("a state binds big arguments too (byte path): a retry with other big arguments is another request", async () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const c = connect(router);
    const big = (id: number, fill: string, extra: string): Uint8Array =>
      new TextEncoder().encode(
        `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"t","arguments":{"blob":"${fill.repeat(300_000)}"}${extra},"_meta":${JSON.stringify(META)}}}`,
      );
    // Lines this big come in as bytes (the socket's framing and the HTTP front hand them so).
    const first = big(1, "a", "");
    router.clientMessage(c.client, first, parseMessageBytes(first));
    const at = child.last("tools/call");
    child.say({ jsonrpc: "2.0", id: "e1", method: "elicitation/create", params: ASK });
    await gathered();
    const round = c.port.messages.at(-1) as { result: { requestState: string } };
    const state = JSON.stringify(round.result.requestState);
    const answers = `,"requestState":${state},"inputResponses":{"elicitation_1":{"action":"accept","content":{}}}`;
    const other = big(2, "b", answers);
    const lines = child.lines.length;
    router.clientMessage(c.client, other, parseMessageBytes(other));
    expect(c.port.messages.at(-1)).toMatchObject({ id: 2, error: { code: RpcErrorCode.InvalidParams } });
    expect(JSON.stringify(c.port.messages.at(-1))).toContain("wrong-request");
    expect(child.lines.length).toBe(lines);
    // The same big arguments resume it.
    const same = big(3, "a", answers);
    router.clientMessage(c.client, same, parseMessageBytes(same));
    expect(child.messages.at(-1)).toMatchObject({ id: "e1", result: { action: "accept" } });
    expect(at.id).toBeNumber();
  });

  test("a retry whose answer is big (byte path, over 64 KiB) hands that answer to the child", async () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const c = connect(router);
    c.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "t", arguments: {}, _meta: META } });
    child.say({ jsonrpc: "2.0", id: "e1", method: "elicitation/create", params: ASK });
    await gathered();
    const state = (c.port.messages.at(-1) as { result: { requestState: string } }).result.requestState;
    const name = "n".repeat(300_000);
    const retry = new TextEncoder().encode(
      `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"t","arguments":{},"requestState":${JSON.stringify(state)},"inputResponses":{"elicitation_1":{"action":"accept","content":{"name":"${name}"}}},"_meta":${JSON.stringify(META)}}}`,
    );
    router.clientMessage(c.client, retry, parseMessageBytes(retry));
    // The child got the big answer (before: the answer was not seen and the round asked again).
    expect(child.messages.at(-1)).toEqual({
      jsonrpc: "2.0",
      id: "e1",
      result: { action: "accept", content: { name } },
    });
  });

  test("a child question nested absurdly deep: the client gets -32603, the child an error, nothing throws in the gather timer", async () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const c = connect(router);
    c.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "t", arguments: {}, _meta: META } });
    const at = child.last("tools/call");
    router.childLine(
      `{"jsonrpc":"2.0","id":"e1","method":"elicitation/create","params":{"message":"m","requestedSchema":{"type":"object"},"x":${deep(200_000)}}}`,
    );
    await gathered();
    expect(c.port.messages.at(-1)).toMatchObject({ id: 1, error: { code: RpcErrorCode.InternalError } });
    expect(child.messages.find((m) => m.id === "e1")).toMatchObject({ error: { code: RpcErrorCode.InternalError } });
    expect(child.sent("notifications/cancelled").at(-1)).toMatchObject({ params: { requestId: at.id } });
    expect(router.pending.size).toBe(0);
  });

  test("a deeply nested log level (2026-07-28 envelope, logging/setLevel) is refused with -32602, not a throw", async () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const m = connect(router);
    const meta = `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/logLevel":${deep(200_000)}}`;
    expect(() => m.sendText(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{${meta}}}`)).not.toThrow();
    await settle();
    expect(m.port.messages.at(-1)).toMatchObject({ id: 1, error: { code: RpcErrorCode.InvalidParams } });
    const c = session(router);
    expect(() =>
      c.sendText(`{"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":${deep(200_000)}}}`),
    ).not.toThrow();
    await settle();
    expect(c.port.messages.at(-1)).toMatchObject({ id: 2, error: { code: RpcErrorCode.InvalidParams } });
  });

  test("a client's roots answer nested absurdly deep is not a throw; its usable roots are kept", async () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const c = connect(router, { roots: {} });
    c.send({
      jsonrpc: "2.0",
      id: "init",
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: { roots: {} }, clientInfo: { name: "t", version: "1" } },
    });
    c.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    await settle();
    const ask = c.port.messages.find((m) => m.method === "roots/list") as { id: string };
    const roots = `[{"uri":"file:///ok"},{"uri":"file:///deep","x":${deep(200_000)}}]`;
    expect(() =>
      c.sendText(`{"jsonrpc":"2.0","id":${JSON.stringify(ask.id)},"result":{"roots":${roots}}}`),
    ).not.toThrow();
    expect(c.client.roots).toEqual([{ uri: "file:///ok" }]);
  });

  test("the 65th parked round of one owner abandons its oldest: that question gets -32034, its call is cancelled, its state is spent", async () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const c = connect(router);
    const states: string[] = [];
    const calls: number[] = [];
    for (let i = 1; i <= 65; i++) {
      c.send({ jsonrpc: "2.0", id: i, method: "tools/call", params: { name: "t", arguments: { i }, _meta: META } });
      calls.push(child.last("tools/call").id);
      child.say({ jsonrpc: "2.0", id: `e${i}`, method: "elicitation/create", params: ASK });
      await Bun.sleep(40); // the gather window (30 ms) closes
      const round = c.port.messages.at(-1) as { id: number; result: { resultType: string; requestState: string } };
      expect(round).toMatchObject({ id: i, result: { resultType: "input_required" } });
      states.push(round.result.requestState);
    }
    // Only the oldest went: its question answered with an error, its call cancelled.
    const errors = child.messages.filter((m) => typeof m.id === "string" && m.error !== undefined);
    expect(errors.map((m) => m.id)).toEqual(["e1"]);
    expect(errors[0]).toMatchObject({ error: { code: RpcErrorCode.NoRoute } });
    const cancelled = child.sent("notifications/cancelled").map((m) => (m.params as { requestId: number }).requestId);
    expect(cancelled).toEqual([calls[0] as number]);
    const retry = (id: number, i: number, state: string): void =>
      c.send({
        jsonrpc: "2.0",
        id,
        method: "tools/call",
        params: {
          name: "t",
          arguments: { i },
          requestState: state,
          inputResponses: { elicitation_1: { action: "accept", content: {} } },
          _meta: META,
        },
      });
    retry(100, 1, states[0] as string);
    expect(c.port.messages.at(-1)).toMatchObject({ id: 100, error: { code: RpcErrorCode.InvalidParams } });
    // The second oldest is still parked and resumes.
    retry(101, 2, states[1] as string);
    expect(child.messages.at(-1)).toMatchObject({ id: "e2", result: { action: "accept" } });
  });

  test("two retries of one round at once: the first resumes the call, the second is refused, the child is answered once", async () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const c = connect(router);
    c.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "t", arguments: {}, _meta: META } });
    const at = child.last("tools/call");
    child.say({ jsonrpc: "2.0", id: "e1", method: "elicitation/create", params: ASK });
    await gathered();
    const state = (c.port.messages.at(-1) as { result: { requestState: string } }).result.requestState;
    const retry = (id: number, name: string): void =>
      c.send({
        jsonrpc: "2.0",
        id,
        method: "tools/call",
        params: {
          name: "t",
          arguments: {},
          requestState: state,
          inputResponses: { elicitation_1: { action: "accept", content: { name } } },
          _meta: META,
        },
      });
    retry(2, "first");
    retry(3, "second");
    expect(c.port.messages.at(-1)).toMatchObject({ id: 3, error: { code: RpcErrorCode.InvalidParams } });
    const answers = child.messages.filter((m) => m.id === "e1");
    expect(answers).toEqual([{ jsonrpc: "2.0", id: "e1", result: { action: "accept", content: { name: "first" } } }]);
    child.answer(at.id, { content: [] });
    expect(c.port.messages.at(-1)).toMatchObject({ id: 2, result: { resultType: "complete" } });
    expect(c.port.messages.filter((m) => m.id === 2)).toHaveLength(1);
  });

  test("the child crashes while a round is parked: the retry is refused (start over), nothing reaches the next child", async () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const c = connect(router);
    c.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "t", arguments: {}, _meta: META } });
    child.say({ jsonrpc: "2.0", id: "e1", method: "elicitation/create", params: ASK });
    await gathered();
    const state = (c.port.messages.at(-1) as { result: { requestState: string } }).result.requestState;
    router.childGone("crashed", "starting");
    ready(router, child);
    const lines = child.lines.length;
    c.send({
      jsonrpc: "2.0",
      id: 2,
      method: "tools/call",
      params: {
        name: "t",
        arguments: {},
        requestState: state,
        inputResponses: { elicitation_1: { action: "accept", content: {} } },
        _meta: META,
      },
    });
    expect(c.port.messages.at(-1)).toMatchObject({ id: 2, error: { code: RpcErrorCode.InvalidParams } });
    expect(child.lines.length).toBe(lines);
    expect(router.pending.size).toBe(0);
  });
});
