/**
 * Connect to a Unix socket and learn who is listening (`SO_PEERCRED` on Linux, `getpeereid`
 * on macOS) before a single byte is sent, through `bun:ffi`. `mux-proxy` uses it when it is
 * about to forward secrets, so an impostor socket of another user gets nothing. Loaded only
 * then: it costs a few MB, which a plain proxy does not pay.
 * @module
 */

import { MuxError } from "../errors.ts";

/** A connected socket's file descriptor and the uid of the process that listens on it. */
export interface PeerConnection {
  fd: number;
  uid: number;
}

/** Connect to `path`; throws `CONNECT_FAILED` (with `kind`) when nobody listens, or when peer credentials are unavailable. */
export function connectWithPeer(path: string): PeerConnection {
  const { dlopen, FFIType, ptr } = require("bun:ffi") as typeof import("bun:ffi");
  const linux = process.platform === "linux";
  const lib = dlopen(linux ? "libc.so.6" : "/usr/lib/libSystem.B.dylib", {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    connect: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
    ...(linux
      ? {
          getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
        }
      : { getpeereid: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 } }),
  });
  const s = lib.symbols as Record<string, (...args: unknown[]) => number>;
  const SOCK_CLOEXEC = linux ? 0o2000000 : 0;
  const fd = s.socket?.(1, 1 | SOCK_CLOEXEC, 0) ?? -1;
  if (fd < 0) throw failure(path, "error", "socket() failed");
  const name = new TextEncoder().encode(path);
  // sockaddr_un: Linux { u16 family; char path[108] }, macOS { u8 len; u8 family; char path[104] }.
  const addr = new Uint8Array(110);
  if (linux) addr[0] = 1;
  else {
    addr[0] = Math.min(106, name.length + 2);
    addr[1] = 1;
  }
  addr.set(name.subarray(0, 105), 2);
  if (s.connect?.(fd, ptr(addr), linux ? 2 + name.length + 1 : addr[0]) !== 0) {
    s.close?.(fd);
    lib.close();
    throw failure(path, "refused", "connection refused (no daemon is listening)");
  }
  let uid = -1;
  if (linux) {
    const cred = new Int32Array(3);
    const len = new Uint32Array([12]);
    if (s.getsockopt?.(fd, 1, 17, ptr(cred), ptr(len)) === 0) uid = cred[1] as number;
  } else {
    const u = new Uint32Array(1);
    const g = new Uint32Array(1);
    if (s.getpeereid?.(fd, ptr(u), ptr(g)) === 0) uid = u[0] as number;
  }
  if (uid < 0) s.close?.(fd);
  lib.close();
  if (uid < 0) throw failure(path, "error", "cannot read the peer's credentials");
  return { fd, uid };
}

// --- internal ---

function failure(path: string, kind: string, what: string): MuxError {
  const error = new MuxError("CONNECT_FAILED", `cannot connect to ${path}: ${what}`) as MuxError & { kind: string };
  error.kind = kind;
  return error;
}
