/**
 * A tiny JSON-RPC client over a Unix socket, used by `health`, `status` and the listener's
 * live-daemon check. Not an MCP client: it sends raw requests and reads raw responses.
 * @module
 */

import { MuxError } from "../errors.ts";
import { createLineSplitter } from "../protocol/framing.ts";
import { isObject, type JsonObject } from "../protocol/message.ts";

/** A connected raw client. */
export interface RpcConnection {
  /** Send a request and wait for its response object (`result` or `error`). */
  request(method: string, params?: JsonObject, timeoutMs?: number): Promise<JsonObject>;
  close(): void;
}

/** Why a connection attempt failed. */
export type ConnectFailure = "missing" | "refused" | "timeout" | "error";

/** Connect to a Unix socket. Throws `MuxError("CONNECT_FAILED")` with `cause.kind` set. */
export async function connectRpc(path: string, timeoutMs = 2000): Promise<RpcConnection> {
  const waiting = new Map<number, (msg: JsonObject) => void>();
  let nextId = 1;
  let closed = false;
  const splitter = createLineSplitter({
    line(text) {
      try {
        const msg = JSON.parse(text) as unknown;
        if (isObject(msg) && typeof msg.id === "number") waiting.get(msg.id)?.(msg);
      } catch {}
    },
  });
  const connect = Bun.connect({
    unix: path,
    socket: {
      data(_s, chunk) {
        splitter.push(chunk);
      },
      close() {
        closed = true;
        for (const done of waiting.values()) done({ error: { code: -32000, message: "connection closed" } });
        waiting.clear();
      },
      error() {},
    },
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(failure(path, "timeout", `no connection within ${timeoutMs} ms`)), timeoutMs);
  });
  let socket: Awaited<typeof connect>;
  try {
    socket = await Promise.race([connect, timeout]);
  } catch (error) {
    if (error instanceof MuxError) throw error;
    const code = (error as { code?: string }).code;
    if (code === "ENOENT") throw failure(path, "missing", "no such socket", error);
    if (code === "ECONNREFUSED")
      throw failure(path, "refused", "connection refused (stale socket: no daemon is listening)", error);
    throw failure(path, "error", error instanceof Error ? error.message : String(error), error);
  } finally {
    clearTimeout(timer);
  }
  return {
    request(method, params, ms = timeoutMs) {
      if (closed) return Promise.resolve({ error: { code: -32000, message: "connection closed" } });
      const id = nextId++;
      return new Promise<JsonObject>((resolve) => {
        const t = setTimeout(() => {
          waiting.delete(id);
          resolve({ error: { code: -32001, message: `no answer within ${ms} ms` }, timedOut: true });
        }, ms);
        waiting.set(id, (msg) => {
          clearTimeout(t);
          waiting.delete(id);
          resolve(msg);
        });
        socket.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, ...(params ? { params } : {}) })}\n`);
      });
    },
    close() {
      socket.end();
    },
  };
}

/** The failure kind of a `CONNECT_FAILED` error, if it is one. */
export function connectFailureKind(error: unknown): ConnectFailure | undefined {
  if (!(error instanceof MuxError) || error.code !== "CONNECT_FAILED") return undefined;
  return (error as MuxError & { kind?: ConnectFailure }).kind;
}

// --- internal ---

function failure(path: string, kind: ConnectFailure, what: string, cause?: unknown): MuxError {
  const error = new MuxError("CONNECT_FAILED", `cannot connect to ${path}: ${what}`, { cause }) as MuxError & {
    kind: ConnectFailure;
  };
  error.kind = kind;
  return error;
}
