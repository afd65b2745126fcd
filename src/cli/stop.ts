/**
 * `mux stop [--config FILE | --socket PATH]`: stop a daemon for good. `kill` alone does not:
 * the next request of any host's `mux-proxy --config` starts the daemon again within a second
 * or two. `mux stop` first leaves a stop marker for the config (in the runtime folder), which
 * every proxy honours (no auto-start; connected proxies end their session instead of
 * reconnecting), then sends SIGTERM and waits until the daemon is gone. The marker goes when
 * the daemon is started explicitly (`mux serve --config FILE` by hand, or the login service),
 * or with the runtime folder (a tmpfs: at logout or reboot).
 * @module
 */

import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { defineCommand } from "citty";
import { connectRpc } from "../client/rpc.ts";
import { ensurePrivateDir } from "../client/safe-path.ts";
import { findConfig, loadConfig } from "../config/load.ts";
import { controlSocketPath, daemonFiles } from "../config/paths.ts";
import { isMuxError } from "../errors.ts";
import { isObject } from "../protocol/message.ts";
import { fail } from "./logger.ts";

/** The `stop` subcommand. */
export const stopCommand = defineCommand({
  meta: {
    name: "stop",
    description: "Stop a daemon for good: hosts' mux-proxy do not start it again until `mux serve --config` does",
  },
  args: {
    config: { type: "string", description: "The config whose daemon stops (default: the per-user config)" },
    socket: { type: "string", description: "Stop the daemon serving this socket (and its config's, if it runs one)" },
  },
  async run({ args }) {
    if (args.config && args.socket) fail("give --config FILE or --socket PATH, not both", 2);
    let config: string | undefined;
    let pid: number | undefined;
    if (args.socket) {
      const socket = resolve(args.socket);
      pid = await muxPid(socket);
      if (pid === undefined) fail(`no mux daemon answers on ${socket}`, 2);
      config = configOf(pid);
    } else {
      config = findConfig(args.config);
      if (!config) fail("no config file given and none found in the per-user config directory", 2);
      config = resolve(config);
      pid = (await muxPid(controlSocketPath(config))) ?? (await servicePid(config));
    }
    if (config) {
      const marker = daemonFiles(config).stopMarker;
      try {
        ensurePrivateDir(dirname(marker));
        writeFileSync(marker, `stopped by mux stop (pid ${process.pid}) at ${new Date().toISOString()}\n`, {
          mode: 0o600,
        });
      } catch (error) {
        fail(`cannot leave the stop marker ${marker}: ${isMuxError(error) ? error.message : String(error)}`);
      }
    }
    const again = config
      ? `hosts will not start it again until you run: mux serve --config ${config} (or the login service starts it)`
      : "it was not started from a config, so no mux-proxy starts it again";
    if (pid === undefined) {
      process.stdout.write(`no daemon runs ${config}; ${again}\n`);
      process.exit(0);
    }
    try {
      process.kill(pid, "SIGTERM");
    } catch (error) {
      fail(`cannot stop the daemon (pid ${pid}): ${String(error)}`);
    }
    const until = Date.now() + STOP_WAIT_MS;
    while (alive(pid) && Date.now() < until) await Bun.sleep(50);
    if (alive(pid)) fail(`the daemon (pid ${pid}) did not stop within ${STOP_WAIT_MS / 1000} s of SIGTERM`);
    process.stdout.write(
      `stopped the daemon${config ? ` of ${config}` : ` on ${args.socket}`} (pid ${pid}); ${again}\n`,
    );
    process.exit(0);
  },
});

/** Take the stop marker away: the daemon of `config` is being started explicitly. */
export function clearStopMarker(config: string): void {
  rmSync(daemonFiles(config).stopMarker, { force: true });
}

// --- internal ---

/** How long a daemon may take to shut down (it answers requests in flight first). */
const STOP_WAIT_MS = 15_000;

/** The daemon's pid, from its status on `socket` (a control or a service socket). */
async function muxPid(socket: string): Promise<number | undefined> {
  try {
    const conn = await connectRpc(socket, 1000);
    try {
      const answer = await conn.request("mcp-mux/status", undefined, 2000);
      const status = isObject(answer.result) ? answer.result : undefined;
      return typeof status?.muxPid === "number" ? status.muxPid : undefined;
    } finally {
      conn.close();
    }
  } catch {
    return undefined;
  }
}

/**
 * The daemon's pid from one of the config's service sockets: its control socket may not be up
 * yet (it opens after the services) or may have failed to open.
 */
async function servicePid(config: string): Promise<number | undefined> {
  let sockets: string[];
  try {
    sockets = Object.values(loadConfig(config).services).map((s) => s.socket);
  } catch {
    return undefined;
  }
  for (const socket of sockets) {
    const pid = await muxPid(socket);
    if (pid !== undefined && configOf(pid) === config) return pid;
  }
  return undefined;
}

/** The `--config` a running `mux serve` was started with (its command line), if any. */
function configOf(pid: number): string | undefined {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    const ps = Bun.spawnSync(["ps", "-o", "args=", "-p", String(pid)], { stdout: "pipe", stderr: "ignore" });
    argv = ps.stdout.toString().trim().split(/\s+/);
  }
  const i = argv.indexOf("--config");
  const value = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith("--config="))?.slice(9);
  return value ? resolve(value) : undefined;
}

/** A process that exists and is not a zombie (an exited daemon its parent has not reaped yet). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}
