/** Benchmark helpers: raw JSON-RPC connections, closed-loop load, percentiles, process-tree RSS, ports. */

import { readdirSync, readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { Socket, Subprocess } from "bun";
import { createLineSplitter } from "../../src/protocol/framing.ts";

export const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
export const BUN = process.execPath;
export const MUX = `${ROOT}/dist/mux`;
export const PROXY = `${ROOT}/dist/mux-proxy`;

/**
 * Drop executables from the page cache, so they are read from disk as after a reboot. A file
 * just written (a fresh build) sits in the cache in large folios, and each process that maps
 * it then shows ~5 MB more RSS for the same code, which would make our executables look heavier
 * than the peers installed long ago. Needs coreutils' dd (fadvise DONTNEED).
 */
export function uncache(files: string[]): void {
  Bun.spawnSync(["sync"]);
  for (const file of files) Bun.spawnSync(["dd", `if=${file}`, "iflag=nocache", "count=0", "status=none"]);
}
export const ECHO = [BUN, `${ROOT}/scripts/bench/echo-server.ts`];

type Json = Record<string, unknown>;

/** A raw JSON-RPC connection (socket or child pipes) with request/response matching. */
export class RawConn {
  private nextId = 1;
  private readonly waiting = new Map<number, (msg: Json) => void>();
  private readonly encoder = new TextEncoder();
  private readonly splitter = createLineSplitter({ line: (text) => this.onLine(text) });
  private backlog: Uint8Array[] = [];
  closed = false;

  constructor(private readonly writeBytes: (b: Uint8Array) => number) {}

  static async socket(path: string): Promise<RawConn> {
    let conn: RawConn | undefined;
    const sock = await Bun.connect({
      unix: path,
      socket: {
        data(_s, chunk) {
          conn?.feed(chunk);
        },
        drain() {
          conn?.drain();
        },
        close() {
          if (conn) conn.closed = true;
        },
        error() {},
      },
    });
    conn = new RawConn((b) => sock.write(b));
    conn.end = () => sock.end();
    return conn;
  }

  static child(proc: Pick<Subprocess<"pipe", "pipe", "inherit">, "stdin" | "stdout">): RawConn {
    const conn = new RawConn((b) => {
      proc.stdin.write(b);
      proc.stdin.flush();
      return b.length;
    });
    void (async () => {
      for await (const chunk of proc.stdout) conn.feed(chunk);
    })();
    conn.end = () => proc.stdin.end();
    return conn;
  }

  end: () => void = () => {};

  request(method: string, params?: Json): Promise<Json> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, ...(params ? { params } : {}) })}\n`);
    });
  }

  notify(method: string): void {
    this.write(`${JSON.stringify({ jsonrpc: "2.0", method })}\n`);
  }

  /** Initialize and send initialized; the initialize answer (check it for an error). */
  async handshake(): Promise<Json> {
    const answer = await this.request("initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "bench", version: "1" },
    });
    this.notify("notifications/initialized");
    return answer;
  }

  private write(text: string): void {
    this.backlog.push(this.encoder.encode(text));
    if (this.backlog.length === 1) this.drain();
  }

  private drain(): void {
    while (this.backlog.length > 0) {
      const first = this.backlog[0] as Uint8Array;
      const n = this.writeBytes(first);
      if (n < 0) return;
      if (n < first.length) {
        this.backlog[0] = first.subarray(n);
        return;
      }
      this.backlog.shift();
    }
  }

  private feed(chunk: Uint8Array): void {
    this.splitter.push(chunk);
  }

  private onLine(line: string): void {
    const msg = JSON.parse(line) as Json;
    if (typeof msg.id === "number") {
      const done = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      done?.(msg);
    }
  }
}

/** p-th percentile (0–100) of `values`, in the same unit. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Open file descriptors of a process (/proc/PID/fd), undefined when it is gone. */
export function fdCount(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

/** Run `total` calls over `workers` closed-loop workers; returns per-call latencies in ms. */
export async function closedLoop(
  workers: number,
  total: number,
  call: (worker: number, i: number) => Promise<unknown>,
): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        const t = performance.now();
        await call(w, i);
        latencies.push(performance.now() - t);
      }
    }),
  );
  return latencies;
}

/** Requests per second of `workers` loops each keeping one call in flight for `ms`. */
export async function throughput(
  workers: number,
  ms: number,
  call: (worker: number) => Promise<unknown>,
): Promise<number> {
  let done = 0;
  const until = performance.now() + ms;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (performance.now() < until) {
        await call(w);
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

/**
 * Memory of `pids` and all their descendants as the OS accounts it: RSS (every resident page,
 * shared ones counted in each process) and PSS (shared pages divided among their sharers, so
 * twenty copies of one executable are not counted twenty times), in KiB, and the process count.
 */
export function treeMem(pids: number[]): { rssKb: number; pssKb: number; processes: number } {
  let pssKb = 0;
  const all = descendants(pids);
  for (const pid of all) pssKb += pss(pid) ?? 0;
  const { rssKb, processes } = treeRss(pids);
  return { rssKb, pssKb, processes };
}

/** PSS of one process in KiB (/proc/PID/smaps_rollup). */
export function pss(pid: number): number | undefined {
  try {
    const m = /^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** `pids` and all their descendants. */
export function descendants(pids: number[]): Set<number> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {}
  }
  const seen = new Set<number>();
  const stack = [...pids];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return seen;
}

/** Resident memory (KiB) and process count of `pids` and all their descendants. */
export function treeRss(pids: number[]): { rssKb: number; processes: number } {
  let rssKb = 0;
  let processes = 0;
  for (const pid of descendants(pids)) {
    const kb = statusField(pid, "VmRSS");
    if (kb === undefined) continue;
    rssKb += kb;
    processes++;
  }
  return { rssKb, processes };
}

/** A numeric field (kB) of /proc/PID/status, e.g. VmRSS or VmHWM. */
export function statusField(pid: number, field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

/** Wait until `check` holds. */
export async function until(check: () => boolean | Promise<boolean>, ms = 30_000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/** Spawn a long-running helper process, killed by `stopAll`. */
export function spawnBg(cmd: string[], env: Record<string, string> = {}): Subprocess {
  const proc = Bun.spawn({
    cmd,
    env: { ...process.env, ...env },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
    cwd: ROOT,
  });
  running.add(proc);
  return proc;
}

/** Stop every background process (its process group too, where it has one). */
export async function stopAll(): Promise<void> {
  for (const p of running) {
    try {
      p.kill("SIGTERM");
    } catch {}
  }
  await Promise.all([...running].map((p) => Promise.race([p.exited, Bun.sleep(3000)])));
  for (const p of running) {
    try {
      p.kill("SIGKILL");
    } catch {}
  }
  running.clear();
}

/** An SDK client over stdio (e.g. running mux-proxy); its transport pid is exposed. */
export async function sdkStdio(
  command: string,
  args: string[],
  env?: Record<string, string>,
  cwd: string = ROOT,
): Promise<{ client: Client; pid: number | null }> {
  const client = new Client({ name: "bench", version: "1" }, { capabilities: {} });
  const transport = new StdioClientTransport({
    command,
    args,
    env: env ? { ...(process.env as Record<string, string>), ...env } : undefined,
    cwd,
    stderr: "ignore",
  });
  await client.connect(transport);
  return { client, pid: transport.pid };
}

/** An SDK client straight on a mux socket (what a host with a Unix-socket transport would do). */
export async function sdkUnix(socket: string): Promise<Client> {
  const client = new Client({ name: "bench", version: "1" }, { capabilities: {} });
  await client.connect(new UnixTransport(socket));
  return client;
}

/** The SDK's Transport over a Unix socket: one JSON message per line. */
class UnixTransport implements Transport {
  onmessage?: (message: JSONRPCMessage) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  private socket: Socket | undefined;
  private readonly splitter = createLineSplitter({
    line: (text) => this.onmessage?.(JSON.parse(text) as JSONRPCMessage),
  });
  private backlog: Uint8Array[] = [];

  constructor(private readonly path: string) {}

  async start(): Promise<void> {
    this.socket = await Bun.connect({
      unix: this.path,
      socket: {
        data: (_s, chunk) => this.splitter.push(chunk),
        drain: () => this.drain(),
        close: () => this.onclose?.(),
        error: (_s, error) => this.onerror?.(error),
      },
    });
  }

  async send(message: JSONRPCMessage): Promise<void> {
    this.backlog.push(new TextEncoder().encode(`${JSON.stringify(message)}\n`));
    if (this.backlog.length === 1) this.drain();
  }

  async close(): Promise<void> {
    this.socket?.end();
  }

  private drain(): void {
    while (this.backlog.length > 0 && this.socket) {
      const first = this.backlog[0] as Uint8Array;
      const n = this.socket.write(first);
      if (n < first.length) {
        this.backlog[0] = first.subarray(Math.max(0, n));
        return;
      }
      this.backlog.shift();
    }
  }
}

/** `socat`, installed with apt-get when missing and allowed (root); undefined with the reason printed. */
export function socat(): string | undefined {
  const found = Bun.which("socat");
  if (found) return found;
  if (process.getuid?.() === 0 && Bun.which("apt-get")) {
    const install = () =>
      Bun.spawnSync(["apt-get", "install", "-y", "--no-install-recommends", "socat"], {
        env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
        stdout: "ignore",
        stderr: "ignore",
      }).exitCode;
    if (install() !== 0) {
      Bun.spawnSync(["apt-get", "update"], { stdout: "ignore", stderr: "ignore" });
      install();
    }
  }
  return Bun.which("socat") ?? undefined;
}

/** An SDK client over Streamable HTTP. */
export async function sdkHttp(url: string): Promise<Client> {
  const client = new Client({ name: "bench", version: "1" }, { capabilities: {} });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

/** Wait until an HTTP endpoint accepts connections. */
export async function httpReady(port: number): Promise<void> {
  await until(
    async () => {
      try {
        await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(500) });
        return true;
      } catch {
        return false;
      }
    },
    30_000,
    `port ${port}`,
  );
}

const running = new Set<Subprocess>();
