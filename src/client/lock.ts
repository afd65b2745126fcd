/**
 * An exclusive lock on a file next to a socket (`flock(2)` through `bun:ffi`), taken around
 * "is a daemon there? → remove a stale socket → bind", so daemons started at the same moment
 * (20 proxies auto-starting one) end with exactly one winner. The kernel drops the lock when
 * its holder dies, so a crash never leaves it held. Without `flock` (no usable libc) the lock
 * is skipped, with the old (racy) takeover. `tryLock` holds a lock for a lifetime (one daemon
 * per config), returning null where there is no flock.
 * @module
 */

import { closeSync, fstatSync, openSync, statSync, unlinkSync } from "node:fs";

/** Run `fn` while holding the lock on `path` (created 0600 if missing). */
export async function withFileLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lock = libc();
  if (!lock) return fn();
  const fd = await acquire(path, lock);
  try {
    return await fn();
  } finally {
    removeLockFile(path);
    lock(fd, LOCK_UN);
    closeSync(fd);
  }
}

/** A lock held until `release()` (or until the process dies: the kernel drops it). */
export interface HeldLock {
  release(): void;
}

/**
 * Take the lock on `path` only if nobody holds it: undefined when another process does. Used
 * for locks held for a process's lifetime (one daemon per config).
 */
export function tryLock(path: string): HeldLock | undefined | null {
  const lock = libc();
  if (!lock) return null;
  for (;;) {
    const fd = openSync(path, "a", 0o600);
    if (lock(fd, LOCK_EX | LOCK_NB) !== 0) {
      closeSync(fd);
      return undefined;
    }
    if (sameFile(fd, path)) {
      return {
        release() {
          removeLockFile(path);
          lock(fd, LOCK_UN);
          closeSync(fd);
        },
      };
    }
    // Locked a file its holder removed meanwhile: take the new one.
    lock(fd, LOCK_UN);
    closeSync(fd);
  }
}

/**
 * Remove a lock file while still holding it: whoever opened the old file and locks it next
 * sees it is gone (`acquire` and `tryLock` compare inodes) and opens the new one.
 */
export function removeLockFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {}
}

// --- internal ---

const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

type Flock = (fd: number, op: number) => number;

let cached: Flock | null | undefined;

/** libc's flock, or null where it cannot be loaded. */
function libc(): Flock | null {
  if (cached !== undefined) return cached;
  cached = null;
  const names =
    process.platform === "darwin"
      ? ["/usr/lib/libSystem.B.dylib", "libc.dylib"]
      : ["libc.so.6", "libc.so", `libc.musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`];
  try {
    const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
    for (const name of names) {
      try {
        const lib = dlopen(name, { flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } });
        cached = (fd, op) => lib.symbols.flock(fd, op);
        break;
      } catch {}
    }
  } catch {}
  return cached;
}

function sameFile(fd: number, path: string): boolean {
  try {
    return fstatSync(fd).ino === statSync(path).ino;
  } catch {
    return false;
  }
}

/** Take the lock, retrying while another process holds it; re-open if the file was replaced. */
async function acquire(path: string, flock: Flock): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const fd = openSync(path, "a", 0o600);
    if (flock(fd, LOCK_EX | LOCK_NB) === 0) {
      // The file we locked must still be the one at `path` (not unlinked and re-created).
      if (sameFile(fd, path)) return fd;
      flock(fd, LOCK_UN);
    }
    closeSync(fd);
    await Bun.sleep(Math.min(5 + attempt * 5, 50));
  }
}
