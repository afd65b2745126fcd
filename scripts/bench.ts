/**
 * The benchmark suite: latency, throughput, memory, startup, scale and large messages, side by
 * side with a direct pipe, an ideal forwarder and the npm peers mcp-proxy and supergateway, in
 * one run. Writes docs/benchmarks.md (and a .json twin).
 * Usage: bun run bench [--quick] [--out FILE]
 */

import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import {
  BUN,
  closedLoop,
  ECHO,
  freePort,
  httpReady,
  MUX,
  PROXY,
  percentile,
  RawConn,
  ROOT,
  sdkHttp,
  sdkStdio,
  spawnBg,
  statusField,
  stopAll,
  throughput,
  treeRss,
  until,
} from "./bench/util.ts";

const quick = process.argv.includes("--quick");
const outIndex = process.argv.indexOf("--out");
const outPath = outIndex > 0 ? (process.argv[outIndex + 1] as string) : join(ROOT, "docs/benchmarks.md");
const P = quick
  ? {
      conc: [1, 8],
      calls: 150,
      warm: 20,
      tputMs: 400,
      tputClients: 8,
      depth: 2,
      sessions: [1, 2],
      target20: 2,
      idle: 20,
      scale: 50,
      cycles: 200,
      large: [1],
      startup: 3,
      memCalls: 50,
    }
  : {
      conc: [1, 8, 64],
      calls: 2000,
      warm: 200,
      tputMs: 3000,
      tputClients: 64,
      depth: 4,
      sessions: [1, 5, 20, 50],
      target20: 20,
      idle: 100,
      scale: 1000,
      cycles: 10_000,
      large: [1, 10, 50],
      startup: 20,
      memCalls: 500,
    };
const dir = mkdtempSync(join(tmpdir(), "muxb-"));
const MCP_PROXY = join(ROOT, "node_modules/.bin/mcp-proxy");
const SUPERGATEWAY = join(ROOT, "node_modules/.bin/supergateway");
const log = (m: string): void => {
  process.stderr.write(`[bench] ${m}\n`);
};

type Row = { target: string; c: number; p50: number; p99: number };
const report: Record<string, unknown> = { quick, date: new Date().toISOString() };

// ---- helpers that start the systems under test ----

async function startMux(name: string, cmd: string[], extra: string[] = []): Promise<{ socket: string; pid: number }> {
  const socket = join(dir, `${name}.sock`);
  const proc = spawnBg(
    [
      MUX,
      "serve",
      "--socket",
      socket,
      "--cmd",
      cmd[0] as string,
      "--max-active-clients",
      "64",
      "--log-level",
      "error",
      ...extra,
      "--",
      ...cmd.slice(1),
    ],
    {
      MEMORY_FILE_PATH: join(dir, `${name}.jsonl`),
    },
  );
  await until(() => existsSync(socket), 30_000, `${name} socket`);
  return { socket, pid: proc.pid };
}

async function startMcpProxy(cmd: string[]): Promise<{ url: string; pid: number }> {
  const port = freePort();
  const proc = spawnBg(
    ["node", MCP_PROXY, "--port", String(port), "--host", "127.0.0.1", "--server", "stream", "--", ...cmd],
    {
      MEMORY_FILE_PATH: join(dir, `mcp-proxy-${port}.jsonl`),
    },
  );
  await httpReady(port);
  return { url: `http://127.0.0.1:${port}/mcp`, pid: proc.pid };
}

async function startSupergateway(cmd: string[]): Promise<{ url: string; pid: number }> {
  const port = freePort();
  const proc = spawnBg(
    [
      "node",
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
    ],
    { MEMORY_FILE_PATH: join(dir, `sg-${port}.jsonl`) },
  );
  await httpReady(port);
  return { url: `http://127.0.0.1:${port}/mcp`, pid: proc.pid };
}

const echoCall = (c: Client, i: number) => c.callTool({ name: "echo", arguments: { i } });
const stats = (target: string, c: number, lat: number[]): Row => ({
  target,
  c,
  p50: percentile(lat, 50),
  p99: percentile(lat, 99),
});

// ---- sections ----

async function latencyAndThroughput(): Promise<void> {
  log("latency and throughput (echo child)");
  const maxC = Math.max(...P.conc, P.tputClients);
  const echo = Bun.spawn({ cmd: ECHO, stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const direct = RawConn.child(echo);
  await direct.handshake();
  const fsock = join(dir, "fwd.sock");
  spawnBg([BUN, join(ROOT, "scripts/bench/forwarder.ts"), fsock, "--", ...ECHO]);
  await until(() => existsSync(fsock), 30_000, "forwarder");
  const fwd = await RawConn.socket(fsock);
  await fwd.handshake();
  const mux = await startMux("echo", ECHO);
  const muxConns = await Promise.all(Array.from({ length: maxC }, () => RawConn.socket(mux.socket)));
  await Promise.all(muxConns.map((c) => c.handshake()));
  const sdkCount = Math.max(...P.conc);
  const viaProxy = await Promise.all(Array.from({ length: sdkCount }, () => sdkStdio(PROXY, ["--socket", mux.socket])));
  const mp = await startMcpProxy(ECHO);
  const viaMcpProxy = await Promise.all(Array.from({ length: maxC }, () => sdkHttp(mp.url)));
  const sg = await startSupergateway(ECHO);
  const viaSg = await Promise.all(Array.from({ length: maxC }, () => sdkHttp(sg.url)));

  const targets: [string, (w: number, i: number) => Promise<unknown>][] = [
    ["echo child, direct pipe", (_w, i) => direct.request("tools/call", { name: "echo", arguments: { i } })],
    ["ideal forwarder (1 socket hop)", (_w, i) => fwd.request("tools/call", { name: "echo", arguments: { i } })],
    [
      "mux, raw socket client",
      (w, i) => (muxConns[w] as RawConn).request("tools/call", { name: "echo", arguments: { i } }),
    ],
    ["SDK client → mux-proxy → mux", (w, i) => echoCall((viaProxy[w] as { client: Client }).client, i)],
    ["SDK client → mcp-proxy (HTTP)", (w, i) => echoCall(viaMcpProxy[w] as Client, i)],
    ["SDK client → supergateway (HTTP)", (w, i) => echoCall(viaSg[w] as Client, i)],
  ];
  const rows: Row[] = [];
  for (const c of P.conc) {
    for (const [name, call] of targets) {
      await closedLoop(c, P.warm, call);
      rows.push(stats(name, c, await closedLoop(c, P.calls, call)));
      log(`  ${name} c=${c}: p50 ${rows.at(-1)?.p50.toFixed(3)} ms`);
    }
  }
  report.latency = rows;

  log("throughput");
  const depth = P.depth;
  const workers = P.tputClients * depth;
  const tput: Record<string, number> = {};
  tput["echo child, direct pipe (1 client)"] = await throughput(workers, P.tputMs, () =>
    direct.request("tools/call", { name: "echo", arguments: {} }),
  );
  tput["mux, raw socket clients"] = await throughput(workers, P.tputMs, (w) =>
    (muxConns[Math.floor(w / depth)] as RawConn).request("tools/call", { name: "echo", arguments: {} }),
  );
  tput["mcp-proxy (SDK HTTP clients)"] = await throughput(workers, P.tputMs, (w) =>
    echoCall(viaMcpProxy[Math.floor(w / depth)] as Client, w),
  );
  tput["supergateway (SDK HTTP clients)"] = await throughput(workers, P.tputMs, (w) =>
    echoCall(viaSg[Math.floor(w / depth)] as Client, w),
  );
  report.throughput = { clients: P.tputClients, depth, results: tput };
  for (const [k, v] of Object.entries(tput)) log(`  ${k}: ${v.toFixed(0)} req/s`);

  log("tools/call on server-memory");
  const memDirect = await sdkStdio(join(ROOT, "node_modules/.bin/mcp-server-memory"), [], {
    MEMORY_FILE_PATH: join(dir, "direct.jsonl"),
  });
  const memMux = await startMux("memory-lat", [join(ROOT, "node_modules/.bin/mcp-server-memory")]);
  const memViaProxy = await Promise.all(Array.from({ length: 8 }, () => sdkStdio(PROXY, ["--socket", memMux.socket])));
  const memRows: Row[] = [];
  for (const c of [1, 8]) {
    const d = await closedLoop(c, P.memCalls, () => memDirect.client.callTool({ name: "read_graph", arguments: {} }));
    memRows.push(stats("server-memory, SDK stdio direct", c, d));
    const m = await closedLoop(c, P.memCalls, (w) =>
      (memViaProxy[w] as { client: Client }).client.callTool({ name: "read_graph", arguments: {} }),
    );
    memRows.push(stats("server-memory, SDK → mux-proxy → mux", c, m));
  }
  report.memoryToolLatency = memRows;
  for (const c of [...viaProxy, ...memViaProxy, memDirect]) await c.client.close();
  for (const c of [...viaMcpProxy, ...viaSg]) await c.close().catch(() => {});
  for (const c of muxConns) c.end();
  fwd.end();
  direct.end();
  await stopAll();
}

async function memory(): Promise<void> {
  log("memory and processes (server-memory sessions)");
  const npx = ["npx", "-y", "@modelcontextprotocol/server-memory"];
  const rows: { sessions: number; setup: string; rssMb: number; processes: number }[] = [];
  const mb = (kb: number): number => Math.round(kb / 102.4) / 10;
  let idleProxyMb = 0;
  for (const n of P.sessions) {
    const direct = [];
    for (let i = 0; i < n; i++)
      direct.push(await sdkStdio("npx", npx.slice(1), { MEMORY_FILE_PATH: join(dir, `m${i}.jsonl`) }));
    await Promise.all(direct.map((d) => d.client.listTools()));
    await Bun.sleep(300);
    const a = treeRss(direct.map((d) => d.pid as number));
    rows.push({
      sessions: n,
      setup: "one server per session via npx (hosts today)",
      rssMb: mb(a.rssKb),
      processes: a.processes,
    });
    for (const d of direct) await d.client.close();

    const mux = await startMux(`mem${n}`, npx);
    const proxies = [];
    for (let i = 0; i < n; i++) proxies.push(await sdkStdio(PROXY, ["--socket", mux.socket]));
    await Promise.all(proxies.map((d) => d.client.listTools()));
    await Bun.sleep(300);
    const b = treeRss([mux.pid, ...proxies.map((p) => p.pid as number)]);
    rows.push({
      sessions: n,
      setup: "mcp-mux: one mux + N mux-proxy + one server",
      rssMb: mb(b.rssKb),
      processes: b.processes,
    });
    idleProxyMb = mb(statusField(proxies[0]?.pid as number, "VmRSS") ?? 0);
    for (const p of proxies) await p.client.close();
    await stopAll();

    for (const [label, start] of [
      ["mcp-proxy (Streamable HTTP)", startMcpProxy],
      ["supergateway (Streamable HTTP, stateful)", startSupergateway],
    ] as const) {
      const peer = await start(npx);
      const clients = [];
      for (let i = 0; i < n; i++) clients.push(await sdkHttp(peer.url));
      await Promise.all(clients.map((c) => c.listTools()));
      await Bun.sleep(300);
      const c = treeRss([peer.pid]);
      rows.push({ sessions: n, setup: label, rssMb: mb(c.rssKb), processes: c.processes });
      for (const cl of clients) await cl.close().catch(() => {});
      await stopAll();
    }
    log(`  ${n} sessions done`);
  }
  report.memory = rows;

  const mux = await startMux("idle", ECHO);
  const before = statusField(mux.pid, "VmRSS") ?? 0;
  const conns = await Promise.all(Array.from({ length: P.idle }, () => RawConn.socket(mux.socket)));
  await Promise.all(conns.map((c) => c.handshake()));
  await Bun.sleep(500);
  report.idle = {
    proxyMb: idleProxyMb,
    daemonNoClientsMb: mb(before),
    daemonIdleClients: P.idle,
    daemonIdleMb: mb(statusField(mux.pid, "VmRSS") ?? 0),
  };
  for (const c of conns) c.end();
  await stopAll();
}

async function startup(): Promise<void> {
  log("startup");
  const mux = await startMux("startup", [join(ROOT, "node_modules/.bin/mcp-server-memory")]);
  const warm = await RawConn.socket(mux.socket);
  await warm.handshake();
  const init: number[] = [];
  const list: number[] = [];
  for (let i = 0; i < P.startup; i++) {
    const t0 = performance.now();
    const proc = Bun.spawn({ cmd: [PROXY, "--socket", mux.socket], stdin: "pipe", stdout: "pipe", stderr: "inherit" });
    const conn = RawConn.child(proc);
    await conn.request("initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "s", version: "1" },
    });
    init.push(performance.now() - t0);
    conn.notify("notifications/initialized");
    await conn.request("tools/list");
    list.push(performance.now() - t0);
    conn.end();
    await proc.exited;
  }
  report.startup = {
    runs: P.startup,
    initP50: percentile(init, 50),
    initP90: percentile(init, 90),
    listP50: percentile(list, 50),
    listP90: percentile(list, 90),
  };
  warm.end();
  await stopAll();
}

async function scale(): Promise<void> {
  log(`scale: ${P.scale} clients × 10 calls`);
  const mux = await startMux("scale", ECHO);
  let errors = 0;
  let mismatches = 0;
  const conns = await Promise.all(Array.from({ length: P.scale }, () => RawConn.socket(mux.socket)));
  await Promise.all(conns.map((c) => c.handshake()));
  const t0 = performance.now();
  await Promise.all(
    conns.map(async (c, ci) => {
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const r = await c.request("tools/call", { name: "echo", arguments: { ci, i } });
          if (r.error) errors++;
          else if (((r.result as { content: { text: string }[] }).content[0]?.text ?? "") !== JSON.stringify({ ci, i }))
            mismatches++;
        }),
      );
    }),
  );
  const scaleMs = performance.now() - t0;
  for (const c of conns) c.end();
  await Bun.sleep(300);

  log(`leaks: ${P.cycles} connect/call/disconnect cycles`);
  const cycle = async (): Promise<void> => {
    const c = await RawConn.socket(mux.socket);
    await c.handshake();
    const r = await c.request("tools/call", { name: "echo", arguments: { x: 1 } });
    if (r.error) errors++;
    c.end();
  };
  const runCycles = async (n: number): Promise<void> => {
    let left = n;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (left-- > 0) await cycle();
      }),
    );
  };
  await runCycles(Math.min(200, P.cycles));
  await Bun.sleep(500);
  const rssBefore = statusField(mux.pid, "VmRSS") ?? 0;
  const c0 = performance.now();
  await runCycles(P.cycles);
  const cyclesMs = performance.now() - c0;
  await Bun.sleep(1000);
  const rssAfter = statusField(mux.pid, "VmRSS") ?? 0;
  report.scale = {
    clients: P.scale,
    callsPerClient: 10,
    errors,
    mismatches,
    scaleMs,
    cycles: P.cycles,
    cyclesMs,
    rssBeforeMb: rssBefore / 1024,
    rssAfterMb: rssAfter / 1024,
    growthMb: (rssAfter - rssBefore) / 1024,
  };
  await stopAll();
}

async function large(): Promise<void> {
  log("large messages");
  const mux = await startMux("large", ECHO);
  const c = await RawConn.socket(mux.socket);
  await c.handshake();
  const echo = Bun.spawn({ cmd: ECHO, stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const direct = RawConn.child(echo);
  await direct.handshake();
  const rows = [];
  for (const mib of P.large) {
    const bytes = mib * 1024 * 1024;
    const t0 = performance.now();
    await direct.request("tools/call", { name: "big", arguments: { bytes } });
    const directMs = performance.now() - t0;
    const t1 = performance.now();
    const r = await c.request("tools/call", { name: "big", arguments: { bytes } });
    const muxMs = performance.now() - t1;
    const ok = ((r.result as { content: { text: string }[] }).content[0]?.text.length ?? 0) === bytes;
    rows.push({ mib, directMs, muxMs, ok, daemonPeakMb: (statusField(mux.pid, "VmHWM") ?? 0) / 1024 });
  }
  report.large = rows;
  c.end();
  direct.end();
  await stopAll();
}

// ---- report ----

function verdicts(): { target: string; value: string; met: boolean }[] {
  const lat = report.latency as Row[];
  const at = (t: string, c: number): Row | undefined => lat.find((r) => r.target.startsWith(t) && r.c === c);
  const direct = at("echo child", 1)?.p50 ?? 0;
  const fwdAdded = (at("ideal forwarder", 1)?.p50 ?? 0) - direct;
  const muxAdded = (at("mux, raw", 1)?.p50 ?? 0) - direct;
  const tput = (report.throughput as { results: Record<string, number> }).results;
  const tMux = tput["mux, raw socket clients"] ?? 0;
  const tDirect = tput["echo child, direct pipe (1 client)"] ?? 1;
  const tMcp = tput["mcp-proxy (SDK HTTP clients)"] ?? 1;
  const sdkMux = at("SDK client → mux-proxy", 1)?.p50 ?? 0;
  const sdkMcp = at("SDK client → mcp-proxy", 1)?.p50 ?? 0;
  const sdkSg = at("SDK client → supergateway", 1)?.p50 ?? 0;
  const mem = report.memory as { sessions: number; setup: string; rssMb: number }[];
  const n = P.target20;
  const memMux = mem.find((r) => r.sessions === n && r.setup.startsWith("mcp-mux"))?.rssMb ?? 0;
  const memNpx = mem.find((r) => r.sessions === n && r.setup.startsWith("one server"))?.rssMb ?? 1;
  const idle = report.idle as { proxyMb: number; daemonIdleMb: number; daemonIdleClients: number };
  const sc = report.scale as { errors: number; mismatches: number; growthMb: number; clients: number; cycles: number };
  return [
    {
      target: "mux hop p50 added latency ≤ 1.3 × ideal forwarder's (c=1)",
      value: `${(muxAdded * 1000).toFixed(0)} µs vs ${(fwdAdded * 1000).toFixed(0)} µs (${(muxAdded / fwdAdded).toFixed(2)}×)`,
      met: muxAdded <= 1.3 * fwdAdded,
    },
    {
      target: "throughput through mux ≥ 80 % of direct pipelined",
      value: `${tMux.toFixed(0)} vs ${tDirect.toFixed(0)} req/s (${((100 * tMux) / tDirect).toFixed(0)} %)`,
      met: tMux >= 0.8 * tDirect,
    },
    { target: "throughput through mux ≥ 2 × mcp-proxy", value: `${(tMux / tMcp).toFixed(1)}×`, met: tMux >= 2 * tMcp },
    {
      target: "end-to-end p50 via mux-proxy < mcp-proxy and < supergateway (c=1)",
      value: `${sdkMux.toFixed(3)} vs ${sdkMcp.toFixed(3)} / ${sdkSg.toFixed(3)} ms`,
      met: sdkMux < sdkMcp && sdkMux < sdkSg,
    },
    {
      target: `${n} server-memory sessions: mux total RSS ≤ 30 % of ${n} npx children`,
      value: `${memMux} vs ${memNpx} MB (${((100 * memMux) / memNpx).toFixed(0)} %)`,
      met: memMux <= 0.3 * memNpx,
    },
    { target: "one idle mux-proxy ≤ 25 MB RSS", value: `${idle.proxyMb} MB`, met: idle.proxyMb <= 25 },
    {
      target: `daemon with ${idle.daemonIdleClients} idle clients ≤ 60 MB RSS`,
      value: `${idle.daemonIdleMb} MB`,
      met: idle.daemonIdleMb <= 60,
    },
    {
      target: `${sc.clients} clients × 10 calls: zero errors and mismatches`,
      value: `${sc.errors} errors, ${sc.mismatches} mismatches`,
      met: sc.errors === 0 && sc.mismatches === 0,
    },
    {
      target: `${sc.cycles} connect/call/disconnect cycles: RSS growth < 5 MB`,
      value: `${sc.growthMb.toFixed(1)} MB`,
      met: sc.growthMb < 5,
    },
  ];
}

function render(): string {
  const f = (n: number, d = 3): string => (Number.isFinite(n) ? n.toFixed(d) : "-");
  const lat = report.latency as Row[];
  const lines: string[] = [];
  const v = verdicts();
  report.verdicts = v;
  lines.push("# mcp-mux benchmarks", "");
  lines.push(
    `Generated by \`bun run bench${quick ? " -- --quick" : ""}\` on ${report.date}.${quick ? " **Quick smoke run: small counts; do not read the numbers as results.**" : ""}`,
    "",
  );
  lines.push("## Machine", "");
  lines.push(
    `- CPU: ${cpus()[0]?.model ?? "?"} × ${cpus().length} cores`,
    `- Memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- OS: ${process.platform} ${release()}`,
    `- Bun ${Bun.version}, Node ${Bun.spawnSync({ cmd: ["node", "--version"] })
      .stdout.toString()
      .trim()}`,
    "- Everything runs on this one machine; absolute times vary between runs on a shared machine, ratios within one run hold.",
    "",
  );
  lines.push(
    "## Commands",
    "",
    "```sh",
    "bun run bench            # full run, writes docs/benchmarks.md and docs/benchmarks.json",
    "bun run bench -- --quick # smoke run (part of the test suite)",
    "```",
    "",
  );
  lines.push("## Targets", "", "| Target | Measured | Verdict |", "| --- | --- | --- |");
  for (const t of v) lines.push(`| ${t.target} | ${t.value} | ${t.met ? "met" : "**missed**"} |`);
  lines.push(
    "",
    "## 1–2. Latency per request (ms; closed loop, c = requests in flight)",
    "",
    "The echo child answers at once, so this is the cost of each hop. The ideal forwarder is one Unix-socket hop that parses and re-serializes each line and does nothing else: the floor no mux can beat.",
    "",
    "| Path | c | p50 | p99 |",
    "| --- | --- | --- | --- |",
  );
  for (const r of lat) lines.push(`| ${r.target} | ${r.c} | ${f(r.p50)} | ${f(r.p99)} |`);
  lines.push(
    "",
    "`tools/call read_graph` on @modelcontextprotocol/server-memory:",
    "",
    "| Path | c | p50 | p99 |",
    "| --- | --- | --- | --- |",
  );
  for (const r of report.memoryToolLatency as Row[]) lines.push(`| ${r.target} | ${r.c} | ${f(r.p50)} | ${f(r.p99)} |`);
  const tp = report.throughput as { clients: number; depth: number; results: Record<string, number> };
  lines.push(
    "",
    `## 3. Throughput (${tp.clients} clients, ${tp.depth} requests in flight each)`,
    "",
    "| Path | req/s |",
    "| --- | --- |",
  );
  for (const [k, val] of Object.entries(tp.results)) lines.push(`| ${k} | ${val.toFixed(0)} |`);
  lines.push(
    "",
    "## 4. Memory and processes (server-memory, each session initialized and listed)",
    "",
    "Total resident memory of every process involved (hosts' own processes excluded). Each mux session costs one mux-proxy process (see its idle RSS below); the HTTP peers cost no process per session on this side. In these runs mcp-proxy served all sessions from one server process (its process count stays flat) and supergateway started one server per session.",
    "",
    "| Sessions | Setup | Total RSS (MB) | Processes |",
    "| --- | --- | --- | --- |",
  );
  for (const r of report.memory as { sessions: number; setup: string; rssMb: number; processes: number }[])
    lines.push(`| ${r.sessions} | ${r.setup} | ${r.rssMb} | ${r.processes} |`);
  const idle = report.idle as Record<string, number>;
  lines.push(
    "",
    `- One idle mux-proxy: ${idle.proxyMb} MB RSS.`,
    `- The daemon (echo child excluded): ${idle.daemonNoClientsMb} MB with no clients, ${idle.daemonIdleMb} MB with ${idle.daemonIdleClients} idle initialized clients.`,
  );
  const st = report.startup as Record<string, number>;
  lines.push(
    "",
    `## 5. Startup (${st.runs} runs; mux already serving server-memory)`,
    "",
    "| From launching mux-proxy to | p50 (ms) | p90 (ms) |",
    "| --- | --- | --- |",
    `| first initialize result (from cache) | ${f(st.initP50 as number, 1)} | ${f(st.initP90 as number, 1)} |`,
    `| first tools/list result | ${f(st.listP50 as number, 1)} | ${f(st.listP90 as number, 1)} |`,
  );
  const sc = report.scale as Record<string, number>;
  lines.push(
    "",
    "## 6. Scale and leaks",
    "",
    `- ${sc.clients} concurrent clients × ${sc.callsPerClient} calls: ${sc.errors} errors, ${sc.mismatches} mismatches, ${f((sc.scaleMs as number) / 1000, 2)} s.`,
    `- ${sc.cycles} connect/initialize/call/disconnect cycles (8 at a time): ${f((sc.cyclesMs as number) / 1000, 1)} s; daemon RSS ${f(sc.rssBeforeMb as number, 1)} → ${f(sc.rssAfterMb as number, 1)} MB (${f(sc.growthMb as number, 1)} MB).`,
  );
  lines.push(
    "",
    "## 7. Large results",
    "",
    "| Size | direct pipe (ms) | through mux (ms) | intact | daemon peak RSS (MB) |",
    "| --- | --- | --- | --- | --- |",
  );
  for (const r of report.large as { mib: number; directMs: number; muxMs: number; ok: boolean; daemonPeakMb: number }[])
    lines.push(
      `| ${r.mib} MiB | ${f(r.directMs, 1)} | ${f(r.muxMs, 1)} | ${r.ok ? "yes" : "**no**"} | ${f(r.daemonPeakMb, 1)} |`,
    );
  lines.push("");
  return lines.join("\n");
}

try {
  await latencyAndThroughput();
  await memory();
  await startup();
  await scale();
  await large();
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(outPath, render());
  writeFileSync(outPath.replace(/\.md$/, ".json"), `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${outPath}`);
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
