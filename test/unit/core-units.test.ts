/** Slots, the handshake, deadlines: the routing core's own units, in process. */

import { describe, expect, test } from "bun:test";
import { MuxClient } from "../../src/mux/client.ts";
import { Deadlines } from "../../src/mux/deadlines.ts";
import { HeldQueue, type HeldRequest } from "../../src/mux/routing/held.ts";
import { type BridgedTask, TaskOwners } from "../../src/mux/routing/tasks.ts";
import { Slots } from "../../src/mux/slots.ts";
import { parseMessage, type RequestMessage } from "../../src/protocol/message.ts";
import { RpcErrorCode } from "../../src/protocol/rpc-error.ts";
import { connect, FakePort, INIT_RESULT, makeRouter, ready, session } from "./fakes.ts";

/** Poll until `check` holds (a timer of the unit under test must fire); fails after 5 s. */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await Bun.sleep(5);
  expect(check()).toBe(true);
}

const client = (): MuxClient => new MuxClient(0, "unit", new FakePort(), { highWaterBytes: 1 << 20, maxInflight: 100 });
const request = (id: number, method = "tools/call"): RequestMessage =>
  parseMessage(JSON.stringify({ jsonrpc: "2.0", id, method })) as RequestMessage;

describe("Slots", () => {
  test("at most `max` clients at the child; a held request goes once a slot frees, in arrival order", () => {
    const slots = new Slots(1);
    const a = client();
    const b = client();
    const c = client();
    expect(slots.admits(a, "tools/call")).toBe(true);
    slots.take(a, "tools/call");
    expect(slots.admits(a, "tools/call")).toBe(true); // an active client keeps its slot
    expect(slots.admits(b, "tools/call")).toBe(false);
    const ran: string[] = [];
    const hold = (who: MuxClient, name: string, id: number): void =>
      slots.hold(
        {
          client: who,
          msg: request(id),
          run: () => {
            ran.push(name);
            slots.take(who, "tools/call");
          },
          refuse: () => ran.push(`refused ${name}`),
        },
        60_000,
        () => ran.push(`expired ${name}`),
      );
    hold(b, "b", 1);
    hold(c, "c", 2);
    expect(slots.queued).toBe(2);
    slots.pump();
    expect(ran).toEqual([]);
    expect(slots.release(a)).toBe(true);
    slots.pump();
    expect(ran).toEqual(["b"]); // c waits for b's slot
    expect(slots.release(b)).toBe(true);
    slots.pump();
    expect(ran).toEqual(["b", "c"]);
    expect(slots.queued).toBe(0);
  });

  test("the request limit counts requests, not pings or listens; refuseAll answers every held one", () => {
    const slots = new Slots(100, 1);
    const a = client();
    expect(slots.take(a, "tools/call")).toBe(true);
    expect(slots.admits(a, "tools/call")).toBe(false);
    expect(slots.admits(a, "ping")).toBe(true);
    expect(slots.take(a, "ping")).toBe(false);
    const answers: string[] = [];
    slots.hold({ client: a, msg: request(5), run() {}, refuse: (l) => answers.push(l) }, 60_000, () => {});
    slots.refuseAll((rawId) => `no ${rawId}`);
    expect(answers).toEqual(["no 5"]);
    expect(slots.queued).toBe(0);
  });

  test("a cancelled or departed client's held requests are forgotten, unanswered", () => {
    const slots = new Slots(0);
    const a = client();
    const b = client();
    const ran: string[] = [];
    const hold = (who: MuxClient, id: number): void =>
      slots.hold(
        { client: who, msg: request(id), run: () => ran.push(`run ${id}`), refuse: () => ran.push(`refuse ${id}`) },
        60_000,
        () => ran.push(`expired ${id}`),
      );
    hold(a, 1);
    hold(a, 2);
    hold(b, 3);
    expect(slots.cancel(a, request(1).key)).toBe(true);
    slots.drop(b);
    expect(slots.queued).toBe(1);
    slots.refuseAll(() => "x");
    expect(ran).toEqual(["refuse 2"]);
  });
});

describe("HeldQueue (one queue for the slots and the handshake)", () => {
  test("a held request is in flight (id 0); expiry removes it and its mark, then answers it", async () => {
    const q = new HeldQueue<HeldRequest>();
    const a = client();
    const expired: unknown[] = [];
    q.hold({ client: a, msg: request(1) }, 10, (e) => expired.push([e.msg.rawId, a.inflight.has(e.msg.key)]));
    q.hold({ client: a, msg: request(2) }, 60_000, () => expired.push("wrong"));
    expect([...a.inflight]).toEqual([
      [request(1).key, 0],
      [request(2).key, 0],
    ]);
    await until(() => expired.length > 0);
    expect(expired).toEqual([["1", false]]);
    expect(q.size).toBe(1);
    expect(q.takeAll().map((e) => e.msg.rawId)).toEqual(["2"]);
    expect(a.inflight.size).toBe(0);
  });

  test("release lets entries go oldest first, each seeing the one before; closed clients' entries are forgotten", () => {
    const q = new HeldQueue<HeldRequest>();
    const a = client();
    const gone = client();
    gone.closed = true;
    for (const [c, id] of [
      [a, 1],
      [gone, 2],
      [a, 3],
      [a, 4],
    ] as const)
      q.hold({ client: c, msg: request(id) }, 60_000, () => {});
    let budget = 2;
    const ran: string[] = [];
    q.release(
      () => budget > 0,
      (e) => {
        budget--;
        ran.push(e.msg.rawId);
      },
    );
    expect(ran).toEqual(["1", "3"]);
    expect(q.size).toBe(1);
    expect(q.first?.msg.rawId).toBe("4");
    expect(q.forget((e) => e.msg.rawId === "4")).toBe(true);
    expect(q.forget(() => true)).toBe(false);
    q.takeAll();
  });
});

describe("Handshake", () => {
  test("auto: the child waits for the first client, is initialized with its capabilities, and the result is cached", () => {
    const { router, child } = makeRouter({ childCapabilities: "auto" });
    router.childStarted();
    expect(router.state).toBe("waiting");
    expect(child.lines).toEqual([]);
    const a = connect(router, {});
    a.send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: { sampling: {} },
        clientInfo: { name: "a", version: "1" },
      },
    });
    const init = child.last("initialize");
    expect(init.params.capabilities).toEqual({ sampling: {} });
    expect(a.port.got).toEqual([]); // waits for the child
    child.answer(init.id, INIT_RESULT);
    expect(router.state).toBe("ready");
    expect(child.lines).toContain('{"jsonrpc":"2.0","method":"notifications/initialized"}');
    expect(a.port.messages[0]).toMatchObject({ id: 1, result: { serverInfo: { name: "fake" } } });
    const before = child.lines.length;
    const b = session(router);
    expect(child.lines.slice(before).some((l) => l.includes('"initialize"'))).toBe(false);
    expect(router.clients.has(b.client)).toBe(true);
    expect(b.client.initialized).toBe(true);
  });

  test("an initialize waiting for the child times out with -32001; a rejected initialize asks for a restart", async () => {
    const { router, child } = makeRouter({ requestTimeoutMs: 20 });
    const a = connect(router);
    a.send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {} },
    });
    expect(child.ensured).toBeGreaterThan(0);
    await until(() => a.port.got.length > 0);
    expect(a.port.messages[0]).toMatchObject({ id: 1, error: { code: RpcErrorCode.RequestTimeout } });
    expect(a.client.inflight.size).toBe(0);
    router.childStarted();
    child.fail(child.last("initialize").id, -32603, "boom");
    expect(child.unusable).toEqual(["initialize failed: boom (-32603)"]);
  });

  test("a failed or stopping child refuses every waiting initialize", () => {
    const { router } = makeRouter();
    const a = connect(router);
    a.send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {} },
    });
    router.fail("spawn failed");
    expect(a.port.messages[0]).toMatchObject({ id: 1, error: { code: RpcErrorCode.ServiceFailed } });
  });

  test("a restarted child with a different protocol version closes initialized clients", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router);
    router.childGone("crashed", "restarting");
    ready(router, child, { ...INIT_RESULT, protocolVersion: "2025-03-26" });
    expect(a.port.closed).toEqual(["server restarted with a different protocol version"]);
  });
});

describe("Deadlines", () => {
  test("one sweep expires every entry past its deadline, never an exempt or a later one, and re-arms", async () => {
    const now = performance.now();
    const pending = new Map<number, { deadline?: number }>([
      [1, { deadline: now - 10 }],
      [2, { deadline: now - 5 }],
      [3, {}],
      [4, { deadline: now + 60_000 }],
    ]);
    const expired: number[] = [];
    const deadlines = new Deadlines(pending, (p) => {
      for (const [k, v] of pending)
        if (v === p) {
          expired.push(k);
          pending.delete(k); // as the router does
        }
    });
    deadlines.arm();
    await until(() => expired.length > 0);
    expect(expired).toEqual([1, 2]);
    expect([...pending.keys()]).toEqual([3, 4]);
    deadlines.clear();
  });

  test("through the router: a request the child never answers gets -32001 and is cancelled at the child", async () => {
    const { router, child } = makeRouter({ requestTimeoutMs: 20 });
    ready(router, child);
    const a = session(router);
    a.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "never" } });
    const { id } = child.last("tools/call");
    await until(() => a.port.got.length > 0);
    expect(a.port.messages[0]).toMatchObject({ id: 1, error: { code: RpcErrorCode.RequestTimeout } });
    expect(child.last("notifications/cancelled").params).toEqual({
      requestId: id,
      reason: "request timed out in mcp-mux",
    });
    expect(router.pending.size).toBe(0);
  });
});

describe("TaskOwners: tasks of 2026-07-28 clients over a legacy child", () => {
  const bridged = (taskId: string, over: Partial<BridgedTask> = {}): BridgedTask => ({
    taskId,
    owner: "http",
    ownerClient: undefined,
    capabilities: {},
    task: { taskId, status: "working" },
    inputs: new Map(),
    ordinals: new Map(),
    final: undefined,
    resultOpen: false,
    onFinal: [],
    expiresAt: Date.now() + 60_000,
    ...over,
  });

  test("bounded (the oldest go), expired ones are gone, a socket owner's go with it, clear() empties", () => {
    const owners = new TaskOwners();
    for (const id of ["a", "b", "c"]) owners.noteBridged(bridged(id), 2);
    expect(owners.bridged("a")).toBeUndefined();
    expect(owners.bridged("b")?.taskId).toBe("b");
    expect(owners.size).toBe(2);
    owners.noteBridged(bridged("old", { expiresAt: Date.now() - 1 }), 10);
    expect(owners.bridged("old")).toBeUndefined();
    const socket = client();
    owners.noteBridged(bridged("s", { owner: "socket:0", ownerClient: socket }), 10);
    owners.noteBridged(bridged("done", { task: { taskId: "done", status: "completed" } }), 10);
    expect(owners.size).toBe(3); // a terminal task keeps nothing awake
    owners.dropClient(socket);
    expect(owners.bridged("s")).toBeUndefined();
    expect(owners.bridged("b")?.taskId).toBe("b");
    owners.clear();
    expect(owners.bridged("b")).toBeUndefined();
    expect(owners.size).toBe(0);
  });
});
