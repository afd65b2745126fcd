/**
 * The paths the benchmark measures side by side: one child (an SDK server, server-memory, or
 * the raw Bun echo floor) reached directly, through the mux (socket, mux-proxy, HTTP front),
 * through the floors (an ideal forwarder, socat, a bare Bun bridge) or through the npm peers
 * (mcp-proxy, supergateway). Each path starts fresh: its processes, then its clients; every
 * answer is checked (an error, or an answer that is not the expected one, is counted).
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  BUN,
  descendants,
  ECHO,
  freePort,
  httpReady,
  MUX,
  PROXY,
  RawConn,
  ROOT,
  sdkHttp,
  sdkStdio,
  sdkUnix,
  spawnBg,
  until,
} from "./util.ts";

/** Wrong answers seen: an error (thrown, `isError` or a JSON-RPC error), or not the expected answer. */
export const checks = { errors: 0, mismatches: 0 };

/** Which server the path leads to. */
export type ChildKind = "sdk" | "memory" | "raw";
/** What a path is in the report: a floor, the mux, a peer, or the mux of the "before" commit. */
export type PathKind = "direct" | "floor" | "mux" | "peer" | "before";

/** One call through one client of a path. */
export type Caller = (w: number, i: number) => Promise<void>;

/** A path, started: one caller per client, the process groups whose CPU is counted, and its end. */
export interface Running {
  callers: Caller[];
  groups: Record<string, () => Iterable<number>>;
  close(): Promise<void>;
}

/** A path of the benchmark. */
export interface PathSpec {
  id: string;
  label: string;
  child: ChildKind;
  kind: PathKind;
  /** Start it with `n` clients. */
  start(n: number): Promise<Running>;
}

/** Where the paths keep their sockets and files, and the optional "before" build. */
export interface PathContext {
  dir: string;
  socat?: string;
  /** dist/mux and dist/mux-proxy of the "before" commit, when built. */
  before?: { commit: string; mux: string; proxy: string };
}

export const MCP_PROXY = join(ROOT, "node_modules/.bin/mcp-proxy");
export const SUPERGATEWAY = join(ROOT, "node_modules/.bin/supergateway");
export const MEMORY = join(ROOT, "node_modules/.bin/mcp-server-memory");
export const SDK_ECHO = ["node", join(ROOT, "scripts/bench/sdk-echo-server.mjs")];

/** The settings each peer runs with (stated in the report). */
export const PEER_SETTINGS = {
  mux: "`mux serve --max-active-clients 64 --log-level error` (the other settings at their defaults); the HTTP front on 127.0.0.1, no token (loopback)",
  "mcp-proxy":
    "`mcp-proxy --server stream --host 127.0.0.1` (6.7.19, its defaults: stateful sessions, answers streamed as SSE, the resumability event store on with 1,000 events per session, one shared child)",
  supergateway:
    "`supergateway --stdio CMD --outputTransport streamableHttp --stateful --logLevel none` (4.0.0: one child per session in stateful mode)",
  forwarder: "`scripts/bench/forwarder.ts`: one shared child, each line parsed, its id swapped and re-serialized",
  socat: "`socat STDIO UNIX-CONNECT:SOCKET` per client",
  bridge: "`bun scripts/bench/bun-bridge.ts SOCKET` per client: stdin → socket → stdout, nothing else",
} as const;

/** The command and environment of each child. */
export function childCommand(kind: ChildKind): string[] {
  return kind === "sdk" ? SDK_ECHO : kind === "memory" ? [MEMORY] : ECHO;
}

export const CHILD_LABELS: Record<ChildKind, string> = {
  sdk: "SDK server (McpServer, echo tool, node)",
  memory: "server-memory (read_graph, node)",
  raw: "raw Bun echo child (floor: answers a whole input chunk in one write)",
};

/** The paths of the side-by-side section, in their interleaving order. */
export function paths(ctx: PathContext): PathSpec[] {
  const list: PathSpec[] = [];
  const add = (child: ChildKind, kind: PathKind, id: string, label: string, start: PathSpec["start"]): void => {
    list.push({ id: `${child}:${id}`, label, child, kind, start });
  };
  for (const child of ["sdk", "memory"] as const) {
    add(child, "direct", "direct", "1 SDK client on the child's stdio (all calls share it)", (n) =>
      directSdk(ctx, child, n),
    );
    if (child === "sdk") {
      add(child, "floor", "forwarder", "SDK clients on the ideal forwarder's socket", (n) =>
        viaForwarder(ctx, child, n),
      );
      add(child, "mux", "socket", "SDK clients on the mux socket", (n) => viaMuxSocket(ctx, child, n));
      if (ctx.socat)
        add(child, "floor", "socat", "SDK clients → socat → mux", (n) =>
          viaBridge(ctx, child, n, ctx.socat as string, (s) => ["STDIO", `UNIX-CONNECT:${s}`]),
        );
      add(child, "floor", "bridge", "SDK clients → bare Bun bridge → mux", (n) =>
        viaBridge(ctx, child, n, BUN, (s) => [join(ROOT, "scripts/bench/bun-bridge.ts"), s]),
      );
    }
    add(child, "mux", "proxy", "SDK clients → mux-proxy → mux", (n) =>
      viaBridge(ctx, child, n, PROXY, (s) => ["--socket", s]),
    );
    if (child === "sdk" && ctx.before) {
      const b = ctx.before;
      add(child, "before", "proxy-before", `SDK clients → mux-proxy → mux, before (\`${b.commit}\`)`, (n) =>
        viaBridge(ctx, child, n, b.proxy, (s) => ["--socket", s], b.mux),
      );
    }
    add(child, "mux", "http", "SDK clients → mux HTTP front", (n) => viaHttp(ctx, child, n, "mux"));
    if (child === "sdk") {
      // The two eras through the same front and child: raw fetch clients, one call in flight each.
      add(child, "mux", "http-legacy", "raw HTTP clients, a 2025-11-25 session each → mux HTTP front", (n) =>
        viaHttpEra(ctx, n, "legacy"),
      );
      add(child, "mux", "http-modern", "raw HTTP clients, stateless 2026-07-28 requests → mux HTTP front", (n) =>
        viaHttpEra(ctx, n, "modern"),
      );
    }
    add(child, "peer", "mcp-proxy", "SDK clients → mcp-proxy (Streamable HTTP)", (n) =>
      viaHttp(ctx, child, n, "mcp-proxy"),
    );
    add(child, "peer", "supergateway", "SDK clients → supergateway (Streamable HTTP)", (n) =>
      viaHttp(ctx, child, n, "supergateway"),
    );
  }
  // The floor rows: the raw child answers a whole chunk in one write, which flatters batching.
  add("raw", "direct", "raw-direct", "raw JSON-RPC: 1 connection on the child's pipes (all calls share it)", (n) =>
    rawDirect(n),
  );
  add("raw", "floor", "raw-forwarder", "raw JSON-RPC connections, 1 call in flight each → ideal forwarder", (n) =>
    rawSocket(ctx, n, "forwarder"),
  );
  add("raw", "mux", "raw-mux", "raw JSON-RPC connections, 1 call in flight each → mux", (n) =>
    rawSocket(ctx, n, "mux"),
  );
  // The record's cost: the row above records (the default, payloads off); these turn it off,
  // and turn payload capture on.
  add(
    "raw",
    "mux",
    "raw-mux-record-off",
    "raw JSON-RPC connections, 1 call in flight each → mux, record off (`--record-max-entries 0`)",
    (n) => rawSocket(ctx, n, "mux", RECORD_OFF),
  );
  add(
    "raw",
    "mux",
    "raw-mux-payloads",
    "raw JSON-RPC connections, 1 call in flight each → mux, payload capture on (`--record-payloads`)",
    (n) => rawSocket(ctx, n, "mux", RECORD_PAYLOADS),
  );
  add("raw", "mux", "proxy", "SDK clients → mux-proxy → mux", (n) =>
    viaBridge(ctx, "raw", n, PROXY, (s) => ["--socket", s]),
  );
  add("raw", "peer", "mcp-proxy", "SDK clients → mcp-proxy (Streamable HTTP)", (n) =>
    viaHttp(ctx, "raw", n, "mcp-proxy"),
  );
  return list;
}

// ---- the processes ----

let seq = 0;

/** A mux daemon serving `cmd` (with an HTTP front when asked), from `bin` (default dist/mux). */
export async function startMux(
  ctx: PathContext,
  name: string,
  cmd: string[],
  options: { http?: boolean; extra?: string[]; bin?: string[] } = {},
): Promise<{ socket: string; pid: number; httpUrl?: string }> {
  const tag = `${name}-${++seq}`;
  const socket = join(ctx.dir, `${tag}.sock`);
  const port = options.http ? freePort() : undefined;
  const proc = spawnBg(
    [
      ...(options.bin ?? [MUX]),
      "serve",
      "--socket",
      socket,
      "--cmd",
      cmd[0] as string,
      "--max-active-clients",
      "64",
      "--log-level",
      "error",
      // No token, like the peers it is measured beside (the before build predates the flag).
      ...(port ? ["--http", `127.0.0.1:${port}`, ...(options.bin ? [] : ["--http-no-auth"])] : []),
      ...(options.extra ?? []),
      "--",
      ...cmd.slice(1),
    ],
    { MEMORY_FILE_PATH: join(ctx.dir, `${tag}.jsonl`), MUX_RUNTIME_DIR: join(ctx.dir, "run") },
  );
  await until(() => existsSync(socket), 30_000, `${name} socket`);
  if (port) await httpReady(port);
  return { socket, pid: proc.pid, httpUrl: port ? `http://127.0.0.1:${port}/mcp` : undefined };
}

/** mcp-proxy or supergateway serving `cmd` over Streamable HTTP. */
export async function startPeer(
  ctx: PathContext,
  peer: "mcp-proxy" | "supergateway",
  cmd: string[],
): Promise<{ url: string; pid: number }> {
  const port = freePort();
  const args =
    peer === "mcp-proxy"
      ? [MCP_PROXY, "--port", String(port), "--host", "127.0.0.1", "--server", "stream", "--", ...cmd]
      : [
          SUPERGATEWAY,
          "--stdio",
          cmd.join(" "),
          "--outputTransport",
          "streamableHttp",
          "--stateful",
          "--port",
          String(port),
          "--logLevel",
          "none",
        ];
  const proc = spawnBg(["node", ...args], { MEMORY_FILE_PATH: join(ctx.dir, `${peer}-${++seq}.jsonl`) });
  await httpReady(port);
  return { url: `http://127.0.0.1:${port}/mcp`, pid: proc.pid };
}

/** The ideal forwarder in front of `cmd`; its pid. */
export async function startForwarder(ctx: PathContext, cmd: string[]): Promise<{ socket: string; pid: number }> {
  const socket = join(ctx.dir, `fwd-${++seq}.sock`);
  const proc = spawnBg([BUN, join(ROOT, "scripts/bench/forwarder.ts"), socket, "--", ...cmd], {
    MEMORY_FILE_PATH: join(ctx.dir, `fwd-${seq}.jsonl`),
  });
  await until(() => existsSync(socket), 30_000, "forwarder");
  return { socket, pid: proc.pid };
}

// ---- checked calls ----

/** A checked call of the child's tool through an SDK client. */
export function sdkCaller(child: ChildKind, client: () => Client): Caller {
  return async (w, i) => {
    const args = child === "memory" ? {} : { w, i };
    try {
      const r = (await client().callTool({ name: child === "memory" ? "read_graph" : "echo", arguments: args })) as {
        content?: { text?: string }[];
        isError?: boolean;
      };
      const text = r.content?.[0]?.text;
      if (r.isError) checks.errors++;
      else if (child === "memory" ? !isGraph(text) : text !== JSON.stringify(args)) checks.mismatches++;
    } catch {
      checks.errors++;
    }
  };
}

/** A checked echo call through a raw connection. */
export function rawCaller(conn: () => RawConn): Caller {
  return async (w, i) => {
    const args = { w, i };
    const r = await conn().request("tools/call", { name: "echo", arguments: args });
    if (r.error) checks.errors++;
    else if ((r.result as { content: { text: string }[] }).content[0]?.text !== JSON.stringify(args))
      checks.mismatches++;
  };
}

/** A raw handshake whose answer is checked. */
export async function checkedHandshake(conn: RawConn): Promise<void> {
  const r = await conn.handshake();
  if (r.error || !r.result) checks.errors++;
}

function isGraph(text: string | undefined): boolean {
  try {
    return Array.isArray((JSON.parse(text ?? "") as { entities?: unknown }).entities);
  } catch {
    return false;
  }
}

// ---- the paths ----

const kids = (pid: number) => () => [...descendants([pid])].filter((p) => p !== pid);
const self = () => [process.pid];

async function directSdk(ctx: PathContext, child: ChildKind, _n: number): Promise<Running> {
  const [cmd, ...args] = childCommand(child);
  const c = await sdkStdio(cmd as string, args, { MEMORY_FILE_PATH: join(ctx.dir, `direct-${++seq}.jsonl`) });
  return {
    callers: [sdkCaller(child, () => c.client)],
    groups: { child: () => [c.pid as number], bench: self },
    close: () => c.client.close(),
  };
}

async function viaForwarder(ctx: PathContext, child: ChildKind, n: number): Promise<Running> {
  const fwd = await startForwarder(ctx, childCommand(child));
  const clients = await Promise.all(Array.from({ length: n }, () => sdkUnix(fwd.socket)));
  return {
    callers: clients.map((c) => sdkCaller(child, () => c)),
    groups: { daemon: () => [fwd.pid], child: kids(fwd.pid), bench: self },
    close: async () => {
      for (const c of clients) await c.close();
    },
  };
}

async function viaMuxSocket(ctx: PathContext, child: ChildKind, n: number): Promise<Running> {
  const mux = await startMux(ctx, "socket", childCommand(child));
  const clients = await Promise.all(Array.from({ length: n }, () => sdkUnix(mux.socket)));
  return {
    callers: clients.map((c) => sdkCaller(child, () => c)),
    groups: { daemon: () => [mux.pid], child: kids(mux.pid), bench: self },
    close: async () => {
      for (const c of clients) await c.close();
    },
  };
}

/** Each client runs its own `cmd args(socket)` (mux-proxy, socat, a bridge) to a mux from `muxBin`. */
async function viaBridge(
  ctx: PathContext,
  child: ChildKind,
  n: number,
  cmd: string,
  args: (socket: string) => string[],
  muxBin = MUX,
): Promise<Running> {
  const mux = await startMux(ctx, "bridged", childCommand(child), { bin: [muxBin] });
  const clients = await Promise.all(Array.from({ length: n }, () => sdkStdio(cmd, args(mux.socket))));
  return {
    callers: clients.map((c) => sdkCaller(child, () => c.client)),
    groups: {
      proxies: () => clients.map((c) => c.pid as number),
      daemon: () => [mux.pid],
      child: kids(mux.pid),
      bench: self,
    },
    close: async () => {
      for (const c of clients) await c.client.close();
    },
  };
}

async function viaHttp(
  ctx: PathContext,
  child: ChildKind,
  n: number,
  server: "mux" | "mcp-proxy" | "supergateway",
): Promise<Running> {
  const peer =
    server === "mux"
      ? await startMux(ctx, "http", childCommand(child), { http: true }).then((m) => ({
          url: m.httpUrl as string,
          pid: m.pid,
        }))
      : await startPeer(ctx, server, childCommand(child));
  const clients: Client[] = [];
  // Opened a few at a time: supergateway starts a child per session.
  for (let i = 0; i < n; i += 8)
    clients.push(...(await Promise.all(Array.from({ length: Math.min(8, n - i) }, () => sdkHttp(peer.url)))));
  return {
    callers: clients.map((c) => sdkCaller(child, () => c)),
    groups: { daemon: () => [peer.pid], child: kids(peer.pid), bench: self },
    close: async () => {
      for (const c of clients) await c.close().catch(() => {});
    },
  };
}

/**
 * `n` fetch clients of the mux HTTP front calling the SDK child's echo tool: `legacy` ones
 * each open a 2025-11-25 session (initialize, initialized) and send their calls in it;
 * `modern` ones send stateless 2026-07-28 requests (the headers and `_meta` envelope each
 * request carries). Both ask for JSON answers, so the two differ only in the era.
 */
async function viaHttpEra(ctx: PathContext, n: number, era: "legacy" | "modern"): Promise<Running> {
  const mux = await startMux(ctx, `http-${era}`, childCommand("sdk"), { http: true });
  const url = mux.httpUrl as string;
  const base = { "content-type": "application/json", accept: "application/json, text/event-stream" };
  const sessions: Record<string, string>[] = [];
  for (let w = 0; w < n; w++) {
    if (era === "modern") {
      sessions.push({ ...base, "mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": "echo" });
      continue;
    }
    const init = await fetch(url, {
      method: "POST",
      headers: base,
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: `bench-${w}`, version: "1" } },
      }),
    });
    await init.text();
    const id = init.headers.get("mcp-session-id") ?? "";
    if (!id) checks.errors++;
    const headers = { ...base, "mcp-session-id": id, "mcp-protocol-version": "2025-11-25" };
    await (
      await fetch(url, { method: "POST", headers, body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' })
    ).text();
    sessions.push(headers);
  }
  const meta = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": { name: "bench", version: "1" },
  };
  let next = 1;
  const caller: Caller = async (w, i) => {
    const args = { w, i };
    const params =
      era === "modern" ? { name: "echo", arguments: args, _meta: meta } : { name: "echo", arguments: args };
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: sessions[w % sessions.length] as Record<string, string>,
        body: JSON.stringify({ jsonrpc: "2.0", id: next++, method: "tools/call", params }),
      });
      const body = await res.text();
      // A streamed answer (slower than the JSON window) is the event that carries it: a legacy
      // stream opens with a priming event whose data is empty.
      const data = body.startsWith("{")
        ? body
        : (body
            .split("\n")
            .filter((l) => l.startsWith("data: ") && l.length > 6)
            .map((l) => l.slice(6))
            .find((l) => l.includes('"result"') || l.includes('"error"')) ?? "{}");
      const msg = JSON.parse(data) as { result?: { content?: { text?: string }[] } };
      if (!msg.result) checks.errors++;
      else if (msg.result.content?.[0]?.text !== JSON.stringify(args)) checks.mismatches++;
    } catch {
      checks.errors++;
    }
  };
  return {
    callers: Array.from({ length: n }, () => caller),
    groups: { daemon: () => [mux.pid], child: kids(mux.pid), bench: self },
    close: async () => {},
  };
}

const MODERN = "2026-07-28";

async function rawDirect(_n: number): Promise<Running> {
  const echo = Bun.spawn({ cmd: ECHO, stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const conn = RawConn.child(echo);
  await checkedHandshake(conn);
  return {
    callers: [rawCaller(() => conn)],
    groups: { child: () => [echo.pid], bench: self },
    close: async () => {
      conn.end();
      await echo.exited;
    },
  };
}

/** `mux serve` flags of the record rows (see {@link paths}). */
export const RECORD_OFF = ["--record-max-entries", "0"];
export const RECORD_PAYLOADS = ["--record-payloads"];

async function rawSocket(ctx: PathContext, n: number, to: "forwarder" | "mux", extra?: string[]): Promise<Running> {
  const server = to === "mux" ? await startMux(ctx, "raw", ECHO, { extra }) : await startForwarder(ctx, ECHO);
  const conns = await Promise.all(Array.from({ length: n }, () => RawConn.socket(server.socket)));
  await Promise.all(conns.map((c) => checkedHandshake(c)));
  return {
    callers: conns.map((c) => rawCaller(() => c)),
    groups: { daemon: () => [server.pid], child: kids(server.pid), bench: self },
    close: async () => {
      for (const c of conns) c.end();
    },
  };
}
