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
    const until = Date.now() + (options.timeoutMs ?? 20_000);
    // A daemon that lost the race to another one exits at once (0). The other one serves, or
    // says why it does not, or was itself on its way out (a restart): then start ours again.
    for (let retry = 250; ; retry = Math.min(retry * 2, 2000)) {
      const proc = spawnDaemon(options);
      if ((await waitForOurs(socket, options, proc, until)) === "served") return;
      if (await otherDaemon(socket, options, Math.min(until, Date.now() + retry))) return;
      if (Date.now() >= until) break;
    }
    throw failed(`another daemon runs this config but did not open ${socket} in time`, options.logFile);
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

/** Start the daemon detached, its output appended to the log. */
function spawnDaemon(options: AutostartOptions): ReturnType<typeof Bun.spawn> {
  mkdirSync(dirname(options.logFile), { recursive: true, mode: 0o700 });
  const fd = openSync(options.logFile, "a", 0o600);
  const env = daemonEnv(options.env ?? process.env);
  try {
    const proc = Bun.spawn({
      cmd: options.command,
      env,
      cwd: env.HOME ?? "/",
      stdin: "ignore",
      stdout: fd,
      stderr: fd,
      detached: true,
    });
    proc.unref();
    return proc;
  } catch (error) {
    throw failed(`cannot run ${options.command[0]}: ${String(error)}`, options.logFile);
  } finally {
    closeSync(fd);
  }
}

/** Wait until our daemon serves `socket` ("served") or exits because another one runs the config ("other"). */
async function waitForOurs(
  socket: string,
  options: AutostartOptions,
  proc: ReturnType<typeof Bun.spawn>,
  until: number,
): Promise<"served" | "other"> {
  let asked = 0;
  while (Date.now() < until) {
    if (await accepts(socket)) return "served";
    if (proc.exitCode !== null || proc.signalCode !== null) {
      if (await accepts(socket)) return "served";
      if (proc.exitCode === 0 && options.controlSocket) return "other";
      throw failed(lastLine(options.logFile) ?? `the daemon exited with code ${proc.exitCode}`, options.logFile);
    }
    // Ours runs but does not serve this socket yet: once its control socket is up (every
    // service started or failed), a failed or missing service here is the answer.
    if (options.controlSocket && Date.now() - asked >= 200) {
      asked = Date.now();
      const why = await unservedReason(socket, options);
      if (why) throw why;
    }
    await Bun.sleep(25);
  }
  throw failed(`the daemon did not open ${socket} within ${options.timeoutMs ?? 20_000} ms`, options.logFile);
}

/**
 * Another daemon runs the config: true once it serves `socket`; once its control socket
 * answers (it opens after every service started or failed), a service there that failed, or
 * none there, is thrown as the reason; false when `until` passes first (that daemon may have
 * been on its way out: the caller starts ours again).
 */
async function otherDaemon(socket: string, options: AutostartOptions, until: number): Promise<boolean> {
  while (Date.now() < until) {
    if (await accepts(socket)) return true;
    const why = await unservedReason(socket, options);
    if (why) throw why;
    await Bun.sleep(50);
  }
  return false;
}

/** Why the daemon running the config does not serve `socket`, once its control socket says (else undefined: wait). */
async function unservedReason(socket: string, options: AutostartOptions): Promise<MuxError | undefined> {
  if (!options.controlSocket || !existsSync(options.controlSocket)) return undefined;
  const { connectRpc } = await import("../client/rpc.ts");
  let answer: Record<string, unknown> | undefined;
  try {
    const conn = await connectRpc(options.controlSocket, 1000);
    try {
      const r = await conn.request("mcp-mux/status", undefined, 2000);
      answer = typeof r.result === "object" && r.result !== null ? (r.result as Record<string, unknown>) : undefined;
    } finally {
      conn.close();
    }
  } catch {
    return undefined;
  }
  if (!answer || !Array.isArray(answer.services) || (await accepts(socket))) return undefined;
  const pid = typeof answer.muxPid === "number" ? ` (pid ${answer.muxPid})` : "";
  const service = (answer.services as Record<string, unknown>[]).find((s) => s.socket === socket);
  if (!service) return unserved(`the daemon running this config${pid} has no service on ${socket}`, options.logFile);
  if (service.state === "failed")
    return unserved(
      `service "${String(service.service)}" cannot start: ${String(service.failReason ?? "unknown reason")} (the daemon running this config${pid} serves the others)`,
      options.logFile,
    );
  return undefined;
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

/** The daemon runs but does not serve this socket (its service failed, or it has none): `SERVICE_UNSERVED`. */
function unserved(why: string, logFile: string): MuxError {
  return new MuxError("SERVICE_UNSERVED", `MCP server unavailable: ${why} (log: ${logFile})`);
}

function failed(why: string, logFile: string): MuxError {
  return new MuxError("DAEMON_START_FAILED", `the mcp-mux daemon could not start: ${why} (log: ${logFile})`);
}
