/**
 * The daemon keeps itself running for its hosts (issue: install and keep running by itself):
 * mux-proxy --config starts it (one daemon for twenty proxies at once, stale socket or not),
 * tells the host why when it cannot, keeps the host's session through SIGTERM, SIGKILL and an
 * upgrade of the executables, ends it when the server changed, and an auto-started daemon
 * exits once idle. Real processes only: compiled binaries, official SDK clients.
 */

import { describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { BUN, FAKE_SERVER, type Json, MUX_BIN, PROXY_BIN, RawClient, testScope, textOf, waitFor } from "../helpers.ts";

const scope = testScope("bin");

/** A temporary home with its own runtime and state folders, and a config for one fake server. */
function home(extra: Json = {}, serverEnv: Record<string, string> = {}) {
  const dir = scope.dir();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    HOME: dir,
    MUX_RUNTIME_DIR: join(dir, "run"),
    MUX_STATE_DIR: join(dir, "state"),
  };
  delete env.XDG_RUNTIME_DIR;
  const socket = join(dir, "run", "fake.sock");
  const config = join(dir, "mux.json");
  writeFileSync(
    config,
    JSON.stringify({ servers: { fake: { socket, cmd: BUN, args: [FAKE_SERVER], env: serverEnv } }, ...extra }),
  );
  scope.defer(() => killDaemons(config));
  return { dir, env, socket, config };
}

/** Pids of live `mux serve --config <config>` processes. */
function daemons(config: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      if (cmd.includes("serve") && cmd.includes(config)) out.push(Number(entry));
    } catch {}
  }
  return out;
}

async function killDaemons(config: string): Promise<void> {
  for (const pid of daemons(config)) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {}
  }
  await waitFor(() => daemons(config).length === 0, 5000, "daemons to stop").catch(() => {});
}

async function sdk(h: ReturnType<typeof home>, proxy = PROXY_BIN): Promise<Client & { proxyStderr(): string }> {
  const client = new Client({ name: "lifecycle", version: "1" }, { capabilities: {} });
  const transport = new StdioClientTransport({
    command: proxy,
    args: ["--socket", h.socket, "--config", h.config],
    env: h.env,
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  await client.connect(transport);
  scope.defer(() => client.close());
  return Object.assign(client, { proxyStderr: () => stderr });
}

const echo = async (c: Client, n: number): Promise<unknown> =>
  JSON.parse(textOf(await c.callTool({ name: "echo", arguments: { n } })));

/** A call made while the daemon stops may fail once (it was in flight); the next one must not. */
async function echoAfterRestart(c: Client, n: number): Promise<{ value: unknown; failures: number }> {
  try {
    return { value: await echo(c, n), failures: 0 };
  } catch (error) {
    expect(String(error)).toMatch(/-3203[03]/);
    return { value: await echo(c, n), failures: 1 };
  }
}

/** A raw client through a mux-proxy that may start the daemon of `h`'s config. */
const rawProxy = (h: ReturnType<typeof home>): Promise<RawClient> =>
  scope.raw(h.socket, "proxy", { args: ["--config", h.config], env: h.env });
const initialize = { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } };

describe("auto-start", () => {
  test("mux-proxy --config starts the daemon, which logs to the state folder", async () => {
    const h = home();
    expect(daemons(h.config)).toEqual([]);
    const c = await sdk(h);
    expect(await echo(c, 1)).toEqual({ n: 1 });
    expect(daemons(h.config)).toHaveLength(1);
    const logs = readdirSync(join(h.dir, "state", "logs"));
    expect(logs.some((f) => f.startsWith("daemon-mux-"))).toBe(true);
  });

  for (const stale of [false, true]) {
    test(`20 proxies at the same moment ${stale ? "with a stale socket of a SIGKILLed daemon " : ""}end with one daemon and 20 sessions`, async () => {
      const h = home();
      if (stale) {
        const first = await rawProxy(h);
        first.send({ jsonrpc: "2.0", id: 0, method: "initialize", params: initialize });
        await first.response(0, 20_000);
        const [pid] = daemons(h.config);
        // The proxy goes first: left running, it would start a new daemon at once.
        first.proc?.kill();
        await first.proc?.exited;
        process.kill(pid as number, "SIGKILL");
        await waitFor(() => daemons(h.config).length === 0, 5000, "the killed daemon");
        expect(existsSync(h.socket)).toBe(true); // stale
      }
      const proxies = await Promise.all(Array.from({ length: 20 }, () => rawProxy(h)));
      for (const [i, p] of proxies.entries()) {
        p.send({ jsonrpc: "2.0", id: "i", method: "initialize", params: initialize });
        p.send({ jsonrpc: "2.0", id: "e", method: "tools/call", params: { name: "echo", arguments: { i } } });
      }
      const answers = await Promise.all(proxies.map((p) => p.response("e", 20_000)));
      answers.forEach((a, i) => {
        expect(a.error).toBeUndefined(); // shown whole when it fails
        expect(JSON.parse(textOf(a.result))).toEqual({ i });
      });
      expect(daemons(h.config)).toHaveLength(1);
    }, 60_000);
  }

  test("a daemon that cannot start: the host's initialize gets the reason and the log file; nothing is left behind", async () => {
    const h = home();
    writeFileSync(h.config, JSON.stringify({ servers: { fake: { socket: h.socket, cmd: "/nonexistent/server" } } }));
    const p = await rawProxy(h);
    p.send({ jsonrpc: "2.0", id: 1, method: "initialize", params: initialize });
    const answer = await p.response(1, 20_000);
    const error = answer.error as Json;
    expect(error.code).toBe(-32036);
    expect(String(error.message)).toContain("could not start");
    expect(String(error.message)).toContain("/nonexistent/server");
    expect(String(error.message)).toContain(join(h.dir, "state", "logs"));
    expect(await p.proc?.exited).toBe(1);
    expect(daemons(h.config)).toEqual([]);
    expect(existsSync(h.socket)).toBe(false);
    const left = existsSync(join(h.dir, "run")) ? readdirSync(join(h.dir, "run")) : [];
    expect(left.filter((f) => f.endsWith(".lock") || f.endsWith(".sock"))).toEqual([]);
  });
});

/** Run the installed-style `mux` (the build) with `h`'s environment. */
function muxCli(h: ReturnType<typeof home>, args: string[]): { code: number; out: string } {
  const p = Bun.spawnSync([MUX_BIN, ...args], { env: h.env, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, out: `${p.stdout.toString()}${p.stderr.toString()}` };
}

/** The SDK client's connect, which must fail: its error. */
async function connectFails(
  h: ReturnType<typeof home>,
  socket = h.socket,
): Promise<{ code: unknown; message: string }> {
  const client = new Client({ name: "lifecycle", version: "1" }, { capabilities: {} });
  const transport = new StdioClientTransport({
    command: PROXY_BIN,
    args: ["--socket", socket, "--config", h.config],
    env: h.env,
    stderr: "pipe",
  });
  scope.defer(() => client.close());
  try {
    await client.connect(transport);
  } catch (error) {
    return { code: (error as { code?: unknown }).code, message: String((error as Error).message) };
  }
  throw new Error("connect succeeded");
}

describe("a server that cannot start", () => {
  // Retries an hour apart and a 10-minute request deadline: before the fix, the host's
  // initialize waited for one or the other; now it is answered as soon as the server exits.
  const patient = { request_timeout_ms: 600_000, restart_backoff_ms: 3_600_000, restart_backoff_max_ms: 3_600_000 };

  test("npx's 404: the first initialize gets -32040 with the reason and the server's stderr at once; later ones too; health and status name it", async () => {
    const h = home();
    writeFileSync(
      h.config,
      JSON.stringify({
        servers: {
          fake: {
            socket: h.socket,
            cmd: BUN,
            args: [FAKE_SERVER],
            env: { FAKE_NPM_404: "@acme/server-nope" },
            ...patient,
          },
        },
      }),
    );
    const first = await connectFails(h);
    expect(first.code).toBe(-32040);
    expect(first.message).toContain("MCP server could not start: server exited with code 1");
    expect(first.message).toContain("npm error 404  '@acme/server-nope@*' is not in this registry.");
    expect(first.message).toContain("npm error code E404");
    // The service remembers why: the next host is told at once too (the retry is an hour away).
    const second = await connectFails(h);
    expect(second.code).toBe(-32040);
    expect(second.message).toContain("is not in this registry");
    const health = muxCli(h, ["health", "--config", h.config]);
    expect(health.out).toContain(
      "cannot start (mux retries): server exited with code 1: npm error 404  '@acme/server-nope@*' is not in this registry.",
    );
    expect(health.code).toBe(1);
    const status = muxCli(h, ["status", "--config", h.config]);
    expect(status.out).toContain(
      "fake: cannot start (mux retries): server exited with code 1: npm error 404  '@acme/server-nope@*' is not in this registry.",
    );
    expect(status.code).toBe(1);
    const json = JSON.parse(muxCli(h, ["status", "--config", h.config, "--json"]).out) as Json[];
    expect(String(json[0]?.startFailure)).toContain("Its last stderr lines:");
  }, 30_000);

  test("a command that does not exist, beside a service that works, both hosts starting at once: the failing one is told why (not that a daemon was not needed)", async () => {
    const h = home();
    const bad = join(h.dir, "run", "bad.sock");
    writeFileSync(
      h.config,
      JSON.stringify({
        servers: {
          fake: { socket: h.socket, cmd: BUN, args: [FAKE_SERVER] },
          bad: { socket: bad, cmd: "/nonexistent/mcp-server-nope", ...patient },
        },
      }),
    );
    const [good, failing] = await Promise.all([sdk(h), connectFails(h, bad)]);
    expect(await echo(good, 1)).toEqual({ n: 1 });
    expect(failing.message).toContain('service "bad" cannot start');
    expect(failing.message).toContain('"/nonexistent/mcp-server-nope": command not found');
    expect(failing.message).not.toContain("not needed");
    expect(failing.code).toBe(-32031);
    // The failing host's own start attempt finds the daemon running and leaves: one daemon.
    await waitFor(() => daemons(h.config).length === 1, 5000, "one daemon");
    const status = muxCli(h, ["status", "--config", h.config]);
    expect(status.out).toContain("bad: failed: ");
    expect(status.code).toBe(1);
  }, 30_000);

  test("a command the server's own launcher cannot find (sh -c, like npx): the initialize is answered with the shell's own words", async () => {
    const h = home();
    writeFileSync(
      h.config,
      JSON.stringify({
        servers: {
          fake: { socket: h.socket, cmd: "sh", args: ["-c", "exec mcp-server-not-installed --stdio"], ...patient },
        },
      }),
    );
    const r = await connectFails(h);
    expect(r.code).toBe(-32040);
    expect(r.message).toContain("MCP server could not start: server command not found (exit code 127)");
    expect(r.message).toContain("mcp-server-not-installed: not found");
  }, 30_000);
});

describe("descriptors run out", () => {
  test("a child that crashes while the daemon has no descriptors left is respawned once they are back; the retries do not make it failed", async () => {
    const d = scope.dir();
    const socket = join(d, "fd.sock");
    // A 64-descriptor daemon; two failures would make the service failed for good.
    const daemon = Bun.spawn({
      cmd: [
        "sh",
        "-c",
        'ulimit -n 64 && exec "$0" "$@"',
        MUX_BIN,
        "serve",
        "--socket",
        socket,
        "--restart-backoff-ms",
        "50",
        "--restart-backoff-max-ms",
        "200",
        "--max-restarts",
        "2",
        "--cmd",
        BUN,
        "--",
        FAKE_SERVER,
      ],
      stdout: "ignore",
      stderr: "pipe",
    });
    let log = "";
    void (async () => {
      for await (const chunk of daemon.stderr) log += new TextDecoder().decode(chunk);
    })();
    scope.defer(async () => {
      daemon.kill("SIGKILL");
      await daemon.exited;
    });
    await waitFor(() => existsSync(socket), 10_000, "the socket");
    const first = await scope.raw(socket);
    await first.handshake();
    // Connections until the daemon holds all 64 descriptors.
    const fds = (): number => readdirSync(`/proc/${daemon.pid}/fd`).length;
    const flood: Awaited<ReturnType<typeof Bun.connect>>[] = [];
    await waitFor(
      async () => {
        for (let i = 0; i < 8; i++) flood.push(await Bun.connect({ unix: socket, socket: { data() {} } }));
        await Bun.sleep(20);
        return fds() >= 64;
      },
      10_000,
      "the daemon to run out of descriptors",
    );
    first.request(1, "tools/call", { name: "crash" });
    await waitFor(() => log.includes("EMFILE"), 20_000, "a respawn to fail for lack of descriptors");
    // Respawns fail for lack of descriptors, more times than max-restarts, and are retried.
    await waitFor(() => (log.match(/EMFILE.*out of resources: retrying/g) ?? []).length >= 4, 20_000, "retries");
    expect(log).not.toContain("failed: restart limit");
    for (const s of flood) s.end();
    let after: RawClient | undefined;
    await waitFor(
      async () => {
        try {
          const c = await RawClient.connect(socket);
          scope.defer(() => c.close());
          c.request("s", "mcp-mux/status");
          const st = (await c.response("s", 2000)).result as Json;
          if (st.state === "ready") after = c;
          return after !== undefined;
        } catch {
          return false;
        }
      },
      20_000,
      "the service to recover",
    );
    if (!after) throw new Error("no client");
    await after.handshake();
    after.request(2, "tools/call", { name: "echo", arguments: { back: true } });
    expect(JSON.parse(textOf((await after.response(2, 10_000)).result))).toEqual({ back: true });
  }, 60_000);
});

describe("mux stop", () => {
  test("kill alone does not stop sharing (a proxy starts the daemon again); mux stop does, until mux serve --config starts it explicitly", async () => {
    const h = home();
    const c = await sdk(h);
    expect(await echo(c, 1)).toEqual({ n: 1 });
    const [first] = daemons(h.config);
    // kill: the connected host's proxy starts a new daemon and the session goes on.
    process.kill(first as number, "SIGTERM");
    expect(await echoAfterRestart(c, 2)).toMatchObject({ value: { n: 2 } });
    const servingPid = (): unknown => {
      const r = muxCli(h, ["status", "--config", h.config, "--json"]);
      return r.code === 2 ? undefined : (JSON.parse(r.out) as Json[])[0]?.muxPid;
    };
    await waitFor(() => ![undefined, first].includes(servingPid() as number), 10_000, "a new daemon");
    const second = servingPid();
    expect(await echo(c, 3)).toEqual({ n: 3 });

    const closed = new Promise<void>((resolve) => {
      c.onclose = () => resolve();
    });
    const stop = muxCli(h, ["stop", "--config", h.config]);
    expect(stop.out).toContain(`stopped the daemon of ${h.config} (pid ${second})`);
    expect(stop.out).toContain(`hosts will not start it again until you run: mux serve --config ${h.config}`);
    expect(stop.code).toBe(0);
    // The connected host's proxy ends its session instead of starting the daemon again.
    await closed;
    // A host starting now is told why, and starts nothing (the answer is the settle round trip).
    const late = await connectFails(h);
    expect(late.message).toContain("was stopped with `mux stop`");
    expect(late.message).toContain(`mux serve --config ${h.config}`);
    expect(daemons(h.config)).toEqual([]);
    expect(muxCli(h, ["stop", "--config", h.config]).out).toContain(`no daemon runs ${h.config}`);

    // Started explicitly, the daemon serves again and takes the marker away: after it ends, hosts start it themselves.
    const byHand = Bun.spawn({ cmd: [MUX_BIN, "serve", "--config", h.config], env: h.env, stderr: "ignore" });
    await waitFor(() => existsSync(h.socket), 10_000, "the daemon started by hand");
    const c2 = await sdk(h);
    expect(await echo(c2, 4)).toEqual({ n: 4 });
    byHand.kill("SIGTERM");
    await byHand.exited;
    expect(await echoAfterRestart(c2, 5)).toMatchObject({ value: { n: 5 } });
    await waitFor(() => servingPid() !== undefined, 10_000, "the daemon the host started again");

    // --socket finds the daemon's config from the daemon itself and stops it for good too.
    const bySocket = muxCli(h, ["stop", "--socket", h.socket]);
    expect(bySocket.out).toContain(`stopped the daemon of ${h.config}`);
    expect(bySocket.code).toBe(0);
    expect((await connectFails(h)).message).toContain("was stopped with `mux stop`");
  }, 60_000);
});

describe("the auto-started daemon's PATH", () => {
  test("is the same whichever host starts it: the path file's folders, mux's folder, the usual ones; never the host's own", async () => {
    const h = home();
    const hostA = join(h.dir, "host-a-bin");
    const tools = join(h.dir, "my tools");
    for (const d of [hostA, tools, join(h.dir, ".local", "bin"), join(h.dir, ".config", "mcp-mux")])
      mkdirSync(d, { recursive: true });
    writeFileSync(
      join(h.dir, ".config", "mcp-mux", "path"),
      `# comment\n${tools}\n/nonexistent/folder\n~/.local/bin\n`,
    );
    delete h.env.XDG_CONFIG_HOME;
    delete h.env.MUX_DAEMON_PATH;
    const pathOfServer = async (c: Client): Promise<string> =>
      JSON.parse(textOf(await c.callTool({ name: "env", arguments: { name: "PATH" } }))).value;
    const a = await sdk({ ...h, env: { ...h.env, PATH: `${hostA}:/usr/bin:/bin` } });
    const seen = await pathOfServer(a);
    const expected = [tools, join(h.dir, ".local", "bin"), join(MUX_BIN, ".."), "/usr/bin", "/bin"];
    const parts = seen.split(":");
    expect(parts).not.toContain(hostA);
    expect(parts).not.toContain("/nonexistent/folder");
    // In this order, with only existing system folders besides.
    expect(parts.filter((p) => expected.includes(p))).toEqual(expected.filter((p) => parts.includes(p)));
    expect(parts.slice(0, 3)).toEqual([tools, join(h.dir, ".local", "bin"), join(MUX_BIN, "..")]);
    // The host leaves, the daemon is killed; a host with another PATH starts it: the servers see the same PATH.
    await a.close();
    const [pid] = daemons(h.config);
    process.kill(pid as number, "SIGKILL");
    await waitFor(() => daemons(h.config).length === 0, 5000, "the daemon to die");
    const b = await sdk({ ...h, env: { ...h.env, PATH: `${join(h.dir, "host-b")}:${process.env.PATH ?? ""}` } });
    expect(await pathOfServer(b)).toBe(seen);
    // MUX_DAEMON_PATH, when a host sets it, is taken as it is.
    await b.close();
    const [pid2] = daemons(h.config);
    process.kill(pid2 as number, "SIGKILL");
    await waitFor(() => daemons(h.config).length === 0, 5000, "the daemon to die");
    const c = await sdk({ ...h, env: { ...h.env, MUX_DAEMON_PATH: `${tools}:/usr/bin:/bin` } });
    expect(await pathOfServer(c)).toBe(`${tools}:/usr/bin:/bin`);
  }, 60_000);
});

describe("hosts survive a daemon restart", () => {
  test("SIGTERM: the session goes on, the next calls succeed on a new daemon", async () => {
    const h = home();
    const c = await sdk(h);
    expect(await echo(c, 1)).toEqual({ n: 1 });
    const [before] = daemons(h.config);
    process.kill(before as number, "SIGTERM");
    await waitFor(() => !daemons(h.config).includes(before as number), 5000, "the daemon to stop");
    expect(await echo(c, 2)).toEqual({ n: 2 });
    const [after] = daemons(h.config);
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    expect(await echo(c, 3)).toEqual({ n: 3 });
  });

  test("SIGKILL with a call in flight: that one call fails, the session goes on", async () => {
    const h = home();
    const c = await sdk(h);
    expect(await echo(c, 1)).toEqual({ n: 1 });
    const [before] = daemons(h.config);
    const slow = c.callTool({ name: "slow", arguments: { ms: 3000 } }).then(
      () => "answered",
      (e: Error) => e.message,
    );
    await Bun.sleep(200);
    process.kill(before as number, "SIGKILL");
    expect(await slow).toContain("went away");
    expect(await echo(c, 2)).toEqual({ n: 2 });
    expect(daemons(h.config)).toHaveLength(1);
  });

  test("an upgrade of the installed executables: the next daemon is the new one", async () => {
    const h = home();
    const bin = join(h.dir, "bin");
    Bun.spawnSync(["mkdir", "-p", bin]);
    copyFileSync(MUX_BIN, join(bin, "mux"));
    copyFileSync(PROXY_BIN, join(bin, "mux-proxy"));
    Bun.spawnSync(["chmod", "755", join(bin, "mux"), join(bin, "mux-proxy")]);
    const c = await sdk(h, join(bin, "mux-proxy"));
    expect(await echo(c, 1)).toEqual({ n: 1 });
    const [old] = daemons(h.config);
    // Install a new build the way install.sh does: a new file renamed over the old one.
    copyFileSync(MUX_BIN, join(bin, ".mux.new"));
    Bun.spawnSync(["chmod", "755", join(bin, ".mux.new")]);
    renameSync(join(bin, ".mux.new"), join(bin, "mux"));
    process.kill(old as number, "SIGTERM");
    expect((await echoAfterRestart(c, 2)).value).toEqual({ n: 2 });
    // The old one may still be tearing down after it let go of the config's lock.
    await waitFor(() => !daemons(h.config).includes(old as number), 5000, "the old daemon to end");
    const [fresh] = daemons(h.config);
    expect(fresh).toBeDefined();
    expect(readFileSync(`/proc/${fresh}/exe`).length).toBeGreaterThan(0);
    const { ino } = await Bun.file(join(bin, "mux")).stat();
    const exe = Bun.spawnSync(["stat", "-L", "-c", "%i", `/proc/${fresh}/exe`])
      .stdout.toString()
      .trim();
    expect(Number(exe)).toBe(ino);
  });

  test("a server that changed while the daemon was away ends the session, so the host starts anew", async () => {
    const versionFile = join(scope.dir(), "version");
    writeFileSync(versionFile, "2025-11-25");
    const h = home({}, { FAKE_PROTOCOL_FILE: versionFile });
    const c = await sdk(h);
    let closed = false;
    c.onclose = () => {
      closed = true;
    };
    expect(await echo(c, 1)).toEqual({ n: 1 });
    writeFileSync(versionFile, "2025-06-18");
    const [pid] = daemons(h.config);
    process.kill(pid as number, "SIGTERM");
    // The new daemon answers the replayed initialize from its handshake cache (no server yet):
    // the change shows once a request starts the server.
    await waitFor(() => daemons(h.config).some((p) => p !== pid), 20_000, "the new daemon");
    const call = echo(c, 3).catch(() => undefined);
    await waitFor(() => closed, 20_000, "the session to end");
    await call;
    // Ended for that reason (not a crash of the proxy or the daemon) …
    expect(c.proxyStderr()).toContain("the server changed while the daemon was away; ending the session");
    // … and the host's new session works, on the daemon the proxy started again.
    const fresh = await sdk(h);
    expect(await echo(fresh, 2)).toEqual({ n: 2 });
    expect(daemons(h.config)).toHaveLength(1);
    expect(daemons(h.config)[0]).not.toBe(pid);
  });
});

describe("idle exit", () => {
  test("an auto-started daemon exits once it has had no client for idle_exit_ms; the next proxy starts it again", async () => {
    const h = home({ idle_exit_ms: 300 });
    const p = await rawProxy(h);
    p.send({ jsonrpc: "2.0", id: 1, method: "initialize", params: initialize });
    await p.response(1, 20_000);
    expect(daemons(h.config)).toHaveLength(1);
    p.close();
    await p.proc?.exited;
    await waitFor(() => daemons(h.config).length === 0, 10_000, "the idle daemon to exit");
    expect(existsSync(h.socket)).toBe(false);
    const again = await rawProxy(h);
    again.send({ jsonrpc: "2.0", id: 1, method: "initialize", params: initialize });
    expect((await again.response(1, 20_000)).result).toBeDefined();
  });

  test("a daemon started by hand never exits for idleness", async () => {
    const h = home({ idle_exit_ms: 200 });
    const proc = Bun.spawn({ cmd: [MUX_BIN, "serve", "--config", h.config], env: h.env, stderr: "pipe" });
    scope.defer(async () => {
      proc.kill();
      await proc.exited;
    });
    await waitFor(() => existsSync(h.socket), 10_000, "the socket");
    await Bun.sleep(800);
    expect(proc.exitCode).toBeNull();
  });
});
