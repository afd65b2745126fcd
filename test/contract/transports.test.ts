/**
 * The transport contract: the same client scenarios against every way into a service (the
 * Unix socket through the real mux-proxy, and the Streamable HTTP front), with the official
 * SDK client and the compiled daemon. A new transport adds one entry to TRANSPORTS.
 */

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { ClientCapabilities } from "@modelcontextprotocol/sdk/types.js";
import { CreateMessageRequestSchema, ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import type { MuxOptions } from "../../src/index.ts";
import { fakeServer, type Json, recorded, sdkClient, type Target, testScope, textOf, waitFor } from "../helpers.ts";

const scope = testScope("bin");

/** One way in: connect an SDK client to a running target. */
interface Transport {
  name: string;
  connect(t: Target, capabilities?: ClientCapabilities): Promise<Client>;
}

const TRANSPORTS: Transport[] = [
  {
    name: "socket (mux-proxy)",
    async connect(t, capabilities = {}) {
      const c = await sdkClient(t.socket, { capabilities });
      scope.defer(() => c.close());
      return c;
    },
  },
  {
    name: "http",
    async connect(t, capabilities = {}) {
      const c = new Client({ name: "contract", version: "1" }, { capabilities });
      await c.connect(new StreamableHTTPClientTransport(new URL(t.httpUrl as string)));
      scope.defer(() => c.close());
      return c;
    },
  },
];

async function serve(extra: Partial<MuxOptions> = {}): Promise<{ t: Target; dir: string }> {
  const dir = scope.dir();
  const t = await scope.target({
    socket: join(dir, "c.sock"),
    ...fakeServer(dir),
    ...extra,
    // A vanished HTTP client is told by its session going idle (no stream, no request): 1 s here.
    http: { listen: "127.0.0.1:0", auth: "none", sessionIdleMs: 1000 },
  });
  return { t, dir };
}

const call = (c: Client, name: string, args: Json = {}) => c.callTool({ name, arguments: args });

/** The child's received messages of `method`. */
const atChild = (dir: string, method: string): Json[] => recorded(dir).filter((m) => m.method === method);

for (const transport of TRANSPORTS) {
  describe(`transport contract: ${transport.name}`, () => {
    test("initialize is answered from the cache: two clients, one initialize at the child", async () => {
      const { t, dir } = await serve();
      const a = await transport.connect(t);
      const b = await transport.connect(t);
      expect(a.getServerVersion()?.name).toBe("fake-server");
      expect(b.getServerVersion()?.name).toBe("fake-server");
      expect(JSON.parse(textOf(await call(b, "whoami"))).initializeCount).toBe(1);
      expect(atChild(dir, "initialize")).toHaveLength(1);
    });

    test("a tool call, with its progress", async () => {
      const { t } = await serve();
      const c = await transport.connect(t);
      expect(JSON.parse(textOf(await call(c, "echo", { word: "héllo" })))).toEqual({ word: "héllo" });
      const seen: number[] = [];
      const result = await c.callTool({ name: "progress", arguments: { steps: 3 } }, undefined, {
        onprogress: (p) => seen.push(p.progress),
      });
      expect(JSON.parse(textOf(result))).toEqual({ steps: 3 });
      expect(seen).toEqual([1, 2, 3]);
    });

    test("a server→client request reaches the calling client and its answer the server", async () => {
      const { t } = await serve();
      const c = await transport.connect(t, { sampling: {} });
      c.setRequestHandler(CreateMessageRequestSchema, async () => ({
        role: "assistant",
        content: { type: "text", text: `sampled by ${transport.name}` },
        model: "m",
      }));
      const answer = JSON.parse(textOf(await call(c, "sample"))) as { result: { content: { text: string } } };
      expect(answer.result.content.text).toBe(`sampled by ${transport.name}`);
    });

    test("a cancelled call is cancelled at the child", async () => {
      const { t, dir } = await serve();
      const c = await transport.connect(t);
      const abort = new AbortController();
      const pending = c.callTool({ name: "hang", arguments: {} }, undefined, { signal: abort.signal });
      await waitFor(() => atChild(dir, "tools/call").length > 0, 5000, "the call to reach the child");
      abort.abort("enough");
      await expect(pending).rejects.toThrow();
      await waitFor(() => atChild(dir, "notifications/cancelled").length > 0, 5000, "the cancel to reach the child");
      const callId = atChild(dir, "tools/call")[0]?.id;
      expect((atChild(dir, "notifications/cancelled")[0]?.params as Json).requestId).toBe(callId);
    });

    test("subscriptions fan out: one subscribe at the child, the update to both clients", async () => {
      const { t, dir } = await serve();
      const got: string[] = [];
      const clients = [await transport.connect(t), await transport.connect(t)];
      clients.forEach((c, i) => {
        c.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => {
          got.push(`${i}:${n.params.uri}`);
        });
      });
      for (const c of clients) await c.subscribeResource({ uri: "demo://r" });
      expect(atChild(dir, "resources/subscribe")).toHaveLength(1);
      await call(clients[0] as Client, "notify", {
        method: "notifications/resources/updated",
        params: { uri: "demo://r" },
      });
      await waitFor(() => got.length >= 2, 5000, "both clients to get the update");
      expect(got.sort()).toEqual(["0:demo://r", "1:demo://r"]);
    });

    test("a client vanishing mid-request: its call is cancelled at the child, others go on", async () => {
      const { t, dir } = await serve();
      const gone = await transport.connect(t);
      const other = await transport.connect(t);
      void call(gone, "hang").catch(() => {});
      await waitFor(() => atChild(dir, "tools/call").length > 0, 5000, "the call to reach the child");
      await gone.close(); // the socket closes; an HTTP client just stops (no DELETE): its session idles out
      await waitFor(() => atChild(dir, "notifications/cancelled").length > 0, 10_000, "the cancel to reach the child");
      expect(JSON.parse(textOf(await call(other, "echo", { still: true })))).toEqual({ still: true });
    });

    test("backpressure: past max_client_inflight a client's requests wait in the transport, never at the server", async () => {
      const { t } = await serve({ maxClientInflight: 2 });
      const c = await transport.connect(t);
      const calls = Array.from({ length: 6 }, (_, i) => call(c, "slow", { ms: 150, i }));
      const answers = (await Promise.all(calls)).map((r) => (JSON.parse(textOf(r)) as { i: number }).i);
      expect(answers).toEqual([0, 1, 2, 3, 4, 5]);
      expect(JSON.parse(textOf(await call(c, "peak"))).peak).toBeLessThanOrEqual(2);
    });

    test("backpressure: a client at its in-flight limit still answers the server's questions", async () => {
      const { t } = await serve({ maxClientInflight: 1 });
      const c = await transport.connect(t, { sampling: {} });
      c.setRequestHandler(CreateMessageRequestSchema, async () => ({
        role: "assistant",
        content: { type: "text", text: "answered while saturated" },
        model: "m",
      }));
      const answer = JSON.parse(textOf(await call(c, "sample"))) as { result: { content: { text: string } } };
      expect(answer.result.content.text).toBe("answered while saturated");
    });

    test("a big message both ways (over the byte-path threshold) arrives whole", async () => {
      const { t } = await serve();
      const c = await transport.connect(t);
      const payload = "é".repeat(400 * 1024); // 800 KiB of UTF-8: past 256 KiB, under the 1 MiB request limit
      const back = JSON.parse(textOf(await call(c, "echo", { payload }))) as { payload: string };
      expect(back.payload.length).toBe(payload.length);
      expect(back.payload === payload).toBe(true);
    });
  });
}
