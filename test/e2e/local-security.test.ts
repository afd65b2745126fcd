/**
 * Neighbours on the same machine (issue: hardening): socket folders and sockets another user
 * made, impostor listeners, planted status-file links, forwarded environments, and what a
 * daemon leaves behind when it is stopped or killed. Through the compiled binaries. Tests
 * that play "another user" need root (to act as uid 65534) and are skipped otherwise.
 */

import { describe, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  watch,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { controlSocketPath } from "../../src/config/paths.ts";
import type { MuxOptions } from "../../src/index.ts";
import {
  BUN,
  fakeServer,
  type Json,
  MUX_BIN,
  PROXY_BIN,
  RawClient,
  recorded,
  startTarget,
  type Target,
  testScope,
  textOf,
  waitFor,
} from "../helpers.ts";

const scope = testScope("bin");
const { dir } = scope;
const NOBODY = 65534;
const root = process.getuid?.() === 0;
if (!root) console.log("skipping the other-user tests: they need root to act as uid 65534");

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");
  } catch {
    return false;
  }
};

async function run(cmd: string[], stdin = "", env: Record<string, string> = {}) {
  const p = Bun.spawn({
    cmd,
    stdin: new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...env },
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { stdout, stderr, code };
}

const serve = (socket: string, extra: string[] = []) =>
  run([
    MUX_BIN,
    "serve",
    "--socket",
    socket,
    "--cmd",
    BUN,
    ...extra,
    "--",
    join(import.meta.dir, "../fixtures/fake-server.ts"),
  ]);

describe("socket folders", () => {
  test("a folder another user created first is refused, so is a symlinked or group-writable one", async () => {
    const d = dir();
    if (root) {
      const planted = join(d, "planted");
      mkdirSync(planted, { mode: 0o777 });
      chmodSync(planted, 0o777);
      chownSync(planted, NOBODY, NOBODY);
      const r = await serve(join(planted, "x.sock"));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`refusing socket folder ${planted}`);
      expect(r.stderr).toContain(`belongs to uid ${NOBODY}`);
    }
    const open = join(d, "open");
    mkdirSync(open);
    chmodSync(open, 0o775);
    const r2 = await serve(join(open, "x.sock"));
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toContain("other users can write to it");
    const real = join(d, "real");
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, join(d, "link"));
    const r3 = await serve(join(d, "link", "x.sock"));
    expect(r3.code).not.toBe(0);
    expect(r3.stderr).toContain("symbolic link");
  });

  test("without XDG_RUNTIME_DIR the default sockets live under the user's home, in a 0700 folder", async () => {
    const home = dir();
    const config = join(home, "mux.json");
    writeFileSync(config, JSON.stringify({ servers: { memo: fakeServer(home) } }));
    const env = { ...process.env, HOME: home } as Record<string, string>;
    delete env.XDG_RUNTIME_DIR;
    delete env.XDG_STATE_HOME;
    delete env.MUX_RUNTIME_DIR;
    const proc = Bun.spawn({ cmd: [MUX_BIN, "serve", "--config", config], env, stderr: "pipe" });
    scope.defer(async () => {
      proc.kill();
      await proc.exited;
    });
    const socket = join(home, ".local/state/mcp-mux/run/memo.sock");
    await waitFor(() => existsSync(socket), 10_000, "the default socket");
    const mode = (await run(["stat", "-c", "%a", join(home, ".local/state/mcp-mux/run")])).stdout.trim();
    expect(mode).toBe("700");
  });
});

describe.skipIf(!root)("impostors", () => {
  test("mux-proxy refuses a socket that belongs to another user", async () => {
    const d = dir();
    const t = await scope.target({ socket: join(d, "s.sock"), ...fakeServer(d) });
    chownSync(t.socket, NOBODY, NOBODY);
    const r = await run([PROXY_BIN, "--socket", t.socket], '{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`belongs to uid ${NOBODY}`);
    expect(r.stdout).toBe("");
  });

  test("secrets are never forwarded to a listener run by another user (checked with SO_PEERCRED)", async () => {
    const d = dir();
    chmodSync(d, 0o711); // the other user may pass through to the shared folder
    const shared = join(d, "shared");
    mkdirSync(shared);
    chmodSync(shared, 0o1777); // like /tmp: anybody may create, nobody may replace ours
    const socket = join(shared, "s.sock");
    const got = join(shared, "got.txt");
    const closed = join(shared, "closed.txt"); // the impostor notes each connection's end (after its data)
    const impostor = Bun.spawn({
      cmd: [
        "setpriv",
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        "--clear-groups",
        BUN,
        "-e",
        `Bun.listen({ unix: ${JSON.stringify(socket)}, socket: { data(_s, d) { require("fs").appendFileSync(${JSON.stringify(got)}, d); }, close() { require("fs").appendFileSync(${JSON.stringify(closed)}, "x"); } } }); setInterval(() => {}, 1000);`,
      ],
      stderr: "inherit",
    });
    scope.defer(async () => {
      impostor.kill();
      await impostor.exited;
    });
    await waitFor(() => existsSync(socket), 5000, "the impostor socket");
    chownSync(socket, 0, 0); // pass the file check: only the kernel's peer credentials tell
    const r = await run(
      [PROXY_BIN, "--socket", socket, "--env", "TOKEN"],
      '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}\n',
      { TOKEN: "secret-value" },
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`served by uid ${NOBODY}`);
    // Settled: the impostor saw the proxy's connection end, after any bytes it carried.
    await waitFor(() => existsSync(closed), 5000, "the impostor to see the connection end");
    expect(existsSync(got) ? readFileSync(got, "utf8") : "").toBe("");
  });

  test("a status file link planted in a shared folder is replaced, never written through", async () => {
    const d = dir();
    const shared = join(d, "shared");
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const victim = join(d, "victim.txt");
    writeFileSync(victim, "precious\n");
    const statusFile = join(shared, "status.json");
    symlinkSync(victim, statusFile);
    const t = await scope.target({ socket: join(d, "s.sock"), ...fakeServer(d), statusFile, childCapabilities: "all" });
    await waitFor(
      () => {
        try {
          return JSON.parse(readFileSync(statusFile, "utf8")).service !== undefined;
        } catch {
          return false;
        }
      },
      5000,
      "the status file",
    );
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
    void t;
  });
});

describe("status file", () => {
  test("a write that fails is logged once and leaves no temporary file", async () => {
    const d = dir();
    const statusFile = join(d, "status.json");
    mkdirSync(statusFile); // a folder where the file should go: every rename fails
    const t = await scope.target({ socket: join(d, "s.sock"), ...fakeServer(d), statusFile, restartBackoffMs: 10 });
    // Every write attempt makes a temporary file next to the target: count them as they come.
    const attempts = new Set<string>();
    const watcher = watch(d, (_event, name) => {
      if (name?.endsWith(".tmp")) attempts.add(name);
    });
    scope.defer(() => watcher.close());
    for (let i = 0; i < 5; i++) {
      const seen = attempts.size;
      const c = await scope.raw(t.socket); // a session comes and goes: the status changes
      await c.handshake();
      await c.settle();
      c.close();
      await waitFor(() => attempts.size > seen, 10_000, "another write attempt");
    }
    expect(attempts.size).toBeGreaterThanOrEqual(5);
    const warnings = t
      .stderr()
      .split("\n")
      .filter((l) => l.includes("cannot write the status file"));
    expect(warnings).toHaveLength(1);
    expect(readdirSync(d).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });
});

describe("forwarded environments", () => {
  const use = (options: MuxOptions): Promise<Target> => scope.target(options);
  /** A client through a mux-proxy forwarding `env` with `--env NAME` (as rewired entries do). */
  const proxy = (socket: string, env: Record<string, string>): Promise<RawClient> =>
    scope.raw(socket, "proxy", {
      args: Object.keys(env).flatMap((n) => ["--env", n]),
      env: { ...process.env, ...env },
    });
  const init = { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "p", version: "1" } };

  test("names the service does not allow, and loader variables, are refused with -32035", async () => {
    const d = dir();
    const t = await use({ socket: join(d, "e.sock"), ...fakeServer(d), forwardEnv: ["TOKEN", "NODE_OPTIONS"] });
    const preload = await proxy(t.socket, { LD_PRELOAD: "/tmp/evil.so" });
    preload.request(1, "initialize", init);
    expect(((await preload.response(1)).error as Json).code).toBe(-32035);
    const other = await proxy(t.socket, { OTHER: "x" });
    other.request(1, "initialize", init);
    const refused = (await other.response(1)).error as Json;
    expect(refused.code).toBe(-32035);
    expect(String(refused.message)).toContain("forward_env");
    const allowed = await proxy(t.socket, { TOKEN: "abc" });
    allowed.request(1, "initialize", init);
    expect((await allowed.response(1)).result).toBeDefined();
    allowed.request(2, "tools/call", { name: "env", arguments: { name: "TOKEN" } });
    expect(JSON.parse(textOf((await allowed.response(2)).result)).value).toBe("abc");
  });

  test("distinct environments get at most max_env_children servers; the next client is told why", async () => {
    const d = dir();
    const t = await use({ socket: join(d, "e.sock"), ...fakeServer(d), forwardEnv: ["TOKEN"], maxEnvChildren: 3 });
    const clients = await Promise.all(Array.from({ length: 6 }, (_, i) => proxy(t.socket, { TOKEN: `v${i}` })));
    for (const c of clients) c.request(1, "initialize", init);
    const answers = await Promise.all(clients.map((c) => c.response(1)));
    expect(answers.filter((a) => a.result).length).toBe(3);
    const refused = answers.filter((a) => (a.error as Json | undefined)?.code === -32035);
    expect(refused).toHaveLength(3);
    expect(String((refused[0]?.error as Json).message)).toContain("max_env_children");
  });

  test("hostile hello values (NUL, not a string, too long, a hello too big to read) are refused for that client only, before anything starts", async () => {
    const d = dir();
    const t = await use({ socket: join(d, "e.sock"), ...fakeServer(d), forwardEnv: ["TOKEN"], maxEnvChildren: 2 });
    const hello = (env: Json) => JSON.stringify({ jsonrpc: "2.0", method: "mcp-mux/hello", params: { env } });
    const hostile: [string, string, string][] = [
      ["NUL", hello({ TOKEN: "a\u0000b" }), "holds a NUL byte"],
      ["number", hello({ TOKEN: 42 }), "is not a string"],
      ["33 KiB", hello({ TOKEN: "x".repeat(33 * 1024) }), "is too long (33792 bytes; at most 32768)"],
      ["300 KB", hello({ TOKEN: "y".repeat(300_000) }), "line is too big"],
      ["2 MB", hello({ TOKEN: "z".repeat(2_000_000) }), "line is too big"], // over max_request_bytes
      [
        "2 MB, params first",
        `{"params":{"env":{"TOKEN":"${"z".repeat(2_000_000)}"}},"method":"mcp-mux/hello"}`,
        "line is too big",
      ],
    ];
    for (const [what, line, why] of hostile) {
      const c = await scope.raw(t.socket);
      c.send(line);
      c.request(1, "initialize", init);
      c.request(2, "tools/call", { name: "env", arguments: { name: "TOKEN" } });
      const answers = [(await c.response(1, 10_000)).error as Json, (await c.response(2, 10_000)).error as Json];
      for (const e of answers) expect(`${what}: ${e?.code} ${e?.message}`).toContain(`${what}: -32035 `);
      expect(`${what}: ${answers[0]?.message}`).toContain(why);
    }
    // Nothing was started for them: two distinct allowed values still get their own servers,
    // a newline in a value arrives intact, and a client without a hello is served as before.
    const values = ["line one\nline two", "v2"];
    for (const value of values) {
      const ok = await proxy(t.socket, { TOKEN: value });
      ok.request(1, "initialize", init);
      expect((await ok.response(1, 10_000)).result).toBeDefined();
      ok.request(2, "tools/call", { name: "env", arguments: { name: "TOKEN" } });
      expect(JSON.parse(textOf((await ok.response(2)).result)).value).toBe(value);
    }
    const plain = await scope.raw(t.socket);
    await plain.handshake();
    plain.request(2, "tools/call", { name: "env", arguments: { name: "TOKEN" } });
    expect(JSON.parse(textOf((await plain.response(2)).result)).value).toBeNull();
  });
});

describe("the control socket", () => {
  /** A config daemon with one fake service whose server records what it receives. */
  function configDaemon(d: string) {
    const file = join(d, "mux.toml");
    const entry = (name: string) =>
      `[servers.${name}]\nsocket = "${join(d, `${name}.sock`)}"\ncmd = "${BUN}"\nargs = ["${join(import.meta.dir, "../fixtures/fake-server.ts")}"]\nenv = { FAKE_RECORD = "${join(d, "record.jsonl")}" }\n`;
    writeFileSync(file, entry("a"));
    const env = { ...(process.env as Record<string, string>), MUX_RUNTIME_DIR: join(d, "run") };
    const proc = Bun.spawn({ cmd: [MUX_BIN, "serve", "--config", file], env, stdout: "ignore", stderr: "ignore" });
    scope.defer(async () => {
      proc.kill("SIGTERM");
      await proc.exited;
    });
    return { file, env, entry, control: controlSocketPath(file, env) };
  }

  test("a client of a service socket cannot reload the daemon or send it a late hello; nothing of it reaches the server", async () => {
    const d = dir();
    const t = configDaemon(d);
    await waitFor(() => existsSync(join(d, "a.sock")) && existsSync(t.control), 10_000, "the sockets");
    const c = await scope.raw(join(d, "a.sock"));
    await c.handshake();
    writeFileSync(t.file, t.entry("a") + t.entry("added")); // what a reload would start
    c.request("r", "mcp-mux/reload");
    const refused = (await c.response("r")).error as Json;
    expect(refused.code).toBe(-32601);
    expect(String(refused.message)).toContain("control socket only");
    c.request("h", "mcp-mux/hello", { env: { TOKEN: "late" } });
    expect(((await c.response("h")).error as Json).code).toBe(-32601);
    c.send({ jsonrpc: "2.0", method: "mcp-mux/hello", params: { env: { TOKEN: "late" } } });
    c.request("e", "tools/call", { name: "env", arguments: { name: "TOKEN" } });
    expect(JSON.parse(textOf((await c.response("e")).result)).value).toBeNull();
    await c.settle();
    expect(existsSync(join(d, "added.sock"))).toBe(false);
    expect(recorded(d).filter((m) => String(m.method).startsWith("mcp-mux/"))).toEqual([]);
    // The owner's tool, on the control socket, does reload (so the check above could fail).
    const reload = await run([MUX_BIN, "reload", "--config", t.file], "", t.env);
    expect(reload.stdout).toContain("added: added");
    await waitFor(() => existsSync(join(d, "added.sock")), 10_000, "the added service");
  });

  test("what its owner's tools send is bounded: a huge line is dropped with an error, the socket serves on", async () => {
    const d = dir();
    const t = configDaemon(d);
    await waitFor(() => existsSync(t.control), 10_000, "the control socket");
    const c = await RawClient.connect(t.control);
    c.send(`{"jsonrpc":"2.0","id":1,"method":"mcp-mux/status","params":{"pad":"${"x".repeat(8 * 1024 * 1024)}"}}`);
    c.request(2, "ping");
    const dropped = await c.next((m) => m.id === null && m.error !== undefined, 20_000);
    expect(String((dropped.error as Json).message)).toContain("at most 65536");
    expect((await c.response(2)).result).toEqual({});
    expect(c.received.some((m) => m.id === 1)).toBe(false);
    c.close();
  }, 30_000);

  test.skipIf(!root)(
    "only its owner reaches it: 0600 in a 0700 folder; another user is refused, and never hosts it",
    async () => {
      const d = dir();
      chmodSync(d, 0o711);
      const t = configDaemon(d);
      await waitFor(() => existsSync(t.control), 10_000, "the control socket");
      const st = statSync(t.control);
      expect([st.uid, st.mode & 0o777, statSync(dirname(t.control)).mode & 0o777]).toEqual([0, 0o600, 0o700]);
      const other = Bun.spawnSync([
        "setpriv",
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        "--clear-groups",
        BUN,
        "-e",
        `try { await Bun.connect({ unix: ${JSON.stringify(t.control)}, socket: { data() {} } }); console.log("connected"); } catch (e) { console.log(e.code); } process.exit(0);`,
      ]);
      expect(other.stdout.toString().trim()).toBe("EACCES");

      // A runtime folder another user made first: the daemon refuses it, with the reason, and
      // puts nothing there.
      const d2 = dir();
      const planted = join(d2, "run");
      mkdirSync(planted, { mode: 0o777 });
      chownSync(planted, NOBODY, NOBODY);
      const file = join(d2, "mux.toml");
      writeFileSync(file, `[servers.a]\nsocket = "${join(d2, "a.sock")}"\ncmd = "${BUN}"\n`);
      const refused = await run([MUX_BIN, "serve", "--config", file], "", { MUX_RUNTIME_DIR: planted });
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(`refusing socket folder ${planted}: it belongs to uid ${NOBODY}`);
      expect(readdirSync(planted)).toEqual([]);
    },
    30_000,
  );
});

describe("signals and process trees", () => {
  test("SIGHUP stops a single-service daemon cleanly: exit 0, socket removed, server tree gone", async () => {
    const d = dir();
    const pidFile = join(d, "child.pid");
    const grandchild = join(d, "grand.pid");
    const t = await startTarget("bin", {
      socket: join(d, "h.sock"),
      ...fakeServer(d, { FAKE_PID_FILE: pidFile, FAKE_GRANDCHILD_PID_FILE: grandchild }),
    });
    await waitFor(() => existsSync(grandchild), 5000, "the grandchild");
    const pids = [Number(readFileSync(pidFile, "utf8")), Number(readFileSync(grandchild, "utf8"))];
    t.proc?.kill("SIGHUP");
    expect(await t.proc?.exited).toBe(0);
    expect(existsSync(t.socket)).toBe(false);
    await waitFor(() => pids.every((p) => !alive(p)), 5000, "the server tree to be gone");
  });

  test("SIGKILL of the daemon still takes the server's whole tree down", async () => {
    const d = dir();
    const pidFile = join(d, "child.pid");
    const grandchild = join(d, "grand.pid");
    const t = await startTarget("bin", {
      socket: join(d, "k.sock"),
      ...fakeServer(d, { FAKE_PID_FILE: pidFile, FAKE_GRANDCHILD_PID_FILE: grandchild, FAKE_IGNORE_SIGTERM: "1" }),
    });
    await waitFor(() => existsSync(grandchild), 5000, "the grandchild");
    const pids = [Number(readFileSync(pidFile, "utf8")), Number(readFileSync(grandchild, "utf8"))];
    expect(pids.every(alive)).toBe(true);
    t.proc?.kill("SIGKILL");
    await t.proc?.exited;
    await waitFor(() => pids.every((p) => !alive(p)), 5000, "the server tree to die with the daemon");
  });
});

describe("health and roots tell the truth", () => {
  test("a server that never answers is not healthy: mux health exits 6 (starting)", async () => {
    const d = dir();
    const t = await scope.target({ socket: join(d, "s.sock"), cmd: "sleep", args: ["1000"] });
    const r = await run([MUX_BIN, "health", "--socket", t.socket, "--timeout-ms", "500"]);
    expect(r.code).toBe(6);
    expect(r.stdout).toContain("has not answered");
    const ok = await scope.target({ socket: join(d, "ok.sock"), ...fakeServer(d) });
    const healthy = await run([MUX_BIN, "health", "--socket", ok.socket, "--json"]);
    expect(healthy.code).toBe(0);
    expect(JSON.parse(healthy.stdout).message).toContain("the server answered");
  });

  test("roots/list is answered with an empty list when the mux declared roots and nobody exposes any", async () => {
    const d = dir();
    const t = await scope.target({ socket: join(d, "r.sock"), ...fakeServer(d), childCapabilities: "all" });
    const c = await scope.raw(t.socket);
    await c.handshake();
    c.request(1, "tools/call", { name: "roots" });
    expect(JSON.parse(textOf((await c.response(1)).result))).toMatchObject({ result: { roots: [] } });
    const none = await scope.target({ socket: join(d, "n.sock"), ...fakeServer(d), rootsPolicy: "none" });
    const n = await scope.raw(none.socket);
    await n.handshake({ roots: {} });
    n.request(1, "tools/call", { name: "roots" });
    expect(JSON.parse(textOf((await n.response(1)).result))).toMatchObject({ error: { code: -32601 } });
  });
});
