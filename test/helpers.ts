/**
 * Test harness: temp dirs, a mux target that runs either in-process (`startMux`) or as the
 * compiled `dist/mux` binary, raw socket clients, and official-SDK clients that connect
 * through the compiled `dist/mux-proxy`.
 */

import { afterEach } from "bun:test";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { ClientCapabilities } from "@modelcontextprotocol/sdk/types.js";
import type { Subprocess } from "bun";
import { type MuxOptions, startMux } from "../src/index.ts";
import { createLineSplitter } from "../src/protocol/framing.ts";

export const ROOT = resolve(import.meta.dir, "..");
export const MUX_BIN = join(ROOT, "dist/mux");
export const PROXY_BIN = join(ROOT, "dist/mux-proxy");
export const FAKE_SERVER = join(ROOT, "test/fixtures/fake-server.ts");
export const BUN = process.execPath;
export const EVERYTHING_BIN = join(ROOT, "node_modules/.bin/mcp-server-everything");
export const MEMORY_BIN = join(ROOT, "node_modules/.bin/mcp-server-memory");

export type Json = Record<string, unknown>;

/** A per-test temporary directory, removed on dispose. */
export function tempDir(): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), "mux-"));
  return {
    path,
    [Symbol.dispose]() {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

export const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Resources of one test, released after it (registers an afterEach in the calling scope). */
export interface TestScope {
  /** Run `fn` after the test (last registered runs first). */
  defer(fn: () => unknown): void;
  /** A fresh temporary directory. */
  dir(): string;
  /** A mux target (in-process or binary), closed after the test. */
  target(options: MuxOptions, mode?: Mode): Promise<Target>;
  /** A raw client, directly on the socket or through a real mux-proxy process (started as `launch` says). */
  raw(socket: string, via?: "socket" | "proxy", launch?: ProxyLaunch): Promise<RawClient>;
}

/** Create the per-test scope; `mode` is the default target mode. */
export function testScope(mode: Mode = "bin"): TestScope {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });
  return {
    defer: (fn) => {
      cleanups.push(fn);
    },
    dir() {
      const d = tempDir();
      cleanups.push(() => d[Symbol.dispose]());
      return d.path;
    },
    async target(options, m = mode) {
      const t = await startTarget(m, options);
      cleanups.push(() => t.close());
      return t;
    },
    async raw(socket, via = "socket", launch) {
      const c = via === "proxy" ? await RawClient.viaProxy(socket, launch) : await RawClient.connect(socket);
      cleanups.push(() => {
        c.close();
        c.proc?.kill();
      });
      return c;
    },
  };
}

/** Where the mux runs: in this process, or as the compiled binary. */
export type Mode = "lib" | "bin";
export const MODES: Mode[] = ["lib", "bin"];

/** A running mux under test. */
export interface Target {
  socket: string;
  /** The Streamable HTTP endpoint, when the target serves one. */
  httpUrl?: string;
  proc?: Subprocess;
  stderr(): string;
  close(): Promise<void>;
}

/** Options for the fake server child. */
export function fakeServer(dir: string, env: Record<string, string> = {}): Pick<MuxOptions, "cmd" | "args" | "env"> {
  return { cmd: BUN, args: [FAKE_SERVER], env: { FAKE_RECORD: join(dir, "record.jsonl"), ...env } };
}

/** Lines the fake server received (as parsed JSON). */
export function recorded(dir: string): Json[] {
  const file = join(dir, "record.jsonl");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Json);
}

/** Start a mux in `mode`. In bin mode, options become CLI flags. */
export async function startTarget(mode: Mode, options: MuxOptions): Promise<Target> {
  if (mode === "lib") {
    // The library's log lines, kept like the binary's stderr (so tests can read reasons).
    let logs = "";
    const keep =
      (level: string) =>
      (message: string): void => {
        logs += `[${level}] ${message}\n`;
      };
    const logger = { debug: keep("debug"), info: keep("info"), warn: keep("warn"), error: keep("error") };
    const handle = await startMux({ logger, ...options });
    return { socket: handle.socket, httpUrl: handle.httpUrl, stderr: () => logs, close: () => handle.close() };
  }
  const flags: string[] = ["serve", "--socket", options.socket, "--cmd", options.cmd];
  const map: [keyof MuxOptions, string][] = [
    ["maxActiveClients", "--max-active-clients"],
    ["maxRequestBytes", "--max-request-bytes"],
    ["requestTimeoutMs", "--request-timeout-ms"],
    ["restartBackoffMs", "--restart-backoff-ms"],
    ["restartBackoffMaxMs", "--restart-backoff-max-ms"],
    ["maxRestarts", "--max-restarts"],
    ["healthyAfterMs", "--healthy-after-ms"],
    ["statusFile", "--status-file"],
    ["serviceName", "--service-name"],
    ["rootsPolicy", "--roots-policy"],
    ["ambiguousRoute", "--ambiguous-route"],
    ["maxEnvChildren", "--max-env-children"],
    ["maxClientInflight", "--max-client-inflight"],
    ["clientStallTimeoutMs", "--client-stall-timeout-ms"],
    ["maxConcurrentRequests", "--max-concurrent-requests"],
    ["dormantAfterMs", "--dormant-after-ms"],
    ["era", "--era"],
    ["maxIsolatedChildren", "--max-isolated-children"],
  ];
  for (const [key, flag] of map) if (options[key] !== undefined) flags.push(flag, String(options[key]));
  if (options.childCapabilities !== undefined)
    flags.push(
      "--child-capabilities",
      typeof options.childCapabilities === "string"
        ? options.childCapabilities
        : options.childCapabilities.join(",") || "none",
    );
  if (options.forwardEnv?.length) flags.push("--forward-env", options.forwardEnv.join(","));
  if (options.http) {
    flags.push("--http", options.http.listen);
    if (options.http.auth === "none") flags.push("--http-no-auth");
    else if (options.http.token) {
      const file = join(mkdtempSync(join(tmpdir(), "mux-token-")), "token");
      writeFileSync(file, `${options.http.token}\n`, { mode: 0o600 });
      flags.push("--http-token-file", file);
    }
    if (options.http.allowedHosts) flags.push("--http-allow-host", options.http.allowedHosts.join(","));
    if (options.http.sessionIdleMs) flags.push("--http-session-idle-ms", String(options.http.sessionIdleMs));
  }
  if (options.lazyStart) flags.push("--lazy-start");
  if (options.isolated) flags.push("--isolated");
  flags.push("--log-level", "debug", "--", ...(options.args ?? []));
  const proc = Bun.spawn({
    cmd: [MUX_BIN, ...flags],
    env: { ...process.env, ...options.env },
    stdout: "ignore",
    stderr: "pipe",
  });
  let stderr = "";
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) stderr += decoder.decode(chunk);
  })();
  await waitFor(() => existsSync(options.socket) || proc.exitCode !== null, 10_000);
  if (options.http) await waitFor(() => /Streamable HTTP: (\S+)/.test(stderr) || proc.exitCode !== null, 10_000);
  if (proc.exitCode !== null) throw new Error(`mux exited early (${proc.exitCode}): ${stderr}`);
  return {
    httpUrl: /Streamable HTTP: (\S+)/.exec(stderr)?.[1],
    socket: options.socket,
    proc,
    stderr: () => stderr,
    async close() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}

/**
 * Hand a measured figure to the benchmark report: appended as a JSON line to the file
 * `MUX_BENCH_FIGURES` names (the bench runs these tests with it set); a no-op otherwise.
 */
export function reportFigure(name: string, figures: Record<string, number | string>): void {
  const file = process.env.MUX_BENCH_FIGURES;
  if (file) appendFileSync(file, `${JSON.stringify({ name, ...figures })}\n`);
}

/** Poll until `check` is true. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = "condition",
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

/** How `RawClient.viaProxy` starts its mux-proxy. */
export interface ProxyLaunch {
  args?: string[];
  env?: Record<string, string | undefined>;
  /** The folder the proxy runs in (its host's launch folder). */
  cwd?: string;
}

let settles = 0;
let handshakes = 0;

/** Bytes for a socket that takes what it can: the rest waits, in order, and goes out on drain. */
export class WriteQueue {
  private backlog: Uint8Array[] = [];
  constructor(private readonly write: (bytes: Uint8Array) => number) {}

  send(bytes: Uint8Array): void {
    this.backlog.push(bytes);
    if (this.backlog.length === 1) this.drain();
  }

  /** Write what waits until the socket takes no more (call from the socket's drain handler). */
  drain(): void {
    while (this.backlog.length > 0) {
      const first = this.backlog[0] as Uint8Array;
      const n = this.write(first);
      if (n < 0) return;
      if (n < first.length) {
        this.backlog[0] = first.subarray(n);
        return;
      }
      this.backlog.shift();
    }
  }
}

/**
 * A raw JSON-RPC client over the socket: send anything, inspect every line received.
 * `next` looks only at what arrives after a mark (by default, the call itself), and `response`
 * only at what arrived since the request with that id was last sent, so an earlier message
 * never satisfies a later wait.
 */
export class RawClient {
  readonly received: Json[] = [];
  readonly rawLines: string[] = [];
  closed = false;
  /** What the mux-proxy process (`viaProxy`) wrote to stderr. */
  stderr = "";
  private waiters: (() => void)[] = [];
  /** Per request id (JSON text), how many messages had arrived when it was last sent. */
  private readonly sentAt = new Map<string, number>();
  private readonly out: WriteQueue;
  private constructor(private readonly socket: { write(b: Uint8Array): number; end(): void }) {
    this.out = new WriteQueue((b) => socket.write(b));
  }

  /**
   * A raw client whose bytes go through a real `dist/mux-proxy` process, started with `args`
   * after `--socket PATH` and with `env` as its whole environment (default: this one's).
   */
  static async viaProxy(path: string, launch: ProxyLaunch = {}): Promise<RawClient> {
    const proc = Bun.spawn({
      cmd: [PROXY_BIN, "--socket", path, ...(launch.args ?? [])],
      env: launch.env,
      cwd: launch.cwd,
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    const client = new RawClient({
      write(b) {
        proc.stdin.write(b);
        proc.stdin.flush();
        return b.length;
      },
      end() {
        try {
          proc.stdin.end();
        } catch {}
      },
    });
    client.proc = proc;
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of proc.stderr) client.stderr += decoder.decode(chunk);
    })();
    const splitter = createLineSplitter({ line: (text) => client.push(text) });
    void (async () => {
      for await (const chunk of proc.stdout) splitter.push(chunk);
      client.closed = true;
      client.wake();
    })();
    return client;
  }

  proc: Subprocess | undefined;

  static async connect(path: string): Promise<RawClient> {
    let client: RawClient | undefined;
    const pendingLines: string[] = [];
    const splitter = createLineSplitter({
      line(text) {
        if (client) client.push(text);
        else pendingLines.push(text);
      },
    });
    const socket = await Bun.connect({
      unix: path,
      socket: {
        data(_s, chunk) {
          splitter.push(chunk);
        },
        close() {
          if (client) {
            client.closed = true;
            client.wake();
          }
        },
        drain() {
          client?.drain();
        },
        error() {},
      },
    });
    client = new RawClient(socket);
    for (const l of pendingLines) client.push(l);
    return client;
  }

  /** Queue a line, respecting socket backpressure. */
  send(message: Json | string): void {
    const text = typeof message === "string" ? message : JSON.stringify(message);
    this.noteSent(typeof message === "string" ? text : message);
    this.out.send(new TextEncoder().encode(`${text}\n`));
  }

  /** The index the next received message will have: pass it to `next` to look from here on. */
  mark(): number {
    return this.received.length;
  }

  private drain(): void {
    this.out.drain();
  }

  request(id: unknown, method: string, params?: Json): void {
    this.send({ jsonrpc: "2.0", id, method, ...(params ? { params } : {}) } as Json);
  }

  /**
   * Wait for the first message matching `match` received from `since` on (a `mark()`; by
   * default the moment of this call: take a mark before the action when the answer may come
   * before the wait starts).
   */
  async next(match: (m: Json) => boolean, timeoutMs = 5000, since = this.received.length): Promise<Json> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find((m, i) => i >= since && match(m));
      if (found) return found;
      if (this.closed) throw new Error("connection closed while waiting");
      if (Date.now() > until) throw new Error(`timed out; received: ${JSON.stringify(this.received).slice(0, 500)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  /** Wait for the response with exactly this id value, received since that request was last sent. */
  response(id: unknown, timeoutMs?: number): Promise<Json> {
    const since = this.sentAt.get(JSON.stringify(id)) ?? 0;
    return this.next((m) => m.id === id && ("result" in m || "error" in m), timeoutMs, since);
  }

  /** Initialize (with a fresh id each time) and send initialized. */
  async handshake(capabilities: Json = {}, version = "2025-11-25"): Promise<Json> {
    const id = `init-${++handshakes}`;
    this.request(id, "initialize", {
      protocolVersion: version,
      capabilities,
      clientInfo: { name: "raw", version: "1" },
    });
    const res = await this.response(id, 15_000);
    this.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    return res;
  }

  /**
   * A ping round trip: once it is answered, everything sent before it (say the `initialized`
   * of `handshake`) has been taken in by the mux, even through a mux-proxy in between.
   */
  async settle(): Promise<void> {
    const id = `settle-${++settles}`;
    this.request(id, "ping");
    await this.response(id);
  }

  close(): void {
    this.socket.end();
  }

  /** Remember when a request went out (its answer must come after). */
  private noteSent(message: Json | string): void {
    let value: unknown = message;
    if (typeof message === "string") {
      if (message.length > 65_536) return;
      try {
        value = JSON.parse(message);
      } catch {
        return;
      }
    }
    for (const m of Array.isArray(value) ? value : [value]) {
      const r = m as Json | null;
      if (r && typeof r === "object" && "id" in r && typeof r.method === "string")
        this.sentAt.set(JSON.stringify(r.id), this.received.length);
    }
  }

  private push(text: string): void {
    this.rawLines.push(text);
    try {
      const value = JSON.parse(text) as unknown;
      if (Array.isArray(value)) this.received.push({ batch: value });
      else this.received.push(value as Json);
    } catch {
      this.received.push({ unparsable: text });
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** An official SDK client that reaches the mux through the compiled mux-proxy. */
export async function sdkClient(
  socket: string,
  options: { name?: string; capabilities?: ClientCapabilities } = {},
): Promise<Client> {
  const client = new Client(
    { name: options.name ?? "sdk-test", version: "1.0.0" },
    { capabilities: options.capabilities ?? {} },
  );
  const transport = new StdioClientTransport({ command: PROXY_BIN, args: ["--socket", socket], stderr: "pipe" });
  await client.connect(transport);
  return client;
}

/** Text of the first content item of a tool result. */
export function textOf(result: unknown): string {
  const content = (result as { content?: { text?: string }[] }).content;
  return content?.[0]?.text ?? "";
}
