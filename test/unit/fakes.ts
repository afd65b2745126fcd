/**
 * In-process fakes for the routing core's unit tests: a fake child (the router's `RouterHost`,
 * recording every line the router writes and able to answer) and fake clients (`ClientPort`
 * implementations recording what they get). Nothing of ours is mocked: the real `Router`,
 * `MuxClient` and units run; only the process and the transport are replaced.
 */

import { type ClientPort, MuxClient, type SendKind } from "../../src/mux/client.ts";
import { Router, type RouterHost, type RouterOptions } from "../../src/mux/router.ts";
import type { WireLine } from "../../src/protocol/message.ts";

const decoder = new TextDecoder();

/** The text of a wire line (pieces joined). */
export function text(line: WireLine): string {
  return typeof line === "string" ? line : line.map((p) => (typeof p === "string" ? p : decoder.decode(p))).join("");
}

/** A child process stand-in: records the router's lines, counts lazy starts and restarts asked. */
export class FakeChild implements RouterHost {
  readonly lines: string[] = [];
  readonly unusable: string[] = [];
  ensured = 0;
  router!: Router;

  writeChild(line: WireLine): boolean {
    this.lines.push(text(line));
    return true;
  }
  ensureChild(): void {
    this.ensured++;
  }
  childUnusable(reason: string): void {
    this.unusable.push(reason);
  }
  changed(): void {}
  status(): unknown {
    return { service: "unit" };
  }

  /** Every line the router wrote, parsed. */
  get messages(): Record<string, unknown>[] {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** The messages of `method` the router sent. */
  sent(method: string): Record<string, unknown>[] {
    return this.messages.filter((m) => m.method === method);
  }

  /** The last request of `method` (it must exist). */
  last(method: string): { id: number; params: Record<string, unknown>; raw: string } {
    const i = this.lines.findLastIndex((l) => (JSON.parse(l) as { method?: string }).method === method);
    if (i < 0) throw new Error(`the child never got ${method}; it got: ${this.lines.join("\n")}`);
    const m = JSON.parse(this.lines[i] as string) as { id: number; params: Record<string, unknown> };
    return { id: m.id, params: m.params, raw: this.lines[i] as string };
  }

  /** Answer the router's request `id` with `result`, as the child would (one stdout line). */
  answer(id: number, result: unknown): void {
    this.router.childLine(JSON.stringify({ jsonrpc: "2.0", id, result }));
  }

  /** Answer with an error. */
  fail(id: number, code: number, message: string, data?: unknown): void {
    this.router.childLine(JSON.stringify({ jsonrpc: "2.0", id, error: { code, message, data } }));
  }

  /** A line the child writes (notification, request). */
  say(message: unknown): void {
    this.router.childLine(JSON.stringify(message));
  }
}

/** One received line of a fake client. */
export interface Got {
  line: string;
  kind: SendKind;
  related: string | undefined;
}

/** A transport stand-in: records what the client is sent. */
export class FakePort implements ClientPort {
  readonly got: Got[] = [];
  readonly closed: string[] = [];
  backlog = 0;
  wakes = 0;

  write(line: WireLine, kind: SendKind, related: string | undefined): void {
    this.got.push({ line: text(line), kind, related });
  }
  close(reason: string): void {
    this.closed.push(reason);
  }
  wake(): void {
    this.wakes++;
  }

  /** What the client got, parsed. */
  get messages(): Record<string, unknown>[] {
    return this.got.map((g) => JSON.parse(g.line) as Record<string, unknown>);
  }
}

/** A client of a router, through a fake port. */
export interface TestClient {
  client: MuxClient;
  port: FakePort;
  /** Send one line as this client. */
  send(message: unknown): void;
  /** Send exact text. */
  sendText(line: string): void;
}

let nextClientId = 1;

/** A router with a fake child, under test options. */
export function makeRouter(options: Partial<RouterOptions> = {}): { router: Router; child: FakeChild } {
  const child = new FakeChild();
  const router = new Router(
    {
      requestTimeoutMs: 30_000,
      maxActiveClients: 100,
      maxConcurrentRequests: 0,
      rootsPolicy: "intersection",
      ambiguousRoute: "error",
      childCapabilities: "all",
      era: "legacy",
      clientInfo: { name: "mcp-mux", version: "test" },
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      ...options,
    },
    child,
  );
  child.router = router;
  return { router, child };
}

/** A client attached to `router` (not initialized). */
export function connect(
  router: Router,
  capabilities: Record<string, unknown> = {},
): TestClient & {
  capabilities: Record<string, unknown>;
} {
  const port = new FakePort();
  const client = new MuxClient(nextClientId++, "unit", port, { highWaterBytes: 1 << 20, maxInflight: 1000 });
  router.attach(client);
  const sendText = (line: string): void => {
    client.greeted = true;
    router.clientLine(client, line);
  };
  return { client, port, capabilities, sendText, send: (m) => sendText(JSON.stringify(m)) };
}

/** The child's initialize answer in tests. */
export const INIT_RESULT = {
  protocolVersion: "2025-06-18",
  capabilities: { tools: { listChanged: true }, resources: { subscribe: true }, logging: {} },
  serverInfo: { name: "fake", version: "1" },
};

/** Start the child and answer its initialize: the router is ready. */
export function ready(router: Router, child: FakeChild, result: unknown = INIT_RESULT): void {
  router.state = "starting";
  router.childStarted();
  child.answer(child.last("initialize").id, result);
}

/** A connected, initialized, operational client. */
export function session(router: Router, capabilities: Record<string, unknown> = {}): TestClient {
  const c = connect(router, capabilities);
  c.send({
    jsonrpc: "2.0",
    id: "init",
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities, clientInfo: { name: "t", version: "1" } },
  });
  c.send({ jsonrpc: "2.0", method: "notifications/initialized" });
  c.port.got.length = 0;
  return c;
}

/** Let queued microtasks (released slots, settled clients) run. */
export async function settle(): Promise<void> {
  await Promise.resolve();
  await Bun.sleep(0);
}
