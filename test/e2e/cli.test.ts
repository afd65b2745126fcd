/**
 * The command line as a user meets it, through the compiled binaries: colour only on a
 * terminal, unknown options named with a suggestion, `mux status` columns and exit codes,
 * and `mux status --watch` in a pseudo-terminal and through a pipe.
 */

import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { fakeServer, type Json, MUX_BIN, PROXY_BIN, testScope, textOf, waitFor } from "../helpers.ts";

const scope = testScope("bin");
const ESC = String.fromCharCode(27);
const ansi = new RegExp(`${ESC}\\[[0-9;?]*[A-Za-z]`, "g");

async function run(
  cmd: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { NO_COLOR: _n, FORCE_COLOR: _f, ...base } = process.env;
  const proc = Bun.spawn({ cmd, env: { ...base, ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

/** Run in a pseudo-terminal; returns the process, everything it drew, and a way to type. */
function inTerminal(cmd: string[], env: Record<string, string | undefined> = {}) {
  const { NO_COLOR: _n, FORCE_COLOR: _f, ...base } = process.env;
  let screen = "";
  const proc = Bun.spawn(cmd, {
    env: { ...base, TERM: "xterm-256color", ...env },
    terminal: {
      cols: 160,
      rows: 40,
      data(_t, data) {
        screen += new TextDecoder().decode(data);
      },
    },
  });
  scope.defer(() => proc.kill("SIGKILL"));
  return {
    proc,
    screen: () => screen,
    plain: () => screen.replace(ansi, ""),
    type: (k: string) => proc.terminal?.write(k),
  };
}

describe("colour", () => {
  test("help (also for mux with no arguments) has no ANSI codes through a pipe or with NO_COLOR; it has them on a terminal or with FORCE_COLOR", async () => {
    // No arguments at all prints the help too.
    for (const args of [[], ["--help"], ["serve", "--help"], ["status", "--help"]]) {
      const piped = await run([MUX_BIN, ...args]);
      expect(piped.code).toBe(0);
      expect(piped.stdout).toContain("USAGE");
      expect(piped.stdout).not.toContain(ESC);
      expect((await run([MUX_BIN, ...args], { FORCE_COLOR: "1" })).stdout).toContain(ESC);
      // Also on a CI runner, where citty alone would drop colour.
      expect((await run([MUX_BIN, ...args], { FORCE_COLOR: "1", CI: "true", TEST: "1" })).stdout).toContain(ESC);
    }
    const tty = inTerminal([MUX_BIN, "--help"]);
    expect(await tty.proc.exited).toBe(0);
    expect(tty.screen()).toContain(`${ESC}[`);
    const noColor = inTerminal([MUX_BIN, "--help"], { NO_COLOR: "1" });
    expect(await noColor.proc.exited).toBe(0);
    expect(noColor.plain()).toContain("USAGE");
    expect(noColor.screen()).not.toMatch(new RegExp(`${ESC}\\[[0-9;]*m`));
  });

  test("daemon logs written to a pipe or file carry no colour", async () => {
    const d = scope.dir();
    const t = await scope.target({ socket: join(d, "c.sock"), ...fakeServer(d) });
    await t.close();
    expect(t.stderr()).toContain("listening on");
    expect(t.stderr()).not.toContain(ESC);
  });
});

describe("unknown options", () => {
  test("are named, with the closest known option, and nothing runs", async () => {
    const d = scope.dir();
    const serve = await run([MUX_BIN, "serve", "--sockt", join(d, "x.sock"), "--cmd", "true"]);
    expect(serve.code).toBe(2);
    expect(serve.stderr).toContain("unknown option --sockt for mux serve (did you mean --socket?)");
    expect(serve.stderr).not.toContain("--socket is required");
    const prefix = await run([MUX_BIN, "serve", "--max-active", "3"]);
    expect(prefix.stderr).toContain("(did you mean --max-active-clients?)");
    const nested = await run([MUX_BIN, "service", "install", "--prnt"]);
    expect(nested.code).toBe(2);
    expect(nested.stderr).toContain("unknown option --prnt for mux service install (did you mean --print?)");
    const short = await run([MUX_BIN, "status", "-x"]);
    expect(short.stderr).toContain("unknown option -x for mux status");
    const proxy = await run([PROXY_BIN, "--sockt", "x"]);
    expect(proxy.code).not.toBe(0);
    expect(proxy.stderr).toContain("unknown argument --sockt (did you mean --socket?)");
    // Known options, values that look like options after a string flag, and `--` still work.
    const ok = await run([MUX_BIN, "health", "--socket", join(d, "none.sock"), "--timeout-ms", "500"]);
    expect(ok.stderr).not.toContain("unknown option");
    expect((await run([MUX_BIN, "--version"])).code).toBe(0);
    expect((await run([MUX_BIN, "serve", "--no-lazy-start", "--help"])).code).toBe(0);
  });
});

describe("one executable", () => {
  test("mux-proxy is mux under another name: a symbolic link, a hard link, a copy or a PATH lookup of that name runs the proxy; other names run mux", async () => {
    const d = scope.dir();
    const { linkSync, symlinkSync, copyFileSync, chmodSync, lstatSync } = await import("node:fs");
    expect(lstatSync(PROXY_BIN).isSymbolicLink()).toBe(true);
    const sym = join(d, "sym");
    const hard = join(d, "hard");
    const copy = join(d, "copy");
    for (const dir of [sym, hard, copy]) await Bun.write(join(dir, ".keep"), "");
    symlinkSync(MUX_BIN, join(sym, "mux-proxy"));
    linkSync(MUX_BIN, join(hard, "mux-proxy"));
    copyFileSync(MUX_BIN, join(copy, "mux-proxy"));
    chmodSync(join(copy, "mux-proxy"), 0o755);
    symlinkSync(MUX_BIN, join(sym, "mcp-mux"));
    for (const exe of [PROXY_BIN, join(sym, "mux-proxy"), join(hard, "mux-proxy"), join(copy, "mux-proxy")]) {
      const r = await run([exe, "--version"]);
      expect(r.stdout).toStartWith("mux-proxy ");
    }
    // Found on PATH by its bare name (argv0 is then just "mux-proxy").
    const onPath = await run(["mux-proxy", "--help"], { PATH: `${hard}:/usr/bin:/bin` });
    expect(onPath.stdout).toStartWith("usage: mux-proxy --socket PATH");
    for (const exe of [MUX_BIN, join(sym, "mcp-mux")]) {
      const r = await run([exe, "--version"]);
      expect(r.stdout).not.toContain("mux-proxy");
      expect(r.stdout).toMatch(/^\d+\.\d+\.\d+ /);
    }
  });
});

describe("mux status", () => {
  test("columns say what they count; exit 0 when all answer, 1 when one is failed or down, 2 when nothing answers", async () => {
    const d = scope.dir();
    const file = join(d, "mux.yaml");
    const fake = fakeServer(d);
    const entry = (name: string, extra = "") =>
      `  ${name}:\n    socket: ${join(d, `${name}.sock`)}\n    cmd: ${fake.cmd}\n    args: [${fake.args?.[0]}]\n${extra}`;
    const write = (...entries: string[]) => Bun.write(file, `servers:\n${entries.join("")}`);
    await write(entry("good"), entry("other"));
    const none = await run([MUX_BIN, "status", "--config", file]);
    expect(none.code).toBe(2);
    expect(none.stdout).toContain(`no daemon runs ${file}`);
    expect((await run([MUX_BIN, "status", "--socket", join(d, "good.sock")])).code).toBe(2);

    const daemon = Bun.spawn({ cmd: [MUX_BIN, "serve", "--config", file], stdout: "ignore", stderr: "ignore" });
    scope.defer(async () => {
      daemon.kill("SIGTERM");
      await daemon.exited;
    });
    const c = await waitForClient(join(d, "good.sock"));
    await c.handshake();
    await waitFor(async () => (await run([MUX_BIN, "status", "--config", file])).code === 0, 10_000, "all up");
    const table = await run([MUX_BIN, "status", "--config", file]);
    const header = table.stdout.split("\n")[0] ?? "";
    for (const col of ["CLIENTS", "ACTIVE/LIMIT", "QUEUED", "AT SERVER", "RESTARTS", "SERVER UP", "MUX UP"])
      expect(header).toContain(col);
    // One MCP session (the raw client); the status probe itself is not counted.
    expect(table.stdout).toMatch(/good\s+ready\s+\d+\s+1\s+0\/5\s+0\s+0\s+0\s/);
    expect(table.stdout).not.toContain(ESC);

    // A crash: the service restarts; its server is younger than the mux service, and the reason shows.
    c.request(1, "tools/call", { name: "crash" });
    await waitFor(
      async () => {
        const s = JSON.parse((await run([MUX_BIN, "status", "--socket", join(d, "good.sock"), "--json"])).stdout);
        return s.restarts === 1 && s.state === "ready";
      },
      10_000,
      "the restart",
    );
    await Bun.sleep(1100);
    const after = JSON.parse((await run([MUX_BIN, "status", "--socket", join(d, "good.sock"), "--json"])).stdout);
    expect(after.childUptimeMs).toBeLessThan(after.uptimeMs);
    expect((await run([MUX_BIN, "status", "--config", file])).stdout).toContain("good: last restart:");

    // A service that cannot start is failed: exit 1, with the reason under the table.
    await write(
      entry("good"),
      entry("other"),
      `  broken:\n    socket: ${join(d, "broken.sock")}\n    cmd: /nonexistent/server\n`,
    );
    await run([MUX_BIN, "reload", "--config", file]);
    const failed = await run([MUX_BIN, "status", "--config", file]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/broken\s+failed/);
    expect(failed.stdout).toContain("broken: failed: cannot start");
  }, 60_000);

  test("a server that never answers: mux status and mux health agree (both 6, starting), and both say 0 once it answers", async () => {
    const d = scope.dir();
    const socket = join(d, "mute.sock");
    // A child that reads its stdin and never writes a line: initialize is never answered.
    const daemon = Bun.spawn({
      cmd: [MUX_BIN, "serve", "--socket", socket, "--cmd", "sh", "--", "-c", "cat > /dev/null"],
      stdout: "ignore",
      stderr: "ignore",
    });
    scope.defer(async () => {
      daemon.kill("SIGTERM");
      await daemon.exited;
    });
    const c = await waitForClient(socket);
    c.request(1, "initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "t", version: "1" },
    });
    await waitFor(
      async () =>
        JSON.parse((await run([MUX_BIN, "status", "--socket", socket, "--json"])).stdout).state === "initializing",
      10_000,
      "the handshake to be sent",
    );
    const status = await run([MUX_BIN, "status", "--socket", socket]);
    expect(status.stdout).toMatch(/mute\s+initializing/);
    const health = await run([MUX_BIN, "health", "--socket", socket, "--timeout-ms", "300"]);
    expect(health.code).toBe(6);
    expect(status.code).toBe(health.code);
    // The healthy side of the agreement, on a server that answers.
    const ok = join(d, "ok.sock");
    const fake = fakeServer(d);
    const other = Bun.spawn({
      cmd: [MUX_BIN, "serve", "--socket", ok, "--cmd", fake.cmd, "--", ...(fake.args ?? [])],
      stdout: "ignore",
      stderr: "ignore",
    });
    scope.defer(async () => {
      other.kill("SIGTERM");
      await other.exited;
    });
    const c2 = await waitForClient(ok);
    await c2.handshake();
    expect((await run([MUX_BIN, "health", "--socket", ok])).code).toBe(0);
    expect((await run([MUX_BIN, "status", "--socket", ok])).code).toBe(0);
  }, 30_000);

  test("--watch in a terminal: live rows, requests per second, q quits and gives the terminal back", async () => {
    const d = scope.dir();
    const t = await scope.target({ socket: join(d, "w.sock"), ...fakeServer(d), serviceName: "live" });
    const view = inTerminal([MUX_BIN, "status", "--socket", t.socket, "--watch", "--interval", "200"]);
    await waitFor(() => /live\s+(waiting|ready)/.test(view.plain()), 10_000, "the first screen");
    expect(view.screen()).toContain(`${ESC}[?1049h`); // alternate screen
    expect(view.plain()).toContain("q quits");
    expect(view.plain()).toContain("REQ/S");
    const c = await scope.raw(t.socket);
    await c.handshake();
    for (let i = 0; i < 40; i++) {
      c.request(i, "tools/call", { name: "echo", arguments: { i } });
      await c.response(i);
    }
    // The row changes live: one client, and a request rate above zero at some refresh.
    await waitFor(() => /live\s+ready\s+\d+\s+1\s/.test(lastScreen(view.plain())), 10_000, "the client to show");
    await waitFor(() => /live\s+ready(\s+\S+){5}\s+([1-9]\d*(\.\d)?|0\.[1-9])\s/.test(view.plain()), 10_000, "a rate");
    view.type("q");
    expect(await view.proc.exited).toBe(0);
    const tail = view.screen().slice(-40);
    expect(tail).toContain(`${ESC}[?25h`); // cursor shown again
    expect(tail).toContain(`${ESC}[?1049l`); // back to the normal screen

    // Ctrl-C quits the same way.
    const again = inTerminal([MUX_BIN, "status", "--socket", t.socket, "--watch", "--interval", "200"]);
    await waitFor(() => /live\s+ready/.test(again.plain()), 10_000, "the second view");
    again.type("\x03");
    expect(await again.proc.exited).toBe(0);
    expect(again.screen().slice(-40)).toContain(`${ESC}[?1049l`);
  }, 60_000);

  test("--watch through a pipe: one plain line per refresh, ended by SIGINT", async () => {
    const d = scope.dir();
    const t = await scope.target({ socket: join(d, "p.sock"), ...fakeServer(d), serviceName: "piped" });
    const c = await scope.raw(t.socket);
    await c.handshake();
    c.request(1, "tools/call", { name: "echo", arguments: { x: 1 } });
    expect(textOf((await c.response(1)).result)).toContain("x");
    const proc = Bun.spawn({
      cmd: [MUX_BIN, "status", "--socket", t.socket, "--watch", "--interval", "200"],
      stdout: "pipe",
      stderr: "pipe",
    });
    scope.defer(() => proc.kill("SIGKILL"));
    const lines: string[] = [];
    const reader = proc.stdout.getReader();
    let buffered = "";
    while (lines.length < 3) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += new TextDecoder().decode(value);
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      lines.push(...parts);
    }
    proc.kill("SIGINT");
    expect(await proc.exited).toBe(0);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) {
      expect(line).not.toContain(ESC);
      expect(line).toMatch(
        /^\d{4}-\d\d-\d\dT[\d:.]+Z piped ready pid=\d+ clients=1 active=0\/5 queued=0 at_server=0 req_s=\S+ restarts=0 server_up=\S+$/,
      );
    }
    // JSON lines, for scripts.
    const json = Bun.spawn({
      cmd: [MUX_BIN, "status", "--socket", t.socket, "--watch", "--json", "--interval", "200"],
      stdout: "pipe",
    });
    scope.defer(() => json.kill("SIGKILL"));
    const first = await json.stdout.getReader().read();
    json.kill("SIGTERM");
    const snapshot = JSON.parse(new TextDecoder().decode(first.value).split("\n")[0] as string) as Json;
    expect((snapshot.services as Json[])[0]?.service).toBe("piped");
  }, 30_000);
});

// --- helpers ---

/** The text drawn since the last home-cursor (the latest full screen). */
function lastScreen(plainText: string): string {
  const i = plainText.lastIndexOf("mux status");
  return i < 0 ? plainText : plainText.slice(i);
}

async function waitForClient(socket: string) {
  const { existsSync } = await import("node:fs");
  await waitFor(() => existsSync(socket), 10_000, socket);
  return scope.raw(socket);
}
