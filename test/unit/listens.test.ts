/**
 * `subscriptions/listen` caps (src/mux/era2026/modern.ts): a client holds at most 64 open
 * listens, except the HTTP front's shared stateless client, which stands for every HTTP client
 * of the service at once (each listen there holds a connection of its own): 4096.
 */

import { describe, expect, test } from "bun:test";
import { MuxClient } from "../../src/mux/client.ts";
import { FakePort, makeRouter, ready } from "./fakes.ts";

const META = {
  "io.modelcontextprotocol/protocolVersion": "2026-07-28",
  "io.modelcontextprotocol/clientCapabilities": {},
};

function listens(transport: string, n: number): { acknowledged: number; refused: number } {
  const { router, child } = makeRouter();
  ready(router, child);
  const port = new FakePort();
  const client = new MuxClient(77, transport, port, { highWaterBytes: 1 << 20, maxInflight: 100_000 });
  router.attach(client);
  client.greeted = true;
  for (let i = 0; i < n; i++)
    router.clientLine(
      client,
      JSON.stringify({
        jsonrpc: "2.0",
        id: i,
        method: "subscriptions/listen",
        params: { notifications: { toolsListChanged: true }, _meta: META },
      }),
    );
  const got = port.messages;
  return {
    acknowledged: got.filter((m) => m.method === "notifications/subscriptions/acknowledged").length,
    refused: got.filter((m) => (m.error as { message?: string } | undefined)?.message?.includes("listens per client"))
      .length,
  };
}

describe("listen caps", () => {
  test("a socket client: the 65th listen is refused, and not acknowledged first", () => {
    expect(listens("socket", 65)).toEqual({ acknowledged: 64, refused: 1 });
  });

  test("the HTTP front's shared stateless client: 65 listens of 65 HTTP clients all stand", () => {
    expect(listens("http", 65)).toEqual({ acknowledged: 65, refused: 0 });
  });
});
