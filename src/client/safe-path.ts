/**
 * Ownership checks for the folders sockets live in, so another local user can neither hijack
 * a socket folder (create it first, then swap the socket) nor plant an impostor socket that a
 * proxy would hand a host's `initialize` and forwarded secrets to. Every folder from the root
 * down must be owned by this user or by root, and be writable by nobody else unless it is
 * root's sticky folder (like /tmp), where others cannot rename or remove what is ours.
 * @module
 */

import { existsSync, lstatSync, mkdirSync, type Stats } from "node:fs";
import { dirname, resolve } from "node:path";
import { MuxError } from "../errors.ts";

/** Create `dir` (0700) if it is missing, then check it and its ancestors. Throws `SOCKET_PATH_INVALID`. */
export function ensurePrivateDir(dir: string): void {
  const abs = resolve(dir);
  try {
    mkdirSync(abs, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new MuxError("SOCKET_PATH_INVALID", `cannot create socket folder ${abs}: ${String(error)}`, { cause: error });
  }
  checkPrivateDir(abs);
}

/** Check that `dir` and every ancestor are safe for sockets. Throws `SOCKET_PATH_INVALID`. */
export function checkPrivateDir(dir: string): void {
  const me = process.getuid?.();
  if (me === undefined) return; // no uids (Windows)
  let path = resolve(dir);
  for (;;) {
    const problem = unsafe(path, me);
    if (problem) throw new MuxError("SOCKET_PATH_INVALID", `refusing socket folder ${path}: ${problem}`);
    const parent = dirname(path);
    if (parent === path) return;
    path = parent;
  }
}

/** Check a socket file before connecting: its folder is safe and the socket belongs to this user (or root). */
export function checkSocketOwner(socket: string): void {
  const me = process.getuid?.();
  if (me === undefined) return;
  const dir = dirname(resolve(socket));
  if (!existsSync(dir)) return; // no folder, no socket: connecting reports it
  checkPrivateDir(dir);
  let st: Stats;
  try {
    st = lstatSync(socket);
  } catch {
    return; // missing: connecting reports it
  }
  if (!st.isSocket()) throw new MuxError("SOCKET_PATH_INVALID", `${socket} is not a socket`);
  if (st.uid !== me && st.uid !== 0) {
    throw new MuxError(
      "SOCKET_PATH_INVALID",
      `refusing ${socket}: it belongs to uid ${st.uid}, not to you (uid ${me}); another user may be impersonating the mux`,
    );
  }
}

// --- internal ---

function unsafe(path: string, me: number): string | undefined {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (error) {
    return `cannot inspect it (${(error as { code?: string }).code ?? String(error)})`;
  }
  if (st.isSymbolicLink()) return "it is a symbolic link";
  if (!st.isDirectory()) return "it is not a folder";
  if (st.uid !== me && st.uid !== 0) return `it belongs to uid ${st.uid}, not to you (uid ${me})`;
  // Writable by others is safe only with the sticky bit (others cannot rename or remove what is ours).
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0)
    return `other users can write to it (mode ${octal(st.mode)}; chmod 700 it)`;
  return undefined;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}
