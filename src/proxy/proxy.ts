/**
 * `runProxy`: the stdio ↔ Unix socket bridge an MCP host runs in place of the server command.
 * Bytes go through unchanged (nothing but the daemon's bytes reaches stdout), while the proxy
 * watches the lines to keep the host's session:
 *
 * - nothing listens and `autostart` is set: it starts the daemon (once, whoever else is
 *   starting it) and connects; when that fails, the host's requests are answered with an
 *   error that says why and names the daemon's log, so the host shows the reason;
 * - the daemon goes away (upgrade, crash, restart): requests it was sent and did not answer
 *   get an error saying they may have run (-32030); the proxy reconnects (starting the daemon
 *   if it may), replays the host's initialize, initialized, log level and subscriptions
 *   (their answers kept from the host), then sends the new daemon the host's lines it had not
 *   sent, and carries on; if the server changed (protocol version, capabilities), the session
 *   ends as before, so the host starts a new one. Exactly one answer per id: a line the old
 *   daemon got only part of is never completed on the new one; its request gets -32037 (not
 *   sent, it did not run).
 * @module
 */

import type { Socket, SocketHandler } from "bun";
import { checkSocketOwner } from "../client/safe-path.ts";
import { isMuxError, MuxError } from "../errors.ts";
import { HELLO_METHOD, type WorkspaceHint } from "../protocol/hello.ts";
import { errorLine, RpcErrorCode } from "../protocol/rpc-error.ts";
import type { AutostartOptions } from "./autostart.ts";
import { Replay } from "./replay.ts";
import { HostSession } from "./session.ts";
import { createLineWatcher, type SeenLine } from "./watch.ts";

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
  /**
   * Where the host started this proxy (its folder, and the host's project variables), sent in
   * the hello line: a `share = "workspace"` service serves it from that workspace's child.
   */
  workspace?: WorkspaceHint;
  /** The pid of this proxy's host (its parent), sent in the hello line for logs and status. */
  hostPid?: number;
  /** Start the daemon when nothing listens on the socket. */
  autostart?: AutostartOptions;
  /** The config the daemon runs (named in the message when there is no daemon and no autostart). */
  config?: string;
  /** Keep the host's session when the daemon goes away (default true). */
  reconnect?: boolean;
  /** Give up reconnecting after this long (default 60 s). */
  reconnectTimeoutMs?: number;
  /** Notes for the host's log (stderr by default). */
  log?: (message: string) => void;
}

/** A byte sink with optional backpressure (Bun's FileSink fits). */
export interface ProxyOutput {
  write(chunk: Uint8Array | string): unknown;
  flush?(): unknown;
  end?(): unknown;
}

/** Why the proxy ended. */
export interface ProxyResult {
  reason: "stdin-closed" | "daemon-closed" | "aborted" | "server-changed" | "daemon-unavailable";
  /** What went wrong, for the last three. */
  message?: string;
}

/**
 * Bridge stdin/stdout to the daemon socket until the host or the daemon ends it. Throws
 * `MuxError` only for a socket that must not be used (another user's).
 */
export async function runProxy(options: ProxyOptions): Promise<ProxyResult> {
  const bridge = new Bridge(options);
  return bridge.run();
}

// --- internal ---

type Conn = Socket<undefined>;

/**
 * The host's stdio and its daemon connection, across reconnects.
 * Over 300 lines (about 330) on purpose: one state machine (held bytes, the line being cut,
 * the replay of the host's session to a new daemon, exactly-once answers) whose every step
 * reads the same fields; the parts that stand alone already live apart (session.ts,
 * replay.ts, watch.ts, autostart.ts).
 */
class Bridge {
  private readonly o: ProxyOptions;
  private readonly stdout: ProxyOutput;
  private readonly session = new HostSession();
  private readonly log: (message: string) => void;
  private conn: Conn | undefined;
  private connWaiters: (() => void)[] = [];
  private drainWaiter: (() => void) | undefined;
  private stdinEnded = false;
  /** The host's bytes read but not handed to a daemon yet (the rest of the last stdin chunk). */
  private held: Uint8Array | undefined;
  /** Offset in the host's stream up to which bytes were handed to a daemon (or dropped). */
  private written = 0;
  /** The last byte handed over ended a line: a new daemon may take the next one. */
  private atLineStart = true;
  /** The daemon went away in the middle of a line: the host's bytes up to its end are dropped. */
  private skipping = false;
  private finish!: (result: ProxyResult) => void;
  private readonly done: Promise<ProxyResult>;
  private ended = false;
  /** While replaying to a new daemon: its connection, whose lines are read here, answers kept. */
  private replay: Replay | undefined;
  private replayConn: Conn | undefined;
  private readonly hostWatch = createLineWatcher(
    (line) => this.session.hostLine(line),
    (b, start, end, lineEnd) => this.session.quickHostLine(b, start, end, lineEnd),
  );
  private readonly daemonWatch = createLineWatcher(
    (line) => this.session.daemonLine(line),
    (b, start, end) => this.session.quickDaemonLine(b, start, end),
  );
  constructor(options: ProxyOptions) {
    this.o = options;
    this.stdout = options.stdout ?? Bun.stdout.writer();
    this.log = options.log ?? ((m) => process.stderr.write(`mux-proxy: ${m}\n`));
    this.done = new Promise((resolve) => {
      this.finish = (result) => {
        if (this.ended) return;
        this.ended = true;
        resolve(result);
      };
    });
  }

  async run(): Promise<ProxyResult> {
    this.o.signal?.addEventListener("abort", () => this.finish({ reason: "aborted" }), { once: true });
    const first = await this.connect();
    if (first instanceof Error)
      return this.refuse(
        first.message,
        // A running daemon whose service failed: the service's state; no daemon at all: the proxy's own code.
        isMuxError(first) && first.code === "SERVICE_UNSERVED"
          ? RpcErrorCode.ServiceFailed
          : RpcErrorCode.DaemonUnavailable,
      );
    this.attach(first);
    void this.pumpStdin();
    const result = await this.done;
    this.conn?.end();
    return result;
  }

  /** Connect (checked), starting the daemon if allowed; an Error says why it cannot. */
  private async connect(): Promise<Conn | Error> {
    let started = false;
    for (;;) {
      try {
        return await this.open();
      } catch (error) {
        if (isMuxError(error) && error.code === "SOCKET_PATH_INVALID") throw error;
        const kind = (error as { code?: string }).code;
        const absent = kind === "ENOENT" || kind === "ECONNREFUSED" || (error as { kind?: string }).kind === "refused";
        if (!absent || !this.o.autostart || started)
          return new Error(connectMessage(this.o.socket, error, !!this.o.autostart, this.o.config));
        try {
          // Loaded when needed: an idle proxy of a running daemon never carries it.
          const { ensureDaemon } = await import("./autostart.ts");
          await ensureDaemon(this.o.socket, this.o.autostart);
        } catch (startError) {
          return startError instanceof Error ? startError : new Error(String(startError));
        }
        started = true;
      }
    }
  }

  /** One connection attempt; the handlers feed this bridge. */
  private async open(): Promise<Conn> {
    // Never talk to a socket another user could have put there; with secrets to forward, also
    // ask the kernel who listens (the socket file could be swapped between check and connect).
    checkSocketOwner(this.o.socket);
    const forwarding = this.o.env !== undefined && Object.keys(this.o.env).length > 0;
    const handlers: SocketHandler<undefined> = {
      data: (sock, chunk) => this.fromDaemon(sock, chunk),
      drain: () => this.drainWaiter?.(),
      close: (sock) => this.daemonGone(sock),
      end: (sock) => {
        sock.end();
      },
      error: () => {},
    };
    let sock: Conn;
    if (forwarding) {
      const { connectWithPeer } = await import("../client/peer.ts");
      const peer = connectWithPeer(this.o.socket);
      const me = process.getuid?.();
      if (me !== undefined && peer.uid !== me && peer.uid !== 0) {
        throw new MuxError(
          "SOCKET_PATH_INVALID",
          `refusing to forward secrets to ${this.o.socket}: it is served by uid ${peer.uid}, not by you (uid ${me})`,
        );
      }
      sock = (await Bun.connect({ fd: peer.fd, allowHalfOpen: true, socket: handlers } as unknown as Parameters<
        typeof Bun.connect
      >[0])) as unknown as Conn;
    } else sock = await Bun.connect({ unix: this.o.socket, allowHalfOpen: true, socket: handlers });
    if (forwarding || this.o.workspace || this.o.hostPid) {
      const params = {
        ...(forwarding ? { env: this.o.env } : {}),
        ...(this.o.workspace ? { workspace: this.o.workspace } : {}),
        ...(this.o.hostPid ? { hostPid: this.o.hostPid } : {}),
      };
      sock.write(`${JSON.stringify({ jsonrpc: "2.0", method: HELLO_METHOD, params })}\n`);
    }
    return sock;
  }

  private attach(sock: Conn): void {
    this.conn = sock;
    const waiters = this.connWaiters;
    this.connWaiters = [];
    for (const w of waiters) w();
  }

  /** Host → daemon, chunk by chunk, waiting while there is no daemon (reconnecting). */
  private async pumpStdin(): Promise<void> {
    const reader = (this.o.stdin ?? Bun.stdin.stream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.hostWatch.push(value);
        // The common case without a promise: the daemon is there and takes it all at once.
        const conn = this.conn;
        const n = conn && !this.skipping ? conn.write(value) : 0;
        if (n > 0) this.handed(value, n);
        if (n < value.length) {
          this.held = n > 0 ? value.subarray(n) : value;
          await this.toDaemon();
        }
        if (this.ended) return;
      }
    } catch {}
    // Half-close: the daemon answers what is in flight, then closes the connection.
    this.stdinEnded = true;
    if (this.conn) this.conn.shutdown();
    else this.finish({ reason: "stdin-closed" });
  }

  /**
   * Write the held bytes to the current daemon, waiting for drain and for a reconnect; after a
   * daemon went away mid-line, drop the rest of that line first.
   */
  private async toDaemon(): Promise<void> {
    while (!this.ended) {
      const data = this.held;
      if (!data || data.length === 0) break;
      if (this.skipping) {
        this.skip(data);
        continue;
      }
      const conn = this.conn;
      if (!conn) {
        await new Promise<void>((resolve) => this.connWaiters.push(resolve));
        continue;
      }
      const n = conn.write(data);
      if (n > 0) this.handed(data, n);
      if (n >= data.length) break;
      this.held = n > 0 ? data.subarray(n) : data;
      await new Promise<void>((resolve) => {
        this.drainWaiter = resolve;
      });
      this.drainWaiter = undefined;
    }
    this.held = undefined;
  }

  /** The daemon took the first `n` bytes of `data`. */
  private handed(data: Uint8Array, n: number): void {
    this.written += n;
    this.atLineStart = data[n - 1] === NEWLINE;
    this.session.sent(this.written);
  }

  /** Drop held bytes up to the end of the line a daemon that went away had only part of. */
  private skip(data: Uint8Array): void {
    const nl = data.indexOf(NEWLINE);
    const cut = nl < 0 ? data.length : nl + 1;
    this.written += cut;
    this.held = data.subarray(cut);
    if (nl < 0) return;
    this.skipping = false;
    this.atLineStart = true;
    const why = "the mcp-mux daemon went away while the request was being sent; it was not run: retry it";
    for (const line of this.session.dropped(this.written, why)) this.toHost(`${line}\n`);
  }

  private fromDaemon(sock: Conn, chunk: Uint8Array): void {
    if (sock === this.replayConn && this.replay) return this.replay.take(chunk);
    if (sock !== this.conn) return;
    this.daemonWatch.push(chunk);
    this.toHost(chunk, sock);
  }

  private toHost(data: Uint8Array | string, sock?: Conn): void {
    this.stdout.write(data);
    const flushed = this.stdout.flush?.();
    if (flushed instanceof Promise && sock) {
      sock.pause();
      void flushed.then(() => sock.resume());
    }
  }

  private daemonGone(sock: Conn): void {
    if (sock === this.replayConn) {
      this.replay?.fail();
      this.drainWaiter?.();
      return;
    }
    if (sock !== this.conn) return;
    this.conn = undefined;
    // Whatever of a line it had is lost with it: the rest of that line never goes anywhere.
    if (!this.atLineStart) this.skipping = true;
    this.drainWaiter?.();
    if (this.stdinEnded || this.ended) return this.finish({ reason: "stdin-closed" });
    if (this.o.reconnect === false) return this.finish({ reason: "daemon-closed" });
    void this.reconnect();
  }

  /** Keep the host's session on a new daemon connection. */
  private async reconnect(): Promise<void> {
    for (const line of this.session.abandon(
      "the mcp-mux daemon went away before answering; the request was sent, so it may have run",
    ))
      this.toHost(`${line}\n`);
    this.log(`the daemon at ${this.o.socket} went away; reconnecting`);
    const until = Date.now() + (this.o.reconnectTimeoutMs ?? 60_000);
    let wait = 50;
    let conn: Conn | Error | undefined;
    while (!this.ended && Date.now() < until) {
      conn = await this.connect();
      if (!(conn instanceof Error)) break;
      // `mux stop`: the daemon is not coming back, end the session now.
      if (isMuxError(conn) && conn.code === "DAEMON_STOPPED") break;
      await Bun.sleep(wait);
      wait = Math.min(wait * 2, 1000);
    }
    if (this.ended) return;
    if (!conn || conn instanceof Error) {
      const why = conn instanceof Error ? conn.message : "timed out";
      this.log(`cannot reconnect: ${why}`);
      return this.finish({ reason: "daemon-closed", message: why });
    }
    const plan = this.session.replay();
    if (plan.initialize) {
      const replay = new Replay(plan.initialize.id, plan.after);
      this.replay = replay;
      this.replayConn = conn;
      await this.replayWrite(conn, replay, `${plan.initialize.line}\n`);
      const answer = await replay.initialized(10_000);
      if (!replay.failed && answer !== undefined && this.session.sameServer(answer)) {
        await this.replayWrite(conn, replay, plan.after.map((item) => `${item.line}\n`).join(""));
        await replay.settled(5_000);
      }
      this.replay = undefined;
      this.replayConn = undefined;
      if (replay.failed) return void this.reconnect();
      if (answer === undefined || !this.session.sameServer(answer)) {
        this.log("the server changed while the daemon was away; ending the session so the host starts a new one");
        conn.end();
        this.stdout.end?.();
        return this.finish({ reason: "server-changed", message: "the server changed" });
      }
      const rest = replay.rest();
      if (rest.length > 0) {
        this.daemonWatch.push(rest);
        this.toHost(rest, conn);
      }
    }
    this.log("reconnected; the host's session goes on");
    this.attach(conn);
  }

  /** Write all of a replay's lines to the new daemon (waiting for drain), unless it goes away. */
  private async replayWrite(conn: Conn, replay: Replay, text: string): Promise<void> {
    let data = new TextEncoder().encode(text);
    while (data.length > 0 && !replay.failed && !this.ended) {
      const n = conn.write(data);
      if (n < 0) return;
      data = data.subarray(n);
      if (data.length === 0) return;
      await new Promise<void>((resolve) => {
        this.drainWaiter = resolve;
      });
      this.drainWaiter = undefined;
    }
  }

  /** The daemon is not there and cannot be started: answer the host's requests with why. */
  private async refuse(reason: string, code: number = RpcErrorCode.DaemonUnavailable): Promise<ProxyResult> {
    this.log(reason);
    const reader = (this.o.stdin ?? Bun.stdin.stream()).getReader();
    const answered = new Promise<void>((resolve) => {
      const watcher = createLineWatcher((line: SeenLine) => {
        const id = /"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")/.exec(line.text ?? line.head)?.[1];
        if (id === undefined) return;
        this.toHost(`${errorLine(id, code, reason)}\n`);
        resolve();
      });
      void (async () => {
        for (;;) {
          const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
          if (done || !value) return resolve();
          watcher.push(value);
        }
      })();
    });
    await Promise.race([answered, Bun.sleep(10_000)]);
    await this.stdout.flush?.();
    return { reason: "daemon-unavailable", message: reason };
  }
}

const NEWLINE = 0x0a;

function connectMessage(path: string, error: unknown, autostart: boolean, config?: string): string {
  const code = (error as { code?: string }).code;
  const start = autostart
    ? "it could not be started"
    : config
      ? `start it with \`mux serve --config ${config}\` (mux-proxy found no mux executable to start it: put mux on PATH or beside mux-proxy, or set MUX_BIN; or install the login service: \`mux service install --config ${config}\`)`
      : "start it with `mux serve --config <your config>` (or install the login service: `mux service install`)";
  if (code === "ENOENT") return `no mcp-mux daemon at ${path} (socket not found); ${start}`;
  if (code === "ECONNREFUSED" || (error as { kind?: string }).kind === "refused")
    return `no mcp-mux daemon is listening on ${path} (stale socket); ${start}`;
  return `cannot connect to ${path}: ${error instanceof Error ? error.message : String(error)}`;
}
