/** What keeps a child awake (`dormancyBlocker`), through the real `Router` with a fake child and clients. */

import { describe, expect, test } from "bun:test";
import { dormancyBlocker } from "../../src/mux/dormancy.ts";
import { AUTO_DORMANT_MS, autoDormancy } from "../../src/mux/known-servers.ts";
import { resolveServiceOptions, type ServiceOptions } from "../../src/mux/options.ts";
import { makeRouter, ready, session } from "./fakes.ts";

describe("dormancy blockers", () => {
  test("a ready child with nothing open may sleep; a request at the child keeps it until answered", () => {
    const { router, child } = makeRouter();
    expect(dormancyBlocker(router)).toBe("it is starting");
    ready(router, child);
    const a = session(router);
    expect(dormancyBlocker(router)).toBeUndefined();
    a.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "t" } });
    expect(dormancyBlocker(router)).toBe("a request is at the server");
    child.answer(child.last("tools/call").id, { content: [] });
    expect(dormancyBlocker(router)).toBeUndefined();
  });

  test("a subscription keeps it until the last unsubscribe", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router);
    a.send({ jsonrpc: "2.0", id: 1, method: "resources/subscribe", params: { uri: "file:///x" } });
    child.answer(child.last("resources/subscribe").id, {});
    expect(dormancyBlocker(router)).toBe("a client is subscribed to a resource");
    a.send({ jsonrpc: "2.0", id: 2, method: "resources/unsubscribe", params: { uri: "file:///x" } });
    child.answer(child.last("resources/unsubscribe").id, {});
    expect(dormancyBlocker(router)).toBeUndefined();
  });

  test("a server→client request keeps it until the client answers", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router, { sampling: {} });
    child.say({ jsonrpc: "2.0", id: 77, method: "sampling/createMessage", params: { messages: [], maxTokens: 1 } });
    expect(dormancyBlocker(router)).toBe("a server→client request is open");
    const ask = a.port.messages.find((m) => m.method === "sampling/createMessage") as { id: number };
    a.send({
      jsonrpc: "2.0",
      id: ask.id,
      result: { role: "assistant", content: { type: "text", text: "x" }, model: "m" },
    });
    expect(dormancyBlocker(router)).toBeUndefined();
  });

  test("a task keeps it; a long-lived listen keeps it", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    const a = session(router);
    a.send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "t", task: {} } });
    const call = child.last("tools/call");
    child.say({ jsonrpc: "2.0", id: call.id, result: { task: { taskId: "t1", status: "working" } } });
    expect(dormancyBlocker(router)).toBe("a task is open");
    const b = makeRouter();
    ready(b.router, b.child);
    const c = session(b.router);
    c.send({ jsonrpc: "2.0", id: 9, method: "subscriptions/listen", params: {} });
    expect(dormancyBlocker(b.router)).toBe("a request is at the server");
  });
});

describe("the default dormant_after_ms, from the launch", () => {
  const resolve = (cmd: string, args: string[], extra: Partial<ServiceOptions> = {}) =>
    resolveServiceOptions({ socket: "/tmp/x.sock", cmd, args, ...extra }).dormantAfterMs;

  test("10 minutes for servers known to keep nothing in memory, in the spellings hosts use", () => {
    expect(resolve("npx", ["-y", "@modelcontextprotocol/server-memory"])).toBe(AUTO_DORMANT_MS);
    expect(resolve("npx", ["-y", "@modelcontextprotocol/server-memory@2026.8.31"])).toBe(AUTO_DORMANT_MS);
    expect(resolve("/p/node_modules/.bin/mcp-server-memory", [])).toBe(AUTO_DORMANT_MS);
    expect(resolve("docker", ["run", "-i", "--rm", "mcp/time"])).toBe(AUTO_DORMANT_MS); // nothing kept at all
    expect(resolve("uvx", ["mcp-server-fetch"])).toBe(AUTO_DORMANT_MS);
    expect(resolve("github-mcp-server", ["stdio"])).toBe(AUTO_DORMANT_MS);
    expect(AUTO_DORMANT_MS).toBe(600_000);
  });

  test("never for servers that keep state in memory, unknown servers, or a mode that keeps state", () => {
    expect(resolve("npx", ["-y", "@modelcontextprotocol/server-sequential-thinking"])).toBe(0);
    expect(resolve("npx", ["-y", "@modelcontextprotocol/server-everything"])).toBe(0);
    expect(resolve("uvx", ["mcp-server-git"])).toBe(0);
    expect(resolve("node", ["my-server-memory-fork.js"])).toBe(0); // not the package's own name
    expect(resolve("github-mcp-server", ["stdio", "--dynamic-toolsets"])).toBe(0);
    // A container with no volume takes server-memory's file with it when it stops.
    expect(resolve("docker", ["run", "-i", "--rm", "mcp/memory"])).toBe(0);
    expect(resolve("/usr/bin/podman", ["run", "-i", "--rm", "mcp/memory"])).toBe(0);
    expect(resolve("docker", ["run", "-i", "-v", "claude-memory:/app/dist", "--rm", "mcp/memory"])).toBe(
      AUTO_DORMANT_MS,
    );
    expect(resolve("docker", ["run", "-i", "--mount=type=volume,src=m,dst=/app/dist", "mcp/memory"])).toBe(
      AUTO_DORMANT_MS,
    );
    expect(autoDormancy(["github-mcp-server", "--dynamic-toolsets"]).reason).toContain("--dynamic-toolsets");
  });

  test("what the user sets wins; keeps_state turns the automatic value off", () => {
    expect(resolve("npx", ["@modelcontextprotocol/server-memory"], { dormantAfterMs: 0 })).toBe(0);
    expect(resolve("uvx", ["mcp-server-git"], { dormantAfterMs: 5000 })).toBe(5000);
    expect(resolve("npx", ["@modelcontextprotocol/server-memory"], { keepsState: true })).toBe(0);
  });

  test("keeps_state blocks dormancy of a ready, idle child", () => {
    const { router, child } = makeRouter();
    ready(router, child);
    session(router);
    expect(dormancyBlocker(router)).toBeUndefined();
    expect(dormancyBlocker(router, true)).toContain("keeps_state");
  });
});
