/**
 * The service's Unix socket: path checks, ownership (never steal a live daemon's socket,
 * replace a stale one), owner-only permissions, and removal on close.
 * @module
 */

import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, lstatSync, renameSync, unlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import type { SocketHandler, TCPSocketListener, UnixSocketListener } from "bun";
import { withFileLock } from "../client/lock.ts";
import { connectRpc } from "../client/rpc.ts";
import { ensurePrivateDir } from "../client/safe-path.ts";
import { MuxError } from "../errors.ts";
import { isObject } from "../protocol/message.ts";

/** Longest socket path the OS accepts (sun_path minus the terminating NUL). */
export const MAX_SOCKET_PATH_BYTES = process.platform === "linux" ? 107 : 103;

/** A bound socket. */
export interface Listener<T> {
  readonly path: string;
  /** Stop accepting; remove the socket file if it is still ours. */
  close(): void;
  readonly server: UnixSocketListener<T> | TCPSocketListener<T>;
}

/** Check a socket path before anything starts. Throws a `MuxError` naming the problem. */
export function checkSocketPath(path: string): void {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new MuxError(
      "SOCKET_PATH_TOO_LONG",
      `socket path is ${bytes} bytes, over the ${MAX_SOCKET_PATH_BYTES}-byte limit of Unix sockets: ${path}`,
    );
  }
}

/**
 * Bind `path`, taking over a stale socket file but never a live daemon's. The folder is
 * created 0700 and must be the user's own; the check, the removal of a stale socket and the
 * bind happen under a lock (`<path>.lock`), so of several daemons started at once one wins.
 */
export async function listenUnix<T>(path: string, handlers: SocketHandler<T>): Promise<Listener<T>> {
  checkSocketPath(path);
  ensurePrivateDir(dirname(path));
  const server = await withFileLock(`${path}.lock`, async () => {
    if (existsSync(path)) await takeOverStale(path);
    // Bound under a temporary name and renamed into place once listening: a client that sees
    // the socket file can connect (bind creates the file before listen, and a connect in
    // between is refused: clients that wait for the file would race it).
    const temp = join(dirname(path), `.${randomBytes(4).toString("hex")}`);
    const staged = Buffer.byteLength(temp) <= MAX_SOCKET_PATH_BYTES ? temp : path;
    const previous = process.umask(0o177);
    try {
      const listening = Bun.listen<T>({ unix: staged, socket: handlers, allowHalfOpen: true });
      if (staged !== path) renameSync(staged, path);
      return listening;
    } catch (error) {
      try {
        if (staged !== path) unlinkSync(staged);
      } catch {}
      throw new MuxError("SOCKET_IN_USE", `cannot listen on ${path}: ${String(error)}`, { cause: error });
    } finally {
      process.umask(previous);
    }
  });
  chmodSync(path, 0o600);
  const ino = lstatSync(path).ino;
  return {
    path,
    server,
    close() {
      server.stop(true);
      try {
        if (lstatSync(path).ino === ino) unlinkSync(path);
      } catch {}
    },
  };
}

// --- internal ---

async function takeOverStale(path: string): Promise<void> {
  const stat = lstatSync(path);
  if (!stat.isSocket()) {
    throw new MuxError("SOCKET_PATH_INVALID", `${path} exists and is not a socket; refusing to replace it`);
  }
  let conn: Awaited<ReturnType<typeof connectRpc>> | undefined;
  try {
    conn = await connectRpc(path, 1000);
  } catch {
    unlinkSync(path); // nobody listens: a stale socket left by a dead daemon
    return;
  }
  const answer = await conn.request("mcp-mux/status", undefined, 1000);
  conn.close();
  const status = isObject(answer.result) ? answer.result : undefined;
  const who = status
    ? `mcp-mux pid ${String(status.muxPid)} (service "${String(status.service)}")`
    : "another process (not answering mcp-mux/status)";
  throw new MuxError("SOCKET_IN_USE", `${path} is already served by ${who}; stop it first or choose another --socket`);
}
