/**
 * The child's era (`era` option) in the routing core, against a fake child: `auto` probes with
 * `server/discover` and falls back to `initialize` on an error; `modern` never sends initialize,
 * answers a legacy client's initialize from the DiscoverResult, sends its requests with its
 * envelope, answers `ping` and `logging/setLevel` itself and strips the modern members.
 */

import { describe, expect, test } from "bun:test";
import { connect, INIT_RESULT, makeRouter } from "./fakes.ts";

const DISCOVER = {
  resultType: "complete",
  supportedVersions: ["2026-07-28"],
  capabilities: { tools: {}, logging: {}, extensions: { "io.modelcontextprotocol/tasks": {} } },
  ttlMs: 0,
  cacheScope: "private",
  _meta: { "io.modelcontextprotocol/serverInfo": { name: "modern", version: "2" } },
};

describe("era", () => {
  test("auto: an error to the server/discover probe falls back to initialize", () => {
    const { router, child } = makeRouter({ era: "auto" });
    router.childStarted();
    const probe = child.last("server/discover");
    expect((probe.params._meta as Record<string, unknown>)["io.modelcontextprotocol/protocolVersion"]).toBe(
      "2026-07-28",
    );
    expect(child.sent("initialize")).toEqual([]);
    child.fail(probe.id, -32601, "Method not found");
    child.answer(child.last("initialize").id, INIT_RESULT);
    expect(router.state).toBe("ready");
    expect(router.childEra).toBe("legacy");
  });

  test("auto: a DiscoverResult naming no version the mux serves is a legacy server too", () => {
    const { router, child } = makeRouter({ era: "auto" });
    router.childStarted();
    child.answer(child.last("server/discover").id, { ...DISCOVER, supportedVersions: ["2099-01-01"] });
    expect(child.sent("initialize").length).toBe(1);
  });

  test("modern: never initialize; a legacy client is answered from the DiscoverResult and served with its envelope", async () => {
    const { router, child } = makeRouter({ era: "modern" });
    router.childStarted();
    child.answer(child.last("server/discover").id, DISCOVER);
    expect(router.state).toBe("ready");
    expect(child.sent("initialize")).toEqual([]);
    expect(child.lines.some((l) => l.includes("notifications/initialized"))).toBe(false);
    const c = connect(router, {});
    c.send({
      jsonrpc: "2.0",
      id: "init",
      method: "initialize",
      params: {
        protocolVersion: "2025-06-18",
        capabilities: { sampling: {}, roots: { listChanged: true } },
        clientInfo: { name: "t", version: "1" },
      },
    });
    c.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    const init = c.port.messages[0] as { result: Record<string, unknown> };
    expect(init.result.serverInfo).toEqual({ name: "modern", version: "2" });
    expect(init.result.capabilities).toEqual({ tools: {}, logging: {} });
    c.send({ jsonrpc: "2.0", id: 2, method: "ping" });
    c.send({ jsonrpc: "2.0", id: 3, method: "logging/setLevel", params: { level: "error" } });
    c.send({ jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "x", arguments: {} } });
    expect(child.sent("ping")).toEqual([]);
    expect(child.sent("logging/setLevel")).toEqual([]);
    const call = child.last("tools/call");
    expect(call.params._meta).toEqual({
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientCapabilities": { sampling: {}, roots: {} },
      "io.modelcontextprotocol/clientInfo": { name: "t", version: "1" },
      "io.modelcontextprotocol/logLevel": "error",
    });
    child.answer(call.id, { resultType: "complete", content: [], ttlMs: 5, cacheScope: "public" });
    const byId = (id: number) => c.port.messages.find((m) => m.id === id);
    expect(byId(2)).toMatchObject({ result: {} });
    expect(byId(3)).toMatchObject({ result: {} });
    expect(byId(4)).toEqual({ jsonrpc: "2.0", id: 4, result: { content: [] } });
  });
});
