/**
 * File descriptors of this process: how many are open, the limit, and raising the soft limit
 * to the hard one (the CLI does it once at start; the library never changes process limits).
 * The HTTP front sheds new requests while few descriptors are left, so socket clients, the
 * control socket and child restarts keep a reserve under a connection flood.
 * @module
 */

import { readdirSync } from "node:fs";

/** The soft and hard `RLIMIT_NOFILE`, or undefined where it cannot be read. */
export function descriptorLimits(): { soft: number; hard: number } | undefined {
  const lib = libc();
  if (!lib) return undefined;
  const buf = new BigUint64Array(2);
  const { ptr } = require("bun:ffi") as typeof import("bun:ffi");
  if (lib.getrlimit(NOFILE, ptr(buf)) !== 0) return undefined;
  return { soft: clamp(buf[0] as bigint), hard: clamp(buf[1] as bigint) };
}

/**
 * Raise the soft descriptor limit to the hard one (capped at 65536): a daemon serving many
 * clients should not fail at 1024 when the system allows more. Returns the limit now in force.
 */
export function raiseDescriptorLimit(): number | undefined {
  const limits = descriptorLimits();
  if (!limits) return undefined;
  const target = Math.min(limits.hard, 65_536);
  if (target <= limits.soft) return limits.soft;
  const lib = libc();
  const { ptr } = require("bun:ffi") as typeof import("bun:ffi");
  const buf = new BigUint64Array([BigInt(target), BigInt(limits.hard)]);
  return lib && lib.setrlimit(NOFILE, ptr(buf)) === 0 ? target : limits.soft;
}

/**
 * Open descriptors of this process (Linux `/proc/self/fd`, macOS `/dev/fd`), or undefined when
 * they cannot be listed; Infinity when listing failed for want of a descriptor.
 */
export function openDescriptors(): number | undefined {
  try {
    return readdirSync(process.platform === "linux" ? "/proc/self/fd" : "/dev/fd").length;
  } catch (error) {
    const code = (error as { code?: string }).code;
    return code === "EMFILE" || code === "ENFILE" ? Number.POSITIVE_INFINITY : undefined;
  }
}

/**
 * A cached check of descriptor pressure: true while fewer than `reserve` descriptors (or 10 %
 * of the limit) are left under the soft limit. `load` is the caller's count of connections in
 * use; the count is read again every `everyMs`, or as soon as `load` moved by 16 since the last
 * read (a flood is seen within 16 connections; a directory read per request would cost more
 * than the request).
 */
export function descriptorPressure(reserve = DEFAULT_RESERVE, everyMs = 200): (load: number) => boolean {
  let checkedAt = 0;
  let loadAt = 0;
  let short = false;
  // Read now, while descriptors are there to read it with (dlopen needs one).
  let limit = descriptorLimits()?.soft;
  let limitAt = Date.now();
  return (load) => {
    const now = Date.now();
    if (now - checkedAt < everyMs && Math.abs(load - loadAt) < 16) return short;
    checkedAt = now;
    loadAt = load;
    if (now - limitAt > 10_000) {
      limit = descriptorLimits()?.soft ?? limit;
      limitAt = now;
    }
    const open = openDescriptors();
    short = limit !== undefined && open !== undefined && limit - open < Math.max(reserve, Math.floor(limit / 10));
    return short;
  };
}

/** Descriptors kept for socket clients, the control socket and child restarts (at least; 10 % of the limit when more). */
export const DEFAULT_RESERVE = 64;

// --- internal ---

const NOFILE = process.platform === "linux" ? 7 : 8;

interface Libc {
  getrlimit(resource: number, out: unknown): number;
  setrlimit(resource: number, value: unknown): number;
}

let loaded: Libc | null | undefined;

function libc(): Libc | undefined {
  if (loaded !== undefined) return loaded ?? undefined;
  try {
    const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
    const lib = dlopen(process.platform === "linux" ? "libc.so.6" : "/usr/lib/libSystem.B.dylib", {
      getrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
      setrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    });
    loaded = lib.symbols as unknown as Libc;
  } catch {
    loaded = null;
  }
  return loaded ?? undefined;
}

function clamp(value: bigint): number {
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}
