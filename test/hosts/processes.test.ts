/**
 * The wizard's view of running servers, against real processes: a host's own server copy is
 * listed; a mux daemon's child (and anything under it) and other users' processes are not.
 */

import { expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { runningServers } from "../../src/hosts/processes.ts";
import { MEMORY_BIN, MUX_BIN, testScope, waitFor } from "../helpers.ts";

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
