/** mux-proxy and mux health as a host and an operator would run them (compiled binaries). */

import { describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { MuxOptions } from "../../src/index.ts";
import { BUN, fakeServer, MUX_BIN, PROXY_BIN, recorded, type Target, testScope, textOf, waitFor } from "../helpers.ts";

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
    expect(missing.stderr).toContain("mux serve --config");
    expect(missing.stdout).toBe("");
    await staleSocket(join(d, "stale.sock"));
    const refused = await run([PROXY_BIN, "--socket", join(d, "stale.sock")], "");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("stale");
  });

  test("--config but no mux to start the daemon with: the host is told the real command, with the config's path", async () => {
    const d = dir();
    // A lone mux-proxy (a copy: it is the proxy by its name), nothing called mux beside it or on PATH.
    const lone = join(d, "lone");
    mkdirSync(lone);
    copyFileSync(PROXY_BIN, join(lone, "mux-proxy"));
    chmodSync(join(lone, "mux-proxy"), 0o755);
    const config = join(d, "my mux.json");
    writeFileSync(config, "{}");
    const init =
      '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}\n';
    const proc = Bun.spawn({
      cmd: [join(lone, "mux-proxy"), "--socket", join(d, "none.sock"), "--config", config],
      env: { PATH: "/usr/bin:/bin", HOME: d },
      stdin: new TextEncoder().encode(init),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain(`cannot find the mux executable to start the daemon`);
    expect(stderr).toContain(`start it with: mux serve --config ${config}`);
    const answer = JSON.parse(stdout.trim().split("\n")[0] ?? "{}");
    expect(answer.error.message).toContain(`\`mux serve --config ${config}\``);
    expect(answer.error.message).not.toContain("<your config>");
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

  test("with --no-reconnect, exits non-zero with a message when the daemon goes away", async () => {
    const d = dir();
    const t = await use({ socket: join(d, "g.sock"), ...fakeServer(d) });
    const proxy = Bun.spawn({
      cmd: [PROXY_BIN, "--socket", t.socket, "--no-reconnect"],
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
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
    // It cannot start (exit 1 at once, the reason named), then reaches its restart limit (failed, exit 1).
    await waitFor(
      async () => (await run([MUX_BIN, "health", "--socket", broken.socket])).stdout.includes("restart limit"),
      10_000,
      "failed",
    );
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

describe("mux-proxy --env (secrets the host resolves)", () => {
  test("clients with the same forwarded values share a child; different values get their own; it stops with its last client", async () => {
    const d = dir();
    const socket = join(d, "fwd.sock");
    await use({ socket, ...fakeServer(d), lazyStart: true, forwardEnv: ["TOKEN"] });
    const connect = async (token?: string) => {
      const client = new Client({ name: "fwd", version: "1.0.0" }, { capabilities: {} });
      const env: Record<string, string> = { PATH: process.env.PATH ?? "" };
      if (token !== undefined) env.TOKEN = token;
      await client.connect(
        new StdioClientTransport({
          command: PROXY_BIN,
          args: ["--socket", socket, "--env", "TOKEN"],
          env,
          stderr: "pipe",
        }),
      );
      scope.defer(() => client.close());
      return client;
    };
    const seen = async (c: Client) =>
      JSON.parse(textOf(await c.callTool({ name: "env", arguments: { name: "TOKEN" } }))) as {
        value: string | null;
        pid: number;
      };
    const a1 = await connect("alpha");
    const b = await connect("beta");
    const a2 = await connect("alpha");
    const none = await connect(); // TOKEN unset in the host: nothing forwarded, the service's own child
    const [sa1, sb, sa2, sn] = [await seen(a1), await seen(b), await seen(a2), await seen(none)];
    expect([sa1.value, sb.value, sa2.value, sn.value]).toEqual(["alpha", "beta", "alpha", null]);
    expect(sa2.pid).toBe(sa1.pid);
    expect(new Set([sa1.pid, sb.pid, sn.pid]).size).toBe(3);
    const status = await run([MUX_BIN, "status", "--socket", socket, "--json"]);
    const snap = JSON.parse(status.stdout);
    expect(snap.connectedClients).toBe(4); // the four sessions (the status query is not one)
    expect([...snap.childPids].sort()).toEqual([sa1.pid, sb.pid, sn.pid].sort());
    // The forwarded values never reach the child as a message.
    expect(recorded(d).some((m) => JSON.stringify(m).includes("mcp-mux/hello"))).toBe(false);
    await b.close();
    await waitFor(
      async () => {
        const s = JSON.parse((await run([MUX_BIN, "status", "--socket", socket, "--json"])).stdout);
        return !s.childPids.includes(sb.pid);
      },
      10_000,
      "the beta child to stop",
    );
    expect((await seen(a1)).value).toBe("alpha");
  });

  test("isolated mode: the client's own child starts with its forwarded env", async () => {
    const d = dir();
    const socket = join(d, "iso.sock");
    await use({ socket, ...fakeServer(d), isolated: true, forwardEnv: ["TOKEN"] });
    const client = new Client({ name: "iso", version: "1.0.0" }, { capabilities: {} });
    await client.connect(
      new StdioClientTransport({
        command: PROXY_BIN,
        args: ["--socket", socket, "--env", "TOKEN"],
        env: { PATH: process.env.PATH ?? "", TOKEN: "gamma" },
        stderr: "pipe",
      }),
    );
    scope.defer(() => client.close());
    const r = JSON.parse(textOf(await client.callTool({ name: "env", arguments: { name: "TOKEN" } })));
    expect(r.value).toBe("gamma");
  });
});
