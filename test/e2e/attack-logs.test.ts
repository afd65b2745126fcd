/**
 * `mux logs` facing hostile text: a client whose name and method carry terminal controls and
 * Unicode format characters (bidi overrides) that would disguise what the operator reads.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BUN, FAKE_SERVER, MUX_BIN, RawClient, testScope, waitFor } from "../helpers.ts";

const scope = testScope();
const procs: ReturnType<typeof Bun.spawn>[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) {
    p.kill("SIGTERM");
    await p.exited;
  }
});

describe("attack: mux logs", () => {
  test("a client name and method with bidi overrides, zero-width and line separators are shown neutralised", async () => {
    const dir = scope.dir();
    const socket = join(dir, "s.sock");
    const p = Bun.spawn([MUX_BIN, "serve", "--socket", socket, "--cmd", BUN, "--", FAKE_SERVER], {
      stdout: "ignore",
      stderr: "ignore",
    });
    procs.push(p);
    await waitFor(() => existsSync(socket) && existsSync(`${socket}.ctl`), 10_000, "the sockets");
    const hostile = "evil\u202Egnp.exe\u2066\u200B\u2028\u2029\uFEFF\x1b[2J";
    const c = await RawClient.connect(socket);
    c.send({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: hostile, version: "1" } },
    });
    await c.next((m) => m.id === 1, 10_000);
    c.send({ jsonrpc: "2.0", id: 2, method: `tools/${hostile}`, params: {} });
    await c.next((m) => m.id === 2, 10_000);
    const out = Bun.spawnSync([MUX_BIN, "logs", "--socket", socket], { env: { ...process.env, NO_COLOR: "1" } });
    const text = out.stdout.toString();
    expect(text).toContain("evil?gnp.exe");
    expect(text).toMatch(/tools\/evil\?gnp\.exe/);
    // None of the format characters reach the terminal, nor an escape.
    expect(text).not.toMatch(/[\u202A-\u202E\u2066-\u2069\u200B-\u200F\u2028\u2029\uFEFF]/);
    expect(text).not.toContain("\x1b");
    c.close();
  });
});
