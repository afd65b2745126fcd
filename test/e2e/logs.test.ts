/**
 * `mux logs`: the record of a running service, read from its control socket by the compiled
 * `mux`, with real SDK clients (through `mux-proxy`) calling tools on the fake server.
 */

import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { controlSocketPath } from "../../src/config/paths.ts";
import { BUN, FAKE_SERVER, MUX_BIN, sdkClient, testScope, textOf, waitFor } from "../helpers.ts";

const scope = testScope();
const procs: ReturnType<typeof Bun.spawn>[] = [];
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => {});
  for (const p of procs.splice(0)) {
    p.kill("SIGTERM");
    await p.exited;
  }
});

/** `mux serve --socket` on the fake server (its stderr lines go to the record). */
async function serve(extra: string[] = [], env: Record<string, string> = {}): Promise<string> {
  const dir = scope.dir();
  const socket = join(dir, "s.sock");
  const p = Bun.spawn([MUX_BIN, "serve", "--socket", socket, ...extra, "--cmd", BUN, "--", FAKE_SERVER], {
    stdout: "ignore",
    stderr: "ignore",
    env: { ...process.env, FAKE_STDERR_LINES: "2", ...env },
  });
  procs.push(p);
  await waitFor(() => existsSync(socket) && existsSync(`${socket}.ctl`), 10_000, "the sockets");
  return socket;
}

async function logs(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn([MUX_BIN, "logs", ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { code, stdout, stderr };
}

async function client(socket: string, name: string): Promise<Client> {
  const c = await sdkClient(socket, { name });
  clients.push(c);
  return c;
}

describe("mux logs", () => {
  test("a config daemon: --service picks one service, an unknown one is named with the running ones (exit 2)", async () => {
    const dir = scope.dir();
    const env = { ...(process.env as Record<string, string>), MUX_RUNTIME_DIR: join(dir, "run"), NO_COLOR: "1" };
    const config = join(dir, "mux.json");
    const socket = (n: string) => join(dir, `${n}.sock`);
    writeFileSync(
      config,
      JSON.stringify({
        servers: {
          one: { cmd: BUN, args: [FAKE_SERVER], socket: socket("one") },
          two: { cmd: BUN, args: [FAKE_SERVER], socket: socket("two") },
        },
      }),
    );
    const p = Bun.spawn([MUX_BIN, "serve", "--config", config], { stdout: "ignore", stderr: "ignore", env });
    procs.push(p);
    const control = controlSocketPath(config, env);
    await waitFor(
      () => existsSync(socket("one")) && existsSync(socket("two")) && existsSync(control),
      10_000,
      "sockets",
    );
    const a = await client(socket("one"), "alpha-host");
    const b = await client(socket("two"), "beta-host");
    await a.callTool({ name: "echo", arguments: {} });
    await b.callTool({ name: "echo", arguments: {} });
    const run = async (args: string[]) => {
      const q = Bun.spawn([MUX_BIN, "logs", "--config", config, ...args], { stdout: "pipe", stderr: "pipe", env });
      const [stdout, stderr, code] = await Promise.all([
        new Response(q.stdout).text(),
        new Response(q.stderr).text(),
        q.exited,
      ]);
      return { stdout, stderr, code };
    };
    const all = await run([]);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/ one alpha-host#\d+ → request tools\/call/);
    expect(all.stdout).toMatch(/ two beta-host#\d+ → request tools\/call/);
    const one = await run(["--service", "one"]);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain("alpha-host");
    expect(one.stdout).not.toContain("beta-host");
    const nope = await run(["--service", "nope"]);
    expect(nope.code).toBe(2);
    expect(nope.stderr).toContain('unknown service "nope" (running: one, two)');
  });

  test("shows both clients' calls with their names, methods and durations; --follow shows a third as it happens", async () => {
    const socket = await serve();
    const alpha = await client(socket, "alpha-host");
    const beta = await client(socket, "beta-host");
    expect(textOf(await alpha.callTool({ name: "echo", arguments: { a: 1 } }))).toContain('"a":1');
    expect(textOf(await beta.callTool({ name: "echo", arguments: { b: 2 } }))).toContain('"b":2');

    const plain = await logs(["--socket", socket]);
    expect(plain.code).toBe(0);
    const lines = plain.stdout.split("\n");
    for (const name of ["alpha-host", "beta-host"]) {
      expect(lines.some((l) => l.includes(`${name}#`) && l.includes("→ request tools/call"))).toBe(true);
      // The answer carries the request's method and how long it took.
      expect(lines.some((l) => l.includes(`${name}#`) && /← response tools\/call id=\d+ \d+ms/.test(l))).toBe(true);
    }
    expect(plain.stdout).toContain("stderr stderr line 0");
    expect(plain.stdout).toMatch(/event +started /);
    // A pipe gets no colour.
    expect(plain.stdout).not.toContain("\x1b[");

    const json = await logs(["--socket", socket, "--json", "--client", "beta"]);
    expect(json.code).toBe(0);
    const entries = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.every((e) => e.client?.name === "beta-host")).toBe(true);
    // The host that started the mux-proxy: this test process.
    expect(entries.every((e) => e.client?.pid === process.pid)).toBe(true);
    expect(plain.stdout).toContain(`(pid ${process.pid})`);
    const answer = entries.find((e) => e.dir === "out" && e.method === "tools/call");
    expect(typeof answer.ms).toBe("number");
    expect(answer.payload).toBeUndefined(); // payloads are off by default

    const follow = Bun.spawn([MUX_BIN, "logs", "--socket", socket, "--follow", "--client", "gamma"], {
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, NO_COLOR: "1" },
    });
    let seen = "";
    const reader = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of follow.stdout) seen += decoder.decode(chunk);
    })();
    const gamma = await client(socket, "gamma-host");
    await gamma.callTool({ name: "echo", arguments: { c: 3 } });
    await waitFor(() => /gamma-host#\d+ ← response tools\/call id=\d+ \d+ms/.test(seen), 10_000, "the third call");
    expect(seen).not.toContain("alpha-host");
    follow.kill("SIGINT");
    expect(await follow.exited).toBe(0);
    await reader;
  });

  test("the record never exceeds its caps under a flood", async () => {
    const socket = await serve(["--record-max-entries", "100", "--record-max-bytes", "16384"]);
    const raw = await scope.raw(socket);
    await raw.handshake();
    for (let i = 0; i < 3000; i++) raw.request(i, "ping");
    await raw.response(2999);
    const byEntries = await logs(["--socket", socket, "--json", "--limit", "100000"]);
    const entries = byEntries.stdout.trim().split("\n");
    expect(entries.length).toBeLessThanOrEqual(100);
    expect(entries.length).toBeGreaterThan(10);
    // The newest are kept.
    expect(byEntries.stdout).toContain('"id":"2999"');
    raw.close();

    const small = await serve(["--record-max-entries", "100000", "--record-max-bytes", "8192", "--record-payloads"]);
    const r2 = await scope.raw(small);
    await r2.handshake();
    for (let i = 0; i < 3000; i++) r2.request(i, "tools/call", { name: "echo", arguments: { pad: "p".repeat(200) } });
    await r2.response(2999);
    const bytes = await logs(["--socket", small, "--json", "--limit", "100000"]);
    const kept = bytes.stdout.trim().split("\n");
    // Each kept entry holds a payload of over 200 bytes: 8 KiB holds a few dozen at most.
    expect(kept.length).toBeLessThan(40);
    expect(kept.length).toBeGreaterThan(2);
    r2.close();
  });

  test("payload capture redacts tokens, Authorization and the keys the config marks, in answers too", async () => {
    const socket = await serve(["--record-payloads", "--record-redact", "projectCode"]);
    const raw = await scope.raw(socket);
    await raw.handshake();
    raw.request(7, "tools/call", {
      name: "echo",
      arguments: {
        api_key: "k-123456",
        projectCode: "PRJ-9",
        note: "Bearer abc.def.ghi",
        headers: { Authorization: "x" },
      },
    });
    await raw.response(7);
    const out = await logs(["--socket", socket, "--json"]);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('"method":"tools/call"');
    expect(out.stdout).toContain("[redacted]");
    for (const secret of ["k-123456", "PRJ-9", "abc.def.ghi"]) expect(out.stdout).not.toContain(secret);
    raw.close();
  });

  test("restarts with their reasons, and error answers with their codes", async () => {
    const socket = await serve(["--restart-backoff-ms", "10"]);
    const raw = await scope.raw(socket);
    await raw.handshake();
    raw.request(3, "tools/call", { name: "crash", arguments: {} });
    expect(((await raw.response(3)).error as { code: number }).code).toBe(-32030);
    const starts = async () => ((await logs(["--socket", socket])).stdout.match(/event +started /g) ?? []).length;
    await waitFor(async () => (await starts()) >= 2, 10_000, "the restarted child");
    const out = await logs(["--socket", socket]);
    expect(out.stdout).toMatch(/event +child exited: .*exit/);
    expect(out.stdout).toMatch(/event +restart 1: .*restarting in \d+ ms/);
    expect(out.stdout).toMatch(/raw#\d+ ← error tools\/call id=3 \d+ms error -32030/);
    raw.close();
  });

  test("a client cannot read the record through MCP", async () => {
    const socket = await serve();
    const raw = await scope.raw(socket);
    await raw.handshake();
    raw.request(1, "tools/call", { name: "echo", arguments: { x: 1 } });
    await raw.response(1);
    raw.request(2, "mcp-mux/logs", {});
    const res = await raw.response(2);
    expect(res.error).toBeDefined();
    expect(JSON.stringify(res)).not.toContain("entries");
    raw.close();
  });

  test("bad input: no daemon, unknown service, a filter that matches nothing, a bad --since", async () => {
    const dir = scope.dir();
    const none = await logs(["--socket", join(dir, "nothing.sock")]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("no daemon is running for the service on");

    const socket = await serve();
    const nothing = await logs(["--socket", socket, "--client", "nobody-at-all"]);
    expect(nothing.code).toBe(3);
    expect(nothing.stderr).toContain('no entries match (client "nobody-at-all")');

    const unknown = await logs(["--socket", socket, "--service", "nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown service "nope"');

    const since = await logs(["--socket", socket, "--since", "yesterday"]);
    expect(since.code).toBe(2);
    expect(since.stderr).toContain("--since");

    // A config daemon that is not running.
    const config = join(dir, "mux.json");
    writeFileSync(
      config,
      JSON.stringify({ servers: { a: { cmd: BUN, args: [FAKE_SERVER], socket: join(dir, "a.sock") } } }),
    );
    const down = await logs(["--config", config]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`no daemon is running for the daemon of ${config}`);
  });
});
