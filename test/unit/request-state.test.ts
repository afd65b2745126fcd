/**
 * The `requestState` seal of the input_required bridge (`src/mux/era2026/request-state.ts`):
 * a state opens only unchanged, before its expiry, for its owner, its method and its request.
 */

import { describe, expect, test } from "bun:test";
import { requestDigest, type StateClaims, StateSeal } from "../../src/mux/era2026/request-state.ts";

const NOW = 1_800_000_000_000;
const params = { name: "book_flight", arguments: { to: "Lisbon", seats: 2 } };
const claims: StateClaims = {
  id: "call-1",
  owner: "socket:7",
  method: "tools/call",
  digest: requestDigest(params),
  round: 1,
  expiresAt: NOW + 30_000,
};
const expect7 = { owner: "socket:7", method: "tools/call", digest: requestDigest(params) };

describe("request state seal", () => {
  test("a state opens for its owner, method and request before it expires", () => {
    const seal = new StateSeal();
    const opened = seal.open(seal.seal(claims), expect7, NOW);
    expect(opened).toEqual({ ok: true, claims });
  });

  test("a tampered state is refused: a suffix, one changed character, a re-signed payload", () => {
    const seal = new StateSeal();
    const state = seal.seal(claims);
    expect(seal.open(`${state}-TAMPERED`, expect7, NOW)).toEqual({ ok: false, reason: "tampered" });
    const [payload, mac] = state.split(".") as [string, string];
    const flipped = `${payload}.${mac.slice(0, -1)}${mac.endsWith("A") ? "B" : "A"}`;
    expect(seal.open(flipped, expect7, NOW)).toEqual({ ok: false, reason: "tampered" });
    // The payload edited to a later round and expiry, with the old MAC: refused.
    const forged = Buffer.from(
      JSON.stringify([1, "call-1", "x", "tools/call", claims.digest, 2, NOW + 999_999]),
    ).toString("base64url");
    expect(seal.open(`${forged}.${mac}`, expect7, NOW)).toEqual({ ok: false, reason: "tampered" });
    // Sealed by another daemon (another key): refused.
    expect(new StateSeal().open(state, expect7, NOW)).toEqual({ ok: false, reason: "tampered" });
  });

  test("an expired state is refused", () => {
    const seal = new StateSeal();
    const state = seal.seal(claims);
    expect(seal.open(state, expect7, claims.expiresAt - 1).ok).toBe(true);
    expect(seal.open(state, expect7, claims.expiresAt)).toEqual({ ok: false, reason: "expired" });
  });

  test("another owner's state is refused", () => {
    const seal = new StateSeal();
    const state = seal.seal(claims);
    expect(seal.open(state, { ...expect7, owner: "socket:8" }, NOW)).toEqual({ ok: false, reason: "foreign-owner" });
    expect(seal.open(state, { ...expect7, owner: "http" }, NOW)).toEqual({ ok: false, reason: "foreign-owner" });
  });

  test("a state for another method or other arguments is refused", () => {
    const seal = new StateSeal();
    const state = seal.seal(claims);
    expect(seal.open(state, { ...expect7, method: "prompts/get" }, NOW)).toEqual({
      ok: false,
      reason: "wrong-request",
    });
    const other = requestDigest({ name: "book_flight", arguments: { to: "Oslo", seats: 2 } });
    expect(seal.open(state, { ...expect7, digest: other }, NOW)).toEqual({ ok: false, reason: "wrong-request" });
  });

  test("what is not a state at all is refused as malformed", () => {
    const seal = new StateSeal();
    for (const bad of [undefined, null, 42, {}, "", ".", "abc", "a.b.c", "x".repeat(5000)])
      expect(seal.open(bad, expect7, NOW)).toEqual({ ok: false, reason: "malformed" });
  });

  test("the digest is of name, uri and arguments only, whatever the key order", () => {
    const a = requestDigest({ name: "t", arguments: { x: 1, y: [1, { b: 2, a: 1 }] } });
    const b = requestDigest({
      arguments: { y: [1, { a: 1, b: 2 }], x: 1 },
      name: "t",
      inputResponses: { k: {} },
      requestState: "s",
      _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28" },
    });
    expect(a).toBe(b);
    expect(requestDigest({ name: "t", arguments: { x: 2 } })).not.toBe(a);
    expect(requestDigest({ uri: "file:///a" })).not.toBe(requestDigest({ uri: "file:///b" }));
  });
});
