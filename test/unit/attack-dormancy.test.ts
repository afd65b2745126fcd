/** Adversarial launches against the automatic dormancy (src/mux/known-servers.ts `autoDormancy`), in process. */

import { describe, expect, test } from "bun:test";
import { AUTO_DORMANT_MS, autoDormancy } from "../../src/mux/known-servers.ts";

const ms = (tokens: string[]): number => autoDormancy(tokens).ms;

describe("attack: launches that would trick the matcher into automatic dormancy", () => {
  test("server-memory in a container with no volume, started through env or sudo, is never dormant", () => {
    expect(ms(["env", "DOCKER_HOST=unix:///run/d.sock", "docker", "run", "-i", "--rm", "mcp/memory"])).toBe(0);
    expect(ms(["/usr/bin/sudo", "-E", "/usr/bin/docker", "run", "-i", "--rm", "mcp/memory"])).toBe(0);
    expect(ms(["sudo", "podman", "run", "-i", "--rm", "mcp/memory"])).toBe(0);
    // With a volume it may sleep, however it is started.
    expect(ms(["env", "X=1", "docker", "run", "-i", "--rm", "-v", "m:/app/dist", "mcp/memory"])).toBe(AUTO_DORMANT_MS);
  });

  test("a URL that merely ends in a known server's name does not make an unknown launch known", () => {
    // mcp-remote keeps a live session with the remote server: nothing says it may be stopped.
    expect(ms(["npx", "-y", "mcp-remote", "https://tools.example.com/mcp/fetch"])).toBe(0);
    expect(ms(["npx", "-y", "mcp-remote", "https://example.com/v1/server-memory"])).toBe(0);
    // The package named as such still is.
    expect(ms(["uvx", "mcp-server-fetch"])).toBe(AUTO_DORMANT_MS);
    expect(ms(["npx", "-y", "@modelcontextprotocol/server-memory@latest"])).toBe(AUTO_DORMANT_MS);
  });
});
