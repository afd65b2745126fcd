/**
 * `runProxy`: a byte-exact stdio ↔ Unix socket bridge that an MCP host runs in place of the
 * server command. It never parses or rewrites messages (the daemon does that), and it writes
 * nothing but the daemon's bytes to stdout.
 * @module
 */

import type { SocketHandler } from "bun";
import { connectWithPeer } from "../client/peer.ts";
import { checkSocketOwner } from "../client/safe-path.ts";
import { MuxError } from "../errors.ts";
import { HELLO_METHOD } from "../protocol/hello.ts";

/** Where the proxy reads and writes. Defaults to the process's stdin and stdout. */
export interface ProxyOptions {
  socket: string;
  stdin?: ReadableStream<Uint8Array>;
  stdout?: ProxyOutput;
  /** Aborting it ends the proxy. */
  signal?: AbortSignal;
  /**
   * Environment the host resolved for this server (secrets, inputs), sent to the daemon in a
   * first `mcp-mux/hello` line: the daemon runs clients with the same values on one child.
   */
  env?: Record<string, string>;
}

/** A byte sink with optional backpressure (Bun's FileSink fits). */
export interface ProxyOutput {
  write(chunk: Uint8Array): unknown;
  flush?(): unknown;
}

/** Why the proxy ended. */
export interface ProxyResult {
  reason: "stdin-closed" | "daemon-closed" | "aborted";
}

/**
 * Bridge stdin/stdout to the daemon socket until one side ends. Throws
 * `MuxError("CONNECT_FAILED")` at once when the socket is missing or refuses.
 */
export async function runProxy(options: ProxyOptions): Promise<ProxyResult> {
  const stdin = options.stdin ?? Bun.stdin.stream();
  const stdout = options.stdout ?? Bun.stdout.writer();
  let finish!: (result: ProxyResult) => void;
  const done = new Promise<ProxyResult>((resolve) => {
    finish = resolve;
  });
  let drainWaiter: (() => void) | undefined;
  let stdinEnded = false;

  // Never talk to a socket another user could have put there; with secrets to forward, also
  // ask the kernel who listens (the socket file could be swapped between check and connect).
  checkSocketOwner(options.socket);
  const forwarding = options.env !== undefined && Object.keys(options.env).length > 0;
  let fd: number | undefined;
  if (forwarding) {
    const peer = connectWithPeer(options.socket);
    const me = process.getuid?.();
    if (me !== undefined && peer.uid !== me && peer.uid !== 0) {
      throw new MuxError(
        "SOCKET_PATH_INVALID",
        `refusing to forward secrets to ${options.socket}: it is served by uid ${peer.uid}, not by you (uid ${me})`,
      );
    }
    fd = peer.fd;
  }
  const handlers: SocketHandler<undefined> = {
    data(sock, chunk) {
      stdout.write(chunk);
      const flushed = stdout.flush?.();
      if (flushed instanceof Promise) {
        sock.pause();
        void flushed.then(() => sock.resume());
      }
    },
    drain() {
      drainWaiter?.();
    },
    close() {
      drainWaiter?.();
      finish({ reason: stdinEnded ? "stdin-closed" : "daemon-closed" });
    },
    end(sock) {
      sock.end();
    },
    error() {},
  };
  const connecting =
    fd !== undefined
      ? Bun.connect({ fd, allowHalfOpen: true, socket: handlers } as unknown as Parameters<typeof Bun.connect>[0])
      : Bun.connect({ unix: options.socket, allowHalfOpen: true, socket: handlers });
  const socket = await connecting.catch((error: unknown) => {
    throw new MuxError("CONNECT_FAILED", connectMessage(options.socket, error), { cause: error });
  });

  options.signal?.addEventListener("abort", () => finish({ reason: "aborted" }), { once: true });

  /** Write all of `chunk`, waiting for drain; false when the socket is gone. */
  const writeAll = async (data: Uint8Array): Promise<boolean> => {
    let chunk = data;
    for (;;) {
      const n = socket.write(chunk);
      if (n < 0) return false;
      if (n >= chunk.length) return true;
      chunk = chunk.subarray(n);
      await new Promise<void>((resolve) => {
        drainWaiter = resolve;
      });
      drainWaiter = undefined;
    }
  };

  void (async () => {
    if (options.env && Object.keys(options.env).length > 0) {
      const hello = { jsonrpc: "2.0", method: HELLO_METHOD, params: { env: options.env } };
      if (!(await writeAll(new TextEncoder().encode(`${JSON.stringify(hello)}\n`)))) return;
    }
    const reader = stdin.getReader();
    for (;;) {
      const { value, done: eof } = await reader.read();
      if (eof) break;
      if (!(await writeAll(value))) return;
    }
    // Half-close: the daemon answers what is in flight, then closes the connection.
    stdinEnded = true;
    socket.shutdown();
  })().catch(() => {
    stdinEnded = true;
    socket.shutdown();
  });

  const result = await done;
  socket.end();
  return result;
}

// --- internal ---

function connectMessage(path: string, error: unknown): string {
  const code = (error as { code?: string }).code;
  const start = `start it with: mux serve --socket ${path} --cmd <server command>`;
  if (code === "ENOENT") return `no mcp-mux daemon at ${path} (socket not found); ${start}`;
  if (code === "ECONNREFUSED") return `no mcp-mux daemon is listening on ${path} (stale socket); ${start}`;
  return `cannot connect to ${path}: ${error instanceof Error ? error.message : String(error)}`;
}
