/**
 * The child MCP server process: spawn it in its own process group, read its stdout as lines,
 * write whole lines to its stdin through one writer, and terminate the whole process tree
 * (SIGTERM, then SIGKILL after a grace period).
 * @module
 */

import type { Subprocess } from "bun";
import { MuxError } from "../errors.ts";
import { createLineSplitter } from "../protocol/framing.ts";
import type { MuxLogger } from "./logger.ts";

/** How to start the child. */
export interface UpstreamSpec {
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  cwd?: string;
}

/** Callbacks of a running child. */
export interface UpstreamHandlers {
  line(text: string): void;
  /** The child exited, or its stdout/stdin failed. Called once. */
  gone(reason: string): void;
}

/** One running child process. */
export interface Upstream {
  readonly pid: number;
  /** Write one message line (no newline). Returns false if the pipe is broken. */
  write(line: string): boolean;
  /** Terminate the process tree; resolves when the child has exited. */
  stop(graceMs: number): Promise<void>;
  /** Resolves with the exit code when the child exits. */
  readonly exited: Promise<number | null>;
}

/** Spawn the child. Throws `MuxError("SPAWN_FAILED")` when the command cannot be started. */
export function spawnUpstream(spec: UpstreamSpec, handlers: UpstreamHandlers, logger: MuxLogger): Upstream {
  let proc: Subprocess<"pipe", "pipe", "pipe">;
  try {
    proc = Bun.spawn({
      cmd: [spec.cmd, ...spec.args],
      cwd: spec.cwd,
      env: spec.env ? { ...process.env, ...spec.env } : process.env,
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
    });
  } catch (error) {
    throw new MuxError("SPAWN_FAILED", `cannot start MCP server command "${spec.cmd}": ${describeSpawnError(error)}`, {
      cause: error,
    });
  }
  const pid = proc.pid;
  let done = false;
  // Writes are batched: lines written in one tick share one pipe write. When the previous
  // write was under a millisecond ago (the child is busy), the batch waits for the next
  // event-loop turn so lines from many clients' callbacks share it too; when idle, it goes at
  // the end of this tick and adds no latency.
  let queue: string[] = [];
  let flushScheduled = false;
  let lastFlush = 0;
  const flush = (): void => {
    flushScheduled = false;
    lastFlush = performance.now();
    if (done || queue.length === 0) return;
    const text = queue.length === 1 ? `${queue[0]}\n` : `${queue.join("\n")}\n`;
    queue = [];
    try {
      proc.stdin.write(text);
      const pending = proc.stdin.flush();
      if (pending instanceof Promise)
        pending.catch((error: unknown) => finish(`writing to server stdin failed: ${String(error)}`));
    } catch (error) {
      finish(`writing to server stdin failed: ${String(error)}`);
    }
  };
  const finish = (reason: string): void => {
    if (done) return;
    done = true;
    handlers.gone(reason);
  };

  // stdout ending usually means the process is exiting: give the exit a moment so the
  // reason names the real cause (exit code or signal).
  const stdoutEnded = async (why: string): Promise<void> => {
    await Promise.race([proc.exited, Bun.sleep(200)]);
    await Bun.sleep(0);
    finish(why);
  };
  void pumpLines(proc.stdout, handlers.line).then(
    () => stdoutEnded("server closed its stdout"),
    (error) => stdoutEnded(`reading server stdout failed: ${String(error)}`),
  );
  void pumpLines(proc.stderr, (text) => logger.info(`[stderr] ${text}`)).catch(() => {});
  const exited = proc.exited.then(
    (code) => {
      const signal = proc.signalCode;
      finish(signal ? `server killed by ${signal}` : `server exited with code ${code}`);
      killGroup(pid, "SIGKILL");
      return code;
    },
    () => null,
  );

  return {
    pid,
    exited,
    write(line: string): boolean {
      if (done) return false;
      queue.push(line);
      if (!flushScheduled) {
        flushScheduled = true;
        if (performance.now() - lastFlush < 1) setImmediate(flush);
        else queueMicrotask(flush);
      }
      return true;
    },
    async stop(graceMs: number): Promise<void> {
      done = true;
      try {
        proc.stdin.end();
      } catch {}
      killGroup(pid, "SIGTERM");
      const timer = setTimeout(() => killGroup(pid, "SIGKILL"), graceMs);
      await proc.exited.catch(() => {});
      clearTimeout(timer);
      // The leader is gone; make sure nothing of its group survives (npx → node grandchild).
      killGroup(pid, "SIGTERM");
      await waitGroupGone(pid, graceMs);
      killGroup(pid, "SIGKILL");
    },
  };
}

// --- internal ---

async function pumpLines(stream: ReadableStream<Uint8Array>, onLine: (text: string) => void): Promise<void> {
  const splitter = createLineSplitter({ line: onLine });
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    splitter.push(value);
  }
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {}
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGroupGone(pid: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (groupAlive(pid) && Date.now() < until) await Bun.sleep(20);
}

function describeSpawnError(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === "ENOENT") return "command not found (check the path or PATH)";
  if (code === "EACCES") return "permission denied (is it executable?)";
  return error instanceof Error ? error.message : String(error);
}
