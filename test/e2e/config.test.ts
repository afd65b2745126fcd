/** `mux serve --config`: precedence, default location, multi-service, status/health, reload. */

import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { BUN, FAKE_SERVER, type Json, MUX_BIN, RawClient, testScope, textOf, waitFor } from "../helpers.ts";

const scope = testScope();
const { dir } = scope;

/** A daemon; `logs()` is what it wrote to stderr so far. */
function daemon(
  args: string[],
  env: Record<string, string> = {},
): Subprocess<"ignore", "ignore", "pipe"> & { logs(): string } {
  const proc = Bun.spawn({
    cmd: [MUX_BIN, ...args],
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  let logs = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) logs += decoder.decode(chunk);
  })();
  scope.defer(async () => {
    if (proc.exitCode === null) proc.kill("SIGTERM");
    await proc.exited;
  });
  return Object.assign(proc, { logs: () => logs });
}

async function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn({ cmd: [MUX_BIN, ...args], env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

async function statusOf(socket: string): Promise<Json> {
  await waitFor(() => existsSync(socket), 10_000, socket);
  const c = await RawClient.connect(socket);
  c.request(1, "mcp-mux/status");
  const s = (await c.response(1)).result as Json;
  c.close();
  return s;
}

const fakeEntry = (d: string, name: string, extra = ""): string =>
  `[servers.${name}]\nsocket = "${join(d, `${name}.sock`)}"\ncmd = "${BUN}"\nargs = ["${FAKE_SERVER}"]\n${extra}\n`;

describe("precedence through the command line", () => {
  test("flags beat the config file, which beats the defaults, for every field", async () => {
    const d = dir();
    const file = join(d, "mux.toml");
    writeFileSync(
      file,
      `${fakeEntry(
        d,
        "a",
        `max_active_clients = 7\nlazy_start = true\nmax_request_bytes = 2048\nrequest_timeout_ms = 1500\nrestart_backoff_ms = 11\nrestart_backoff_max_ms = 22\nmax_restarts = 3\nhealthy_after_ms = 44\nstatus_file = "${join(d, "a.json")}"\nroots_policy = "union"\nambiguous_route = "most-recent"\nmode = "isolated"\nenv = { SECRET = "hidden" }`,
      )}${fakeEntry(d, "b")}`,
    );
    const fromConfig = daemon(["serve", "--config", file]);
    const a = (await statusOf(join(d, "a.sock"))).settings as Json;
    expect(a).toMatchObject({
      maxActiveClients: 7,
      lazyStart: true,
      maxRequestBytes: 2048,
      requestTimeoutMs: 1500,
      restartBackoffMs: 11,
      restartBackoffMaxMs: 22,
      maxRestarts: 3,
      healthyAfterMs: 44,
      statusFile: join(d, "a.json"),
      rootsPolicy: "union",
      ambiguousRoute: "most-recent",
      isolated: true,
      envKeys: ["SECRET"],
    });
    expect(JSON.stringify(a)).not.toContain("hidden");
    const b = (await statusOf(join(d, "b.sock"))).settings as Json;
    expect(b).toMatchObject({
      maxActiveClients: 5,
      lazyStart: false,
      maxRequestBytes: 1048576,
      requestTimeoutMs: 30000,
      restartBackoffMs: 1000,
      restartBackoffMaxMs: 30000,
      maxRestarts: 5,
      healthyAfterMs: 60000,
      statusFile: null,
      rootsPolicy: "intersection",
      ambiguousRoute: "error",
      isolated: false,
    });
    fromConfig.kill("SIGTERM");
    await fromConfig.exited;

    const flags = daemon([
      "serve",
      "--config",
      file,
      "--service",
      "a",
      "--socket",
      join(d, "flag.sock"),
      "--max-active-clients",
      "2",
      "--max-request-bytes",
      "4096",
      "--request-timeout-ms",
      "999",
      "--restart-backoff-ms",
      "3",
      "--restart-backoff-max-ms",
      "4",
      "--max-restarts",
      "9",
      "--healthy-after-ms",
      "5",
      "--status-file",
      join(d, "flag.json"),
      "--roots-policy",
      "none",
      "--ambiguous-route",
      "error",
      "--service-name",
      "renamed",
    ]);
    const s = await statusOf(join(d, "flag.sock"));
    expect(s.service).toBe("renamed");
    expect(s.settings).toMatchObject({
      maxActiveClients: 2,
      maxRequestBytes: 4096,
      requestTimeoutMs: 999,
      restartBackoffMs: 3,
      restartBackoffMaxMs: 4,
      maxRestarts: 9,
      healthyAfterMs: 5,
      statusFile: join(d, "flag.json"),
      rootsPolicy: "none",
      ambiguousRoute: "error",
      lazyStart: true,
      isolated: true,
    });
    flags.kill("SIGTERM");
    await flags.exited;
    // boolean flags in their negative form also win
    daemon(["serve", "--config", file, "--service", "a", "--no-lazy-start", "--no-isolated"]);
    expect((await statusOf(join(d, "a.sock"))).settings).toMatchObject({ lazyStart: false, isolated: false });
  });

  test("a plain serve never reads a config file; with no flags the per-user config is used", async () => {
    const d = dir();
    const xdg = join(d, "xdg");
    mkdirSync(join(xdg, "mcp-mux"), { recursive: true });
    writeFileSync(join(xdg, "mcp-mux", "config.toml"), "this is = = not valid toml");
    daemon(["serve", "--socket", join(d, "plain.sock"), "--cmd", BUN, "--", FAKE_SERVER], { XDG_CONFIG_HOME: xdg });
    expect((await statusOf(join(d, "plain.sock"))).state).toBeDefined();
    const broken = await run(["serve"], { XDG_CONFIG_HOME: xdg });
    expect(broken.code).not.toBe(0);
    expect(broken.stderr).toContain(join(xdg, "mcp-mux", "config.toml"));
    writeFileSync(join(xdg, "mcp-mux", "config.toml"), fakeEntry(d, "dflt"));
    daemon(["serve"], { XDG_CONFIG_HOME: xdg });
    expect((await statusOf(join(d, "dflt.sock"))).service).toBe("dflt");
  });
});

describe("a config that is not a regular file", () => {
  test("mux serve, mux reload and the default config: a FIFO or a link to /dev/zero is refused at once with the reason", async () => {
    const d = dir();
    const fifo = join(d, "mux.json");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const zero = join(d, "zero.yaml");
    symlinkSync("/dev/zero", zero);
    for (const [args, what] of [
      [["serve", "--config", fifo], "a FIFO (named pipe)"],
      [["reload", "--config", fifo], "a FIFO (named pipe)"],
      [["serve", "--config", zero], "a character device"],
    ] as const) {
      const r = await run([...args]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`not a regular file (it is ${what})`);
    }
    // The per-user config found by name (here the FIFO) is checked the same way.
    mkdirSync(join(d, "cfg", "mcp-mux"), { recursive: true });
    expect(Bun.spawnSync(["mkfifo", join(d, "cfg", "mcp-mux", "config.toml")]).exitCode).toBe(0);
    const r = await run(["serve"], { XDG_CONFIG_HOME: join(d, "cfg") });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("not a regular file (it is a FIFO (named pipe))");
  }, 20_000);
});

describe("multi-service daemon", () => {
  test("broken services do not stop the others; status and health cover all of them", async () => {
    const d = dir();
    const file = join(d, "multi.yaml");
    writeFileSync(
      file,
      [
        "servers:",
        "  good:",
        `    socket: ${join(d, "good.sock")}`,
        `    cmd: ${BUN}`,
        `    args: [${FAKE_SERVER}]`,
        "  missing:",
        `    socket: ${join(d, "missing.sock")}`,
        "    cmd: /nonexistent/server",
        "  crashing:",
        `    socket: ${join(d, "crashing.sock")}`,
        `    cmd: ${BUN}`,
        "    args: [-e, 'process.exit(1)']",
        "    max_restarts: 1",
        "    restart_backoff_ms: 10",
      ].join("\n"),
    );
    daemon(["serve", "--config", file]);
    await waitFor(() => existsSync(join(d, "crashing.sock")), 10_000, "sockets");
    await waitFor(async () => (await statusOf(join(d, "crashing.sock"))).state === "failed", 10_000, "crashing failed");
    const c = await RawClient.connect(join(d, "good.sock"));
    scope.defer(() => c.close());
    await c.handshake();
    c.request(1, "tools/call", { name: "echo", arguments: { ok: true } });
    expect(JSON.parse(textOf((await c.response(1)).result))).toEqual({ ok: true });

    const table = await run(["status", "--config", file]);
    expect(table.stdout).toMatch(/good\s+ready/);
    expect(table.stdout).toMatch(/crashing\s+failed/);
    expect(table.stdout).toMatch(/missing\s+failed/);
    expect(table.stdout).toContain('missing: failed: cannot start MCP server command "/nonexistent/server"');
    expect(table.code).toBe(1); // a service is failed
    const json = JSON.parse((await run(["status", "--config", file, "--json"])).stdout) as Json[];
    expect(json.map((s) => s.service).sort()).toEqual(["crashing", "good", "missing"]);

    const all = await run(["health", "--config", file]);
    expect(all.code).not.toBe(0);
    expect(all.stdout).toContain("OK good");
    expect(all.stdout).toContain("UNHEALTHY crashing");
    expect((await run(["health", "--config", file, "--service", "good"])).code).toBe(0);
  });

  test("reload: added start, removed stop, changed restart, unchanged keep their child and clients; invalid configs are rejected", async () => {
    const d = dir();
    const file = join(d, "r.toml");
    writeFileSync(file, fakeEntry(d, "keep") + fakeEntry(d, "change") + fakeEntry(d, "remove"));
    const proc = daemon(["serve", "--config", file]);
    await waitFor(() => ["keep", "change", "remove"].every((n) => existsSync(join(d, `${n}.sock`))), 10_000, "sockets");
    const kept = await RawClient.connect(join(d, "keep.sock"));
    scope.defer(() => kept.close());
    await kept.handshake();
    kept.request(1, "tools/call", { name: "whoami" });
    const keptPid = JSON.parse(textOf((await kept.response(1)).result)).pid;
    const changedPid = (await statusOf(join(d, "change.sock"))).childPid;

    writeFileSync(
      file,
      fakeEntry(d, "keep") + fakeEntry(d, "change", "max_active_clients = 2") + fakeEntry(d, "added"),
    );
    const reload = await run(["reload", "--config", file]);
    expect(reload.code).toBe(0);
    expect(reload.stdout).toContain("added: added");
    expect(reload.stdout).toContain("removed: remove");
    expect(reload.stdout).toContain("restarted: change");
    expect(reload.stdout).toContain("unchanged: keep");
    expect(existsSync(join(d, "remove.sock"))).toBe(false);
    expect((await statusOf(join(d, "added.sock"))).state).toBeDefined();
    const changed = await statusOf(join(d, "change.sock"));
    expect((changed.settings as Json).maxActiveClients).toBe(2);
    expect(changed.childPid).not.toBe(changedPid);
    kept.request(2, "tools/call", { name: "whoami" });
    expect(JSON.parse(textOf((await kept.response(2)).result)).pid).toBe(keptPid);

    writeFileSync(file, `${fakeEntry(d, "keep")}max_active_clientz = 3\n`);
    const bad = await run(["reload", "--config", file]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('did you mean "max_active_clients"');
    const rejected = (): number => proc.logs().split("reload rejected").length - 1;
    const before = rejected();
    proc.kill("SIGHUP");
    // Settled: the daemon has read the bad file and said so.
    await waitFor(() => rejected() > before, 10_000, "the SIGHUP reload to be rejected");
    expect(proc.logs()).toContain('did you mean "max_active_clients"');
    expect(existsSync(join(d, "added.sock"))).toBe(true); // still running the last good config
    kept.request(3, "tools/call", { name: "whoami" });
    expect(JSON.parse(textOf((await kept.response(3)).result)).pid).toBe(keptPid);

    writeFileSync(file, fakeEntry(d, "keep"));
    proc.kill("SIGHUP");
    await waitFor(
      () => !existsSync(join(d, "added.sock")) && !existsSync(join(d, "change.sock")),
      10_000,
      "SIGHUP reload",
    );
    kept.request(4, "tools/call", { name: "whoami" });
    expect(JSON.parse(textOf((await kept.response(4)).result)).pid).toBe(keptPid);
  });
});
