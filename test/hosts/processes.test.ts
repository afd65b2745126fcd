/**
 * The wizard's view of running servers, against real processes: a host's own server copy is
 * listed; a mux daemon's child (and anything under it) and other users' processes are not.
 */

import { expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { runningServers } from "../../src/hosts/processes.ts";
import { runWizard } from "../../src/hosts/wizard.ts";
import { MEMORY_BIN, MUX_BIN, testScope, waitFor } from "../helpers.ts";
import { fixtureHome, HOST_FIXTURES, PROXY } from "./fixtures.ts";

const scope = testScope();

function start(cmd: string[], options: { uid?: number; env?: Record<string, string>; cwd?: string } = {}): number {
  const child = spawn(cmd[0] as string, cmd.slice(1), {
    stdio: ["pipe", "ignore", "ignore"],
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
  });
  scope.defer(() => {
    child.kill("SIGKILL");
  });
  return child.pid as number;
}

test("a host's own server copy is listed; the mux's children and other users' servers are not", async () => {
  const d = scope.dir();
  // What a host spawns for itself: listed.
  const own = start([MEMORY_BIN], { env: { MEMORY_FILE_PATH: join(d, "own.jsonl") } });
  // A mux daemon sharing the same server: its child is not a copy to rewire.
  const socket = join(d, "m.sock");
  const daemon = Bun.spawn({
    cmd: [MUX_BIN, "serve", "--socket", socket, "--cmd", MEMORY_BIN],
    env: { ...process.env, MEMORY_FILE_PATH: join(d, "mux.jsonl") },
    stdout: "ignore",
    stderr: "ignore",
  });
  scope.defer(async () => {
    daemon.kill("SIGTERM");
    await daemon.exited;
  });
  await waitFor(() => existsSync(socket), 10_000, "the mux socket");
  const muxChildren = () =>
    Bun.spawnSync(["pgrep", "-P", String(daemon.pid)])
      .stdout.toString()
      .split("\n")
      .filter(Boolean)
      .map(Number);
  await waitFor(() => muxChildren().length > 0, 10_000, "the mux's child");
  await waitFor(() => runningServers().some((p) => p.pid === own), 10_000, "the host's copy to show");
  const pids = runningServers().map((p) => p.pid);
  expect(pids).toContain(own);
  for (const child of muxChildren()) expect(pids).not.toContain(child);
  expect(pids).not.toContain(daemon.pid);
  // Seen as another user, nothing of ours is listed.
  expect(runningServers({ uid: 4242 }).map((p) => p.pid)).not.toContain(own);

  if (process.getuid?.() !== 0) {
    console.log("skipped: another user's server needs root to start (CI runs as root)");
    return;
  }
  // Something that looks like a server to the wizard, runnable by nobody wherever this clone is
  // (a clone in a 0700 folder is out of nobody's reach); `; :` keeps sh from exec'ing sleep.
  const other = start(["/bin/sh", "-c", "sleep 30; :", "mcp-server-memory"], { uid: 65534, cwd: "/" });
  await waitFor(
    () => runningServers({ uid: 65534 }).some((p) => p.pid === other),
    10_000,
    "the other user's server to run",
  );
  expect(runningServers().map((p) => p.pid)).not.toContain(other);
}, 30_000);

test("a host's npx launch is one server of that host: npm exec's sh and node children are not listed apart", async () => {
  // The real tree Codex makes for `npx @modelcontextprotocol/server-memory`: a host process
  // named codex → npm exec → sh -c mcp-server-memory → node …/mcp-server-memory.
  const root = join(import.meta.dir, "..", "..");
  // (The package comes through the environment, so the host's own argv does not name it.)
  const host = start(["bash", "-c", 'exec -a codex sh -c "npx $PKG; :"'], {
    cwd: root,
    env: {
      PKG: "@modelcontextprotocol/server-memory",
      MEMORY_FILE_PATH: join(scope.dir(), "npx.jsonl"),
      npm_config_update_notifier: "false",
    },
  });
  scope.defer(() => {
    // The tree's pids, leaves first: the host's kill alone would leave npm's children running.
    const tree = (pid: number): number[] =>
      Bun.spawnSync(["pgrep", "-P", String(pid)])
        .stdout.toString()
        .split("\n")
        .filter(Boolean)
        .map(Number)
        .flatMap((c) => [...tree(c), c]);
    for (const pid of tree(host)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone already.
      }
    }
  });
  const descendants = (pid: number): number[] =>
    Bun.spawnSync(["pgrep", "-P", String(pid)])
      .stdout.toString()
      .split("\n")
      .filter(Boolean)
      .map(Number)
      .flatMap((c) => [c, ...descendants(c)]);
  const argvOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  // Wait for the whole chain, down to node running the server's bin.
  await waitFor(
    () =>
      descendants(host).some(
        (p) => existsSync(`/proc/${p}`) && argvOf(p).some((a) => a.endsWith(".bin/mcp-server-memory")),
      ),
    30_000,
    "npx to start the server",
  );
  const tree = descendants(host);
  const npm = tree.find((p) => argvOf(p)[0] === "npm" || argvOf(p).join(" ").startsWith("npm exec")) as number;
  expect(npm).toBeGreaterThan(0);
  const mine = runningServers().filter((p) => tree.includes(p.pid));
  // One server, the topmost launcher, attributed to the host that started it.
  expect(mine.map((p) => p.pid)).toEqual([npm]);
  expect(mine[0]?.host).toBe("codex");
  // The wizard counts it as the running copy of Codex's memory server, not an orphan.
  const h = fixtureHome(HOST_FIXTURES.filter((f) => f.host === "codex"));
  scope.defer(() => rmSync(h.home, { recursive: true, force: true }));
  const asked: string[] = [];
  await runWizard({
    ctx: h.ctx,
    proxy: PROXY,
    stateDir: h.stateDir,
    configFile: h.configFile,
    print: () => {},
    processes: () => runningServers().filter((p) => tree.includes(p.pid)),
    health: async () => undefined,
    prompts: {
      checkbox: async (o) => {
        asked.push(...o.choices.map((c) => c.name));
        throw new Error("stop");
      },
      select: async () => "exit",
    },
  }).catch(() => {});
  expect(asked.join("\n")).not.toContain("no host config");
  expect(asked.find((c) => c.startsWith("memory "))).toContain("[running: 1 process]");
  // The chain's other members are all there, and all look like servers on their own.
  expect(tree.filter((p) => argvOf(p).join(" ").includes("mcp-server-memory")).length).toBeGreaterThanOrEqual(2);
}, 60_000);
