/** Adversarial checks of the handshake cache's freshness (`Handshake.freshList`, the cache's `listedAt`), in process. */

import { describe, expect, test } from "bun:test";
import { INIT_RESULT, makeRouter } from "./fakes.ts";

const PARAMS = { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } };
const PAGE = { tools: [], ttlMs: 60_000 };

describe("attack: the handshake cache's ttlMs and listedAt", () => {
  test("a listedAt in the future (a hostile cache file, a clock set back) does not keep a page fresh", () => {
    const { router } = makeRouter();
    router.handshake.restore(PARAMS, INIT_RESULT, { "tools/list": PAGE }, Date.now() + 10 * 365 * 86_400_000);
    expect(router.handshake.freshList("tools/list")).toBeUndefined();
    // Asked just now, it is fresh; asked longer ago than its ttlMs, it is not.
    router.handshake.restore(PARAMS, INIT_RESULT, { "tools/list": PAGE }, Date.now() - 1000);
    expect(router.handshake.freshList("tools/list")).toEqual(PAGE);
    router.handshake.restore(PARAMS, INIT_RESULT, { "tools/list": PAGE }, Date.now() - 61_000);
    expect(router.handshake.freshList("tools/list")).toBeUndefined();
  });
});
