/** The proxy's replay reader: what a new daemon sends while a session is replayed to it. */

import { describe, expect, test } from "bun:test";
import { Replay } from "../../src/proxy/replay.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("replay", () => {
  test("answers to replayed requests are kept from the host, found by their top-level id only", async () => {
    const r = new Replay('"mux-proxy-1"', [{ id: '"mux-proxy-2"' }, {}]);
    const init = '{"jsonrpc":"2.0","id":"mux-proxy-1","result":{"protocolVersion":"2025-11-25"}}\n';
    // A server notification that carries a replay id deeper down is the host's, not a replay answer.
    const nested = '{"jsonrpc":"2.0","method":"notifications/message","params":{"data":{"id":"mux-proxy-2"}}}\n';
    const answer = '{"jsonrpc":"2.0","id":"mux-proxy-2","result":{}}\n';
    const hostAnswer = '{"jsonrpc":"2.0","id":7,"result":{}}\n';
    // Chunks split anywhere, a line of the host's last and unfinished.
    const all = `${init}${nested}${answer}${hostAnswer}{"jsonrpc":"2.0","id":8`;
    for (let at = 0; at < all.length; at += 13) r.take(bytes(all.slice(at, at + 13)));
    expect(await r.initialized(1000)).toBe(init);
    await r.settled(1000);
    expect(text(r.rest())).toBe(`${nested}${hostAnswer}{"jsonrpc":"2.0","id":8`);
  });

  test("a closed connection ends the waits at once; lines that are not JSON pass to the host", async () => {
    const r = new Replay('"mux-proxy-1"', [{ id: '"mux-proxy-2"' }]);
    r.take(bytes('not json "id":"mux-proxy-1"\n'));
    setTimeout(() => r.fail(), 20);
    // Waits of a minute: only fail() can end them within the test's 5 s.
    expect(await r.initialized(60_000)).toBeUndefined();
    await r.settled(60_000);
    expect(r.failed).toBe(true);
    expect(text(r.rest())).toBe('not json "id":"mux-proxy-1"\n');
  }, 5000);
});
