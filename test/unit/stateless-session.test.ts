/**
 * The session the stateless 2026-07-28 requests of a service share (`src/http/session.ts`
 * with `stateless`): each request its own stream, so one slow reader never costs another
 * request its progress, nothing goes to a stream it does not belong to, and a stream the
 * client closes gives up its own request alone.
 */

import { describe, expect, test } from "bun:test";
import { HttpSession } from "../../src/http/session.ts";
import { MuxClient } from "../../src/mux/client.ts";

function shared(): { session: HttpSession; client: MuxClient; cancelled: string[] } {
  const cancelled: string[] = [];
  const session = new HttpSession(
    { id: "stateless-t", stallTimeoutMs: 60_000, stateless: true, cancel: (key) => cancelled.push(key) },
    () => {},
  );
  const client = new MuxClient(1, "http", session, { highWaterBytes: 64 * 1024, maxInflight: 1000 });
  session.client = client;
  return { session, client, cancelled };
}

async function read(body: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(body).text();
}

const progress = (n: number, pad = ""): string =>
  JSON.stringify({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: n, progress: n, pad } });

describe("the stateless session", () => {
  test("a stream nobody reads loses its own progress past the mark; another request's progress and answer still go", async () => {
    const { session, client } = shared();
    const slow = session.openPostStream([session.nextKey()], false);
    const keyB = session.nextKey();
    const fast = session.openPostStream([keyB], false);
    const big = "x".repeat(256 * 1024);
    // 2 MiB of progress for the stream nobody reads: past the mark, the rest is dropped.
    for (let i = 0; i < 8; i++) client.send(progress(i, big), "progress", "h1");
    expect(client.backlog).toBe(0); // the client never looks behind for all streams at once
    client.send(progress(99), "progress", keyB);
    client.send('{"jsonrpc":"2.0","id":1,"result":{}}', "response", keyB);
    const text = await read(fast.body);
    expect(text).toContain('"progress":99');
    expect(text).toContain('"result":{}');
    expect(client.dropped).toBe(0);
    const reader = slow.body.getReader();
    let got = 0;
    session.close("done");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      got += value.length;
    }
    expect(got).toBeGreaterThan(1024 * 1024);
    expect(got).toBeLessThan(2 * 1024 * 1024);
  });

  test("lines that belong to no request go nowhere (never onto another request's stream)", async () => {
    const { session, client } = shared();
    const key = session.nextKey();
    const stream = session.openPostStream([key], false);
    client.send('{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{}}', "request", undefined);
    client.send('{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}', "signal", undefined);
    client.send('{"jsonrpc":"2.0","id":1,"result":{}}', "response", key);
    const text = await read(stream.body);
    expect(text).not.toContain("sampling");
    expect(text).not.toContain("list_changed");
    expect(text).toContain('"result":{}');
  });

  test("a stream its client closes gives up its request alone; the session and the other request go on", async () => {
    const { session, client, cancelled } = shared();
    const a = session.nextKey();
    const b = session.nextKey();
    const sa = session.openPostStream([a], false);
    const sb = session.openPostStream([b], false);
    await sa.body.cancel();
    expect(cancelled).toEqual([a]);
    expect(session.ended).toBe(false);
    client.send('{"jsonrpc":"2.0","id":7,"result":{}}', "response", b);
    expect(await read(sb.body)).toContain('"id":7');
    // Given up by the front (its request aborted): the same, once.
    const c = session.nextKey();
    session.openPostStream([c], false);
    session.giveUp(c, "gone");
    session.giveUp(c, "gone");
    expect(cancelled).toEqual([a, c]);
  });
});
