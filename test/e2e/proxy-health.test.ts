/** mux-proxy and mux health as a host and an operator would run them (compiled binaries). */

import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { MuxOptions } from "../../src/index.ts";
import { BUN, fakeServer, MUX_BIN, PROXY_BIN, type Target, testScope, waitFor } from "../helpers.ts";

const scope = testScope("bin");
const { dir } = scope;
const use = (options: MuxOptions): Promise<Target> => scope.target(options);

async function run(cmd: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn({
    cmd,
    stdin: stdin === undefined ? "ignore" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

/** A socket file nobody listens on: bind it in a process, then SIGKILL the process. */
async function staleSocket(path: string): Promise<void> {
  const proc = Bun.spawn({
    cmd: [BUN, "-e", `Bun.listen({unix:${JSON.stringify(path)},socket:{data(){}}}); setInterval(()=>{},1000)`],
    stdout: "ignore",
    stderr: "ignore",
  });
  await waitFor(() => existsSync(path), 5000, "socket");
  proc.kill("SIGKILL");
  await proc.exited;
}

describe("mux-proxy", () => {
  test("no daemon: exits non-zero at once naming the socket and how to start the daemon", async () => {
    const d = dir();
    const missing = await run([PROXY_BIN, "--socket", join(d, "none.sock")], "");
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(join(d, "none.sock"));
    expect(missing.stderr).toContain("mux serve --socket");
    expect(missing.stdout).toBe("");
    await staleSocket(join(d, "stale.sock"));
    const refused = await run([PROXY_BIN, "--socket", join(d, "stale.sock")], "");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("stale");
  });

  test("answers everything sent before stdin closed, then exits 0; stdout carries protocol only", async () => {
    const d = dir();
    const t = await use({ socket: join(d, "p.sock"), ...fakeServer(d) });
    const input = [
      '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}',
      '{"jsonrpc":"2.0","method":"notifications/initialized"}',
      '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"slow","arguments":{"ms":300}}}',
    ].join("\n");
    const r = await run([PROXY_BIN, "--socket", t.socket], `${input}\n`);
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.id)).toEqual([1, 2]);
    expect(r.stderr).toBe("");
  });

  test("exits non-zero with a message when the daemon goes away", async () => {
    const d = dir();
    const t = await use({ socket: join(d, "g.sock"), ...fakeServer(d) });
    const proxy = Bun.spawn({ cmd: [PROXY_BIN, "--socket", t.socket], stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    await Bun.sleep(200);
    await t.close();
    const code = await proxy.exited;
    expect(code).toBe(1);
    expect(await new Response(proxy.stderr).text()).toContain("closed the connection");
  });
});

describe("mux health", () => {
  test("exit codes: healthy 0, failed 1, no socket 2, refused 3, timeout 4", async () => {
    const d = dir();
    const ok = await use({ socket: join(d, "ok.sock"), ...fakeServer(d) });
    const healthy = await run([MUX_BIN, "health", "--socket", ok.socket]);
    expect(healthy.code).toBe(0);
    expect(healthy.stdout).toContain("healthy");

    const broken = await use({
      socket: join(d, "bad.sock"),
      cmd: BUN,
      args: ["-e", "process.exit(2)"],
      maxRestarts: 1,
      restartBackoffMs: 10,
    });
    await waitFor(async () => (await run([MUX_BIN, "health", "--socket", broken.socket])).code === 1, 10_000, "failed");
    const failed = await run([MUX_BIN, "health", "--socket", broken.socket, "--json"]);
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout).state).toBe("failed");
    expect(JSON.parse(failed.stdout).message).toContain("restart limit");

    const none = await run([MUX_BIN, "health", "--socket", join(d, "none.sock")]);
    expect(none.code).toBe(2);
    expect(none.stdout).toContain("no such socket");

    await staleSocket(join(d, "stale.sock"));
    expect((await run([MUX_BIN, "health", "--socket", join(d, "stale.sock")])).code).toBe(3);

    const mute = Bun.listen({ unix: join(d, "mute.sock"), socket: { data() {} } });
    scope.defer(() => mute.stop(true));
    const timeout = await run([MUX_BIN, "health", "--socket", join(d, "mute.sock"), "--timeout-ms", "300"]);
    expect(timeout.code).toBe(4);
  });
});
