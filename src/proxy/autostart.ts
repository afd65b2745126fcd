/**
 * Start the daemon a proxy needs when nothing listens on its socket: under a lock (so twenty
 * hosts starting at once start one daemon), detached in its own session (it outlives the host
 * that started it), with a small allow-listed environment, its output appended to a log file;
 * then wait until the socket accepts. A failure says why and names the log file.
 *
 * A daemon that finds another one already running the config exits at once (exit 0): then
 * that other daemon is asked (its control socket) why it does not serve this socket — its
 * service there failed, or it has none there — instead of reporting the loser's "not needed".
 * @module
 */

import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { withFileLock } from "../client/lock.ts";
import { MuxError } from "../errors.ts";

/** How to start the daemon. */
export interface AutostartOptions {
  /** The daemon's command line, e.g. `[mux, "serve", "--config", file, "--auto-started"]`. */
  command: string[];
  /** Where the daemon's output is appended (created 0600, its folder 0700). */
  logFile: string;
  /** The lock that serializes starters of this daemon. */
  lockFile: string;
  /** How long to wait for the socket (default 20 s). */
  timeoutMs?: number;
  /** The environment to pick the allow-listed variables from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /** The daemon's control socket: asked why, when another daemon runs the config but `socket` does not accept. */
  controlSocket?: string;
  /**
   * Left by `mux stop`: while it exists the daemon is not started (`DAEMON_STOPPED`, whose
   * message gives `restart`, the command that starts it again).
   */
  stopped?: { marker: string; restart: string };
}

/** Start the daemon unless one already accepts on `socket`. Throws `DAEMON_START_FAILED`. */
export async function ensureDaemon(socket: string, options: AutostartOptions): Promise<void> {
  if (options.stopped && existsSync(options.stopped.marker))
    throw new MuxError(
      "DAEMON_STOPPED",
      `the mcp-mux daemon was stopped with \`mux stop\`, so hosts do not start it again; start it with: ${options.stopped.restart}`,
    );
  mkdirSync(dirname(options.lockFile), { recursive: true, mode: 0o700 });
  await withFileLock(options.lockFile, async () => {
    if (await accepts(socket)) return;
    mkdirSync(dirname(options.logFile), { recursive: true, mode: 0o700 });
    const fd = openSync(options.logFile, "a", 0o600);
    const env = daemonEnv(options.env ?? process.env);
    let proc: ReturnType<typeof Bun.spawn>;
    try {
      proc = Bun.spawn({
        cmd: options.command,
        env,
        cwd: env.HOME ?? "/",
        stdin: "ignore",
        stdout: fd,
        stderr: fd,
        detached: true,
      });
    } catch (error) {
      throw failed(`cannot run ${options.command[0]}: ${String(error)}`, options.logFile);
    } finally {
      closeSync(fd);
    }
    proc.unref();
    const until = Date.now() + (options.timeoutMs ?? 20_000);
    while (Date.now() < until) {
      if (await accepts(socket)) return;
      if (proc.exitCode !== null || proc.signalCode !== null) {
        // A daemon that lost the race to another one exits at once (0): the other one serves,
        // or says why it does not.
        if (await accepts(socket)) return;
        if (proc.exitCode === 0 && options.controlSocket) return await otherDaemon(socket, options, until);
        throw failed(lastLine(options.logFile) ?? `the daemon exited with code ${proc.exitCode}`, options.logFile);
      }
      await Bun.sleep(25);
    }
    throw failed(`the daemon did not open ${socket} within ${options.timeoutMs ?? 20_000} ms`, options.logFile);
  });
}

/** True when something accepts connections on `socket`. */
export async function accepts(socket: string): Promise<boolean> {
  try {
    const s = await Bun.connect({ unix: socket, socket: { data() {}, error() {} } });
    s.end();
    return true;
  } catch {
    return false;
  }
}

// --- internal ---

/**
 * Another daemon runs the config: wait for it to serve `socket`; once its control socket
 * answers (it opens after every service started or failed), a service there that failed, or
 * none there, is the reason.
 */
async function otherDaemon(socket: string, options: AutostartOptions, until: number): Promise<void> {
  const { connectRpc } = await import("../client/rpc.ts");
  while (Date.now() < until) {
    if (await accepts(socket)) return;
    let answer: Record<string, unknown> | undefined;
    try {
      const conn = await connectRpc(options.controlSocket as string, 1000);
      try {
        const r = await conn.request("mcp-mux/status", undefined, 2000);
        answer = typeof r.result === "object" && r.result !== null ? (r.result as Record<string, unknown>) : undefined;
      } finally {
        conn.close();
      }
    } catch {}
    if (answer && Array.isArray(answer.services)) {
      if (await accepts(socket)) return;
      const pid = typeof answer.muxPid === "number" ? ` (pid ${answer.muxPid})` : "";
      const service = (answer.services as Record<string, unknown>[]).find((s) => s.socket === socket);
      if (!service) throw unserved(`the daemon running this config${pid} has no service on ${socket}`, options.logFile);
      if (service.state === "failed")
        throw unserved(
          `service "${String(service.service)}" cannot start: ${String(service.failReason ?? "unknown reason")} (the daemon running this config${pid} serves the others)`,
          options.logFile,
        );
    }
    await Bun.sleep(50);
  }
  throw failed(`another daemon runs this config but did not open ${socket} in time`, options.logFile);
}

/** Variables an auto-started daemon inherits: enough to find commands and per-user folders. */
const KEEP = /^(HOME|USER|LOGNAME|SHELL|PATH|LANG|LANGUAGE|TZ|TMPDIR|LC_[A-Z_]+|XDG_[A-Z_]+|MUX_[A-Z_]+)$/;

function daemonEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && KEEP.test(k)) out[k] = v;
  return out;
}

function lastLine(file: string): string | undefined {
  try {
    const lines = readFileSync(file, "utf8").trim().split("\n");
    // biome-ignore lint/suspicious/noControlCharactersInRegex: strip ANSI colour codes
    return lines[lines.length - 1]?.replace(/\u001b\[[0-9;]*m/g, "").trim() || undefined;
  } catch {
    return undefined;
  }
}

function unserved(why: string, logFile: string): MuxError {
  return new MuxError("DAEMON_START_FAILED", `MCP server unavailable: ${why} (log: ${logFile})`);
}

function failed(why: string, logFile: string): MuxError {
  return new MuxError("DAEMON_START_FAILED", `the mcp-mux daemon could not start: ${why} (log: ${logFile})`);
}
