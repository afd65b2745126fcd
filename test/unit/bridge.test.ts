/**
 * The input_required bridge in process (`src/mux/era2026/bridge.ts`): the real router with a
 * fake child that asks server→client questions while serving a 2026-07-28 client's request.
 */

import { describe, expect, test } from "bun:test";
import { RpcErrorCode } from "../../src/protocol/rpc-error.ts";
import { connect, type FakeChild, makeRouter, ready, settle, type TestClient } from "./fakes.ts";

const ALL = { sampling: {}, elicitation: {}, roots: {} };

function call(c: TestClient, id: number | string, params: Record<string, unknown>, caps: unknown = ALL): void {
  const { _meta, ...rest } = params as { _meta?: Record<string, unknown> };
  c.send({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: {
      ...rest,
      _meta: {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": caps,
        ..._meta,
      },
    },
  });
}

const ASK_NAME = {
  message: "What is your name?",
  requestedSchema: { type: "object", properties: { name: { type: "string" } } },
};

/** The gather window (30 ms) and a margin. */
const gathered = (): Promise<void> => Bun.sleep(80);

function lastTo(c: TestClient): Record<string, unknown> {
  return c.port.messages.at(-1) as Record<string, unknown>;
}

function childAsks(child: FakeChild, id: string, method: string, params: unknown): void {
  child.say({ jsonrpc: "2.0", id, method, params });
}

async function firstRound(options: { requestTimeoutMs?: number } = {}) {
  const { router, child } = makeRouter(options);
  ready(router, child);
  const c = connect(router);
  call(c, 1, { name: "greet", arguments: { who: "me" } });
  const at = child.last("tools/call");
  childAsks(child, "e1", "elicitation/create", ASK_NAME);
  await gathered();
  const res = lastTo(c) as { id: number; result: Record<string, unknown> };
  return { router, child, c, at, res, state: res.result.requestState as string };
}

describe("input_required bridge", () => {
  test("a round: input_required to the client, the retry answers the child's question and gets the real result", async () => {
    const { router, child, c, at, res, state } = await firstRound();
    expect(res.id).toBe(1);
    expect(res.result).toMatchObject({
      resultType: "input_required",
      inputRequests: { elicitation_1: { method: "elicitation/create", params: ASK_NAME } },
      requestState: expect.any(String),
    });
    expect(child.lines.some((l) => l.includes('"e1"'))).toBe(false);
    const before = child.sent("tools/call").length;
    call(c, 2, {
      name: "greet",
      arguments: { who: "me" },
      inputResponses: { elicitation_1: { action: "accept", content: { name: "Ada" } }, extra: { x: 1 } },
      requestState: state,
    });
    // The retry resumes the parked call: no second tools/call, the answer goes under the child's id.
    expect(child.sent("tools/call").length).toBe(before);
    expect(child.messages.at(-1)).toEqual({
      jsonrpc: "2.0",
      id: "e1",
      result: { action: "accept", content: { name: "Ada" } },
    });
    child.answer(at.id, { content: [{ type: "text", text: "Hello, Ada!" }] });
    expect(lastTo(c)).toMatchObject({
      id: 2,
      result: { resultType: "complete", content: [{ type: "text", text: "Hello, Ada!" }] },
    });
    expect(router.pending.size).toBe(0);
  });

  test("tampered, reused, foreign and other-request states are refused with -32602 before the child sees anything", async () => {
    const { router, child, c, state } = await firstRound();
    const lines = child.lines.length;
    const answer = { elicitation_1: { action: "accept", content: { name: "Ada" } } };
    const retry = (who: TestClient, id: number, extra: Record<string, unknown>) =>
      call(who, id, { name: "greet", arguments: { who: "me" }, inputResponses: answer, ...extra });
    retry(c, 2, { requestState: `${state}-TAMPERED` });
    expect(lastTo(c)).toMatchObject({ id: 2, error: { code: RpcErrorCode.InvalidParams } });
    expect(JSON.stringify(lastTo(c))).toContain("tampered");
    const other = connect(router);
    retry(other, 3, { requestState: state });
    expect(lastTo(other)).toMatchObject({ id: 3, error: { code: RpcErrorCode.InvalidParams } });
    expect(JSON.stringify(lastTo(other))).toContain("foreign-owner");
    call(c, 4, { name: "greet", arguments: { who: "you" }, inputResponses: answer, requestState: state });
    expect(JSON.stringify(lastTo(c))).toContain("wrong-request");
    c.send({
      jsonrpc: "2.0",
      id: 5,
      method: "prompts/get",
      params: {
        name: "greet",
        arguments: { who: "me" },
        inputResponses: answer,
        requestState: state,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientCapabilities": ALL,
        },
      },
    });
    expect(JSON.stringify(lastTo(c))).toContain("wrong-request");
    // A malformed answer is refused too, and nothing went to the child.
    call(c, 6, {
      name: "greet",
      arguments: { who: "me" },
      inputResponses: { elicitation_1: { content: {} } },
      requestState: state,
    });
    expect(lastTo(c)).toMatchObject({ id: 6, error: { code: RpcErrorCode.InvalidParams } });
    expect(child.lines.length).toBe(lines);
    // The genuine retry still works once, and then its state is spent.
    retry(c, 7, { requestState: state });
    expect(child.lines.length).toBe(lines + 1);
    retry(c, 8, { requestState: state });
    expect(lastTo(c)).toMatchObject({ id: 8, error: { code: RpcErrorCode.InvalidParams } });
    expect(child.lines.length).toBe(lines + 1);
  });

  test("a round nobody resumes is abandoned after the request timeout: the child's question gets an error, its call is cancelled", async () => {
    const { child, c, at, state } = await firstRound({ requestTimeoutMs: 150 });
    expect(child.lines.some((l) => l.includes('"e1"'))).toBe(false);
    await Bun.sleep(300);
    const released = child.messages.find((m) => m.id === "e1") as { error?: { code: number } };
    expect(released?.error?.code).toBe(RpcErrorCode.RequestTimeout);
    expect(child.sent("notifications/cancelled").map((m) => (m.params as { requestId: number }).requestId)).toEqual([
      at.id,
    ]);
    call(c, 2, {
      name: "greet",
      arguments: { who: "me" },
      inputResponses: { elicitation_1: { action: "accept", content: { name: "Ada" } } },
      requestState: state,
    });
    expect(lastTo(c)).toMatchObject({ id: 2, error: { code: RpcErrorCode.InvalidParams } });
  });

  test("a connection that goes has its parked round released at the child at once, long before the timeout", async () => {
    const { router, child, c, at } = await firstRound({ requestTimeoutMs: 600_000 });
    router.detach(c.client, "gone");
    const released = (): Record<string, unknown> | undefined => child.messages.find((m) => m.id === "e1");
    for (let i = 0; i < 400 && !released(); i++) await Bun.sleep(50);
    expect(released()).toMatchObject({ error: { code: RpcErrorCode.NoRoute } });
    expect(child.sent("notifications/cancelled").map((m) => (m.params as { requestId: number }).requestId)).toEqual([
      at.id,
    ]);
  }, 30_000);

  test("several questions in one round, then a second round with a new state", async () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const c = connect(router);
    call(c, 1, { name: "multi" });
    const at = child.last("tools/call");
    childAsks(child, "e1", "elicitation/create", ASK_NAME);
    childAsks(child, "s1", "sampling/createMessage", { messages: [], maxTokens: 5 });
    childAsks(child, "r1", "roots/list", {});
    await gathered();
    const r1 = (lastTo(c) as { result: { inputRequests: Record<string, unknown>; requestState: string } }).result;
    expect(Object.keys(r1.inputRequests).sort()).toEqual(["elicitation_1", "roots_1", "sampling_1"]);
    // Answering only part of the round: what is still open is asked again, under a new state.
    call(c, 2, {
      name: "multi",
      inputResponses: { roots_1: { roots: [{ uri: "file:///w" }] } },
      requestState: r1.requestState,
    });
    const r2 = (lastTo(c) as { id: number; result: { inputRequests: Record<string, unknown>; requestState: string } })
      .result;
    expect(Object.keys(r2.inputRequests).sort()).toEqual(["elicitation_1", "sampling_1"]);
    expect(r2.requestState).not.toBe(r1.requestState);
    expect(child.messages.find((m) => m.id === "r1")).toMatchObject({ result: { roots: [{ uri: "file:///w" }] } });
    call(c, 3, {
      name: "multi",
      inputResponses: {
        elicitation_1: { action: "decline" },
        sampling_1: { role: "assistant", content: { type: "text", text: "hi" }, model: "m" },
      },
      requestState: r2.requestState,
    });
    // The child asks again: a new round for the retry, with a fresh key and a fresh state.
    childAsks(child, "e2", "elicitation/create", ASK_NAME);
    await gathered();
    const r3 = (lastTo(c) as { id: number; result: { inputRequests: Record<string, unknown>; requestState: string } })
      .result;
    expect((lastTo(c) as { id: number }).id).toBe(3);
    expect(Object.keys(r3.inputRequests)).toEqual(["elicitation_2"]);
    expect(new Set([r1.requestState, r2.requestState, r3.requestState]).size).toBe(3);
    call(c, 4, {
      name: "multi",
      inputResponses: { elicitation_2: { action: "accept", content: { name: "Bo" } } },
      requestState: r3.requestState,
    });
    child.answer(at.id, { content: [] });
    expect(lastTo(c)).toMatchObject({ id: 4, result: { resultType: "complete" } });
    expect(child.sent("tools/call").length).toBe(1);
  });

  test("a question the child asks while its call is parked (and nothing else is at the child) is asked in the next round", async () => {
    const { router, child, c, at, state } = await firstRound();
    childAsks(child, "s1", "sampling/createMessage", { messages: [], maxTokens: 5 });
    call(c, 2, {
      name: "greet",
      arguments: { who: "me" },
      inputResponses: { elicitation_1: { action: "accept", content: { name: "Ada" } } },
      requestState: state,
    });
    const r2 = lastTo(c) as { id: number; result: { resultType: string; inputRequests: Record<string, unknown> } };
    expect(r2.id).toBe(2);
    expect(r2.result.resultType).toBe("input_required");
    expect(Object.keys(r2.result.inputRequests)).toEqual(["sampling_1"]);
    expect(child.messages.find((m) => m.id === "s1")).toBeUndefined();
    expect(child.sent("tools/call").map((m) => m.id)).toEqual([at.id]);
    expect(router.pending.has(at.id)).toBe(true);
  });

  test("only the declared kinds are offered; a round with nothing declared is -32021 and the call cancelled", async () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const c = connect(router);
    call(c, 1, { name: "both" }, { sampling: {} });
    childAsks(child, "e1", "elicitation/create", ASK_NAME);
    childAsks(child, "s1", "sampling/createMessage", { messages: [], maxTokens: 5 });
    await gathered();
    const r1 = (lastTo(c) as { result: { inputRequests: Record<string, unknown> } }).result;
    expect(Object.keys(r1.inputRequests)).toEqual(["sampling_1"]);
    expect(child.messages.find((m) => m.id === "e1")).toMatchObject({ error: { code: RpcErrorCode.NoRoute } });

    call(c, 2, { name: "needs" }, {});
    const at = child.last("tools/call");
    childAsks(child, "s2", "sampling/createMessage", { messages: [], maxTokens: 5 });
    await gathered();
    expect(lastTo(c)).toMatchObject({
      id: 2,
      error: { code: RpcErrorCode.MissingRequiredClientCapability, data: { requiredCapabilities: { sampling: {} } } },
    });
    expect(child.messages.find((m) => m.id === "s2")).toMatchObject({ error: { code: RpcErrorCode.NoRoute } });
    expect(
      child.sent("notifications/cancelled").some((m) => (m.params as { requestId: number }).requestId === at.id),
    ).toBe(true);
  });

  test("a request without state that carries the answer under the call's key has the child's question answered from it", async () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const c = connect(router);
    call(c, 1, {
      name: "greet",
      inputResponses: { elicitation_1: { action: "accept", content: { name: "Cy" } }, unrelated: { a: 1 } },
    });
    const at = child.last("tools/call");
    expect(at.params.inputResponses).toBeUndefined();
    childAsks(child, "e1", "elicitation/create", ASK_NAME);
    await gathered();
    expect(child.messages.find((m) => m.id === "e1")).toMatchObject({ result: { content: { name: "Cy" } } });
    expect(c.port.got.length).toBe(0);
    child.answer(at.id, { content: [] });
    expect(lastTo(c)).toMatchObject({ id: 1, result: { resultType: "complete" } });
    // inputResponses that are not results at all are refused before the child sees the request.
    const n = child.lines.length;
    call(c, 2, { name: "greet", inputResponses: { elicitation_1: 12345 } });
    expect(lastTo(c)).toMatchObject({ id: 2, error: { code: RpcErrorCode.InvalidParams } });
    expect(child.lines.length).toBe(n);
    await settle();
  });
});
