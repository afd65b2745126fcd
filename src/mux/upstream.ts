/**
 * The child MCP server process: spawn it in its own process group, read its stdout as lines,
 * write whole lines to its stdin through one writer that reports how far behind the child
 * is, and terminate the whole process tree (SIGTERM, then SIGKILL after a grace period).
 *
 * The tree also dies with the daemon, even on SIGKILL: the child is started through
 * `/bin/sh`, which leaves a watcher in the child's process group blocked on a pipe only the
 * daemon holds, then execs the server (same pid, same exit status). When the daemon dies the
 * pipe closes and the watcher kills the whole group. It costs one idle `sh` (under 1 MB).
 * @module
 */

import { readdirSync, readFileSync } from "node:fs";
import type { Subprocess } from "bun";
import { MuxError } from "../errors.ts";
import { createLineSplitter } from "../protocol/framing.ts";
import { BIG_MESSAGE_BYTES, type WireLine } from "../protocol/message.ts";
import type { MuxLogger } from "./logger.ts";
import { RELEASE_AFTER_BYTES, releaseBigMessage } from "./memory.ts";

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
  /** The child's stdin took everything queued for it. */
  drained?(): void;
  /** A line of at least `BIG_MESSAGE_BYTES`, as bytes (default: decoded and given to `line`). */
  bytes?(line: Uint8Array): void;
  /** True while other requests wait at the child (more lines are likely to follow soon). */
  busy?(): boolean;
  /** A line the child wrote to stderr (after it is logged). */
  stderr?(text: string): void;
}

/** One running child process. */
export interface Upstream {
  readonly pid: number;
  /** Write one message line (no newline). Returns false if the pipe is broken. */
  write(line: WireLine): boolean;
  /** Bytes written for the child and not yet taken by its stdin. */
  readonly backlog: number;
  /** Terminate the process tree; resolves when the child has exited. */
  stop(graceMs: number): Promise<void>;
  /** Resolves with the exit code when the child exits. */
  readonly exited: Promise<number | null>;
}

/** Spawn the child. Throws `MuxError("SPAWN_FAILED")` when the command cannot be started. */
export function spawnUpstream(spec: UpstreamSpec, handlers: UpstreamHandlers, logger: MuxLogger): Upstream {
  let proc: Subprocess<"pipe", "pipe", "pipe">;
  const guard = TREE_GUARD_SHELL !== undefined;
  try {
    proc = Bun.spawn({
      cmd: guard
        ? [TREE_GUARD_SHELL as string, "-c", TREE_GUARD, "mcp-mux-child", spec.cmd, ...spec.args]
        : [spec.cmd, ...spec.args],
      cwd: spec.cwd,
      env: spec.env ? { ...process.env, ...spec.env } : process.env,
      stdio: guard ? ["pipe", "pipe", "pipe", "pipe"] : ["pipe", "pipe", "pipe"],
      detached: true,
    }) as unknown as Subprocess<"pipe", "pipe", "pipe">;
  } catch (error) {
    throw new MuxError("SPAWN_FAILED", `cannot start MCP server command "${spec.cmd}": ${describeSpawnError(error)}`, {
      cause: error,
    });
  }
  const pid = proc.pid;
  let done = false;
  // Writes are batched: lines written in one tick share one pipe write. When the previous
  // write was under a millisecond ago and other requests wait at the child (several clients
  // at work), the batch waits for the next event-loop turn so lines from many clients'
  // callbacks share it too; otherwise (one client, or idle) it goes at the end of this tick
  // and adds no latency. While the pipe is full, lines wait here and
  // `backlog` tells the service to stop reading clients. Big messages come as byte pieces and
  // go out in slices, so the pipe's own buffer never holds a second copy of them.
  const queue: (string | Uint8Array)[] = [];
  let queued = 0;
  let inPipe = 0;
  let flushScheduled = false;
  let lastFlush = 0;
  const nextBatch = (): string | Uint8Array => {
    const first = queue[0] as string | Uint8Array;
    if (typeof first !== "string") {
      if (first.length <= WRITE_SLICE) return queue.shift() as Uint8Array;
      queue[0] = first.subarray(WRITE_SLICE);
      return first.subarray(0, WRITE_SLICE);
    }
    let n = 1;
    while (n < queue.length && typeof queue[n] === "string") n++;
    const texts = queue.splice(0, n) as string[];
    return texts.length === 1 ? (texts[0] as string) : texts.join("");
  };
  const flush = (): void => {
    flushScheduled = false;
    lastFlush = performance.now();
    if (done || inPipe > 0) return;
    while (queue.length > 0) {
      const batch = nextBatch();
      const size = batch.length;
      queued -= size;
      inPipe = size;
      const last = typeof batch !== "string" && queue[0] !== batch && batch.buffer.byteLength >= RELEASE_AFTER_BYTES;
      try {
        proc.stdin.write(batch);
        const pending = proc.stdin.flush();
        if (pending instanceof Promise) {
          pending.then(
            () => {
              inPipe = 0;
              if (last) releaseBigMessage();
              flush();
              if (inPipe === 0) handlers.drained?.();
            },
            (error: unknown) => finish(`writing to server stdin failed: ${String(error)}`),
          );
          return;
        }
        inPipe = 0;
        if (last) releaseBigMessage();
      } catch (error) {
        finish(`writing to server stdin failed: ${String(error)}`);
        return;
      }
    }
    handlers.drained?.();
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
  void pumpLines(proc.stdout, handlers.line, handlers.bytes).then(
    () => stdoutEnded("server closed its stdout"),
    (error) => stdoutEnded(`reading server stdout failed: ${String(error)}`),
  );
  const onStderr = handlers.stderr;
  void pumpLines(proc.stderr, (text) => {
    logger.info(`[stderr] ${text}`);
    onStderr?.(text);
  }).catch(() => {});
  const exited = proc.exited.then(
    (code) => {
      const signal = proc.signalCode;
      finish(signal ? `server killed by ${signal}` : exitReason(code, guard));
      killGroup(pid, "SIGKILL");
      return code;
    },
    () => null,
  );

  return {
    pid,
    exited,
    get backlog(): number {
      return queued + inPipe;
    },
    write(line: WireLine): boolean {
      if (done) return false;
      if (typeof line === "string") {
        queue.push(`${line}\n`);
        queued += line.length + 1;
      } else {
        for (const part of line) {
          const bytes = typeof part === "string" ? encoder.encode(part) : part;
          queue.push(bytes);
          queued += bytes.length;
        }
        queue.push(NEWLINE);
        queued += 1;
      }
      if (!flushScheduled && inPipe === 0) {
        flushScheduled = true;
        if (performance.now() - lastFlush < 1 && handlers.busy?.()) setImmediate(flush);
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

const encoder = new TextEncoder();
const NEWLINE = new Uint8Array([0x0a]);
/** Largest single pipe write of a big message. */
const WRITE_SLICE = 1_048_576;

/** The shell that guards the process tree (none: spawn directly, without the guard). */
const TREE_GUARD_SHELL = process.platform === "win32" ? undefined : "/bin/sh";

/**
 * Leave a watcher in the group reading fd 3 (the daemon's end of a pipe), close fd 3 for the
 * server, and exec the server. EOF on fd 3 means the daemon died: kill the whole group.
 */
const TREE_GUARD = '( read _ignored <&3; kill -KILL 0 ) 2>/dev/null & exec 3<&-; exec "$@"';

function exitReason(code: number | null, guarded: boolean): string {
  if (guarded && code === 127) return "server command not found (exit code 127)";
  if (guarded && code === 126) return "server command is not executable (exit code 126)";
  return `server exited with code ${code}`;
}

async function pumpLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (text: string) => void,
  onBytes?: (line: Uint8Array) => void,
): Promise<void> {
  const splitter = createLineSplitter({ line: onLine, bytes: onBytes }, { bigLineBytes: BIG_MESSAGE_BYTES });
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

/** Whether any live (non-zombie) process is left in the group: zombies wait for a reaper we may not have. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== "linux") return true;
  try {
    for (const entry of readdirSync("/proc")) {
      if (entry.charCodeAt(0) > 0x39) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      } catch {
        continue;
      }
      // pid (comm) state ppid pgrp ...: comm may contain spaces, so read after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[2] === String(pid) && fields[0] !== "Z" && fields[0] !== "X") return true;
    }
    return false;
  } catch {
    return true;
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
