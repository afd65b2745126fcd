/**
 * The benchmark suite: every path side by side, interleaved and repeated (median and range),
 * on the servers users run (an SDK server and server-memory), with the raw Bun echo child as
 * a labelled floor; CPU per call and profiles (this commit and the one before, same run),
 * memory as RSS and PSS, startup, scale and leaks, large messages, hostile input, HTTP floods
 * and release sizes. It builds what it measures and records the commit and whether the tree
 * was clean; every answer of every row is checked.
 *
 *   bun run bench            full run: builds dist/, writes docs/benchmarks.md (and .json) and
 *                            the Performance lines of README.md
 *   bun run bench -- --quick smoke run with small counts: writes to a temporary folder (or
 *                            --out FILE), never over the committed report or the README (the
 *                            README's lines go to README-performance.md beside the report)
 *   --before COMMIT          the "before" build, rows and profile (full run default: BEFORE_COMMIT;
 *                            a quick run has none unless asked); --no-before skips it
 */

import { execFileSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { FLOODS, type FloodFigures, PENDING_ROWS } from "./bench/floods.ts";
import {
  CHILD_LABELS,
  type ChildKind,
  checkedHandshake,
  checks,
  MEMORY,
  type PathContext,
  type PathKind,
  type PathSpec,
  PEER_SETTINGS,
  paths,
  rawCaller,
  SDK_ECHO,
  startMux as startMuxIn,
  startPeer,
} from "./bench/paths.ts";
import { summarize } from "./bench/profile.ts";
import {
  BUN,
  closedLoop,
  descendants,
  ECHO,
  MUX,
  median,
  PROXY,
  percentile,
  pss,
  RawConn,
  ROOT,
  sdkHttp,
  sdkStdio,
  socat,
  spawnBg,
  statusField,
  stopAll,
  throughput,
  treeMem,
  treeRss,
  uncache,
  until,
} from "./bench/util.ts";
import { COMPILE_FLAGS } from "./build/flags.ts";

/** The commit before this series of changes: measured beside this one in the same run. */
const BEFORE_COMMIT = "0a58dc8";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const outPath =
  flag("--out") ??
  (quick ? join(mkdtempSync(join(tmpdir(), "mux-bench-quick-")), "benchmarks.md") : join(ROOT, "docs/benchmarks.md"));
/** The README's Performance lines are written only by a full run into the committed report. */
const writeReadme = !quick && flag("--out") === undefined;
/** A quick run measures no "before" build unless asked with --before. */
const beforeCommit = argv.includes("--no-before")
  ? undefined
  : (flag("--before") ?? (quick ? undefined : BEFORE_COMMIT));
const P = quick
  ? {
      reps: 1,
      clients: 8,
      calls: 100,
      warm: 40,
      warmMs: 200,
      tputMs: 400,
      sessions: [1, 3],
      target20: 3,
      idle: 100,
      scale: 50,
      cycles: 200,
      large: [1],
      startup: 3,
      cold: 2,
      profileMs: 400,
      fuzzLines: 500,
      slowBodies: 50,
      initOnly: 50,
    }
  : {
      reps: 3,
      clients: 64,
      calls: 500,
      warm: 500,
      warmMs: 1000,
      tputMs: 2000,
      sessions: [1, 5, 20],
      target20: 20,
      idle: 1000,
      scale: 1000,
      cycles: 10_000,
      large: [1, 10, 50],
      startup: 20,
      cold: 10,
      profileMs: 3000,
      fuzzLines: 10_000,
      slowBodies: 1000,
      initOnly: 1000,
    };
const dir = mkdtempSync(join(tmpdir(), "muxb-"));
const SOCAT = socat();
const ctx: PathContext = { dir, socat: SOCAT };
const log = (m: string): void => {
  process.stderr.write(`[bench] ${m}\n`);
};
const startMux = (name: string, cmd: string[], options: Parameters<typeof startMuxIn>[3] = {}) =>
  startMuxIn(ctx, name, cmd, options);

type Cpu = Record<string, number>;
/** One measurement of one path. */
type Run = {
  rep: number;
  p50c1: number;
  p99c1: number;
  p50c8: number;
  p99c8: number;
  callsPerSec: number;
  cpu: Cpu;
  errors: number;
  mismatches: number;
};
/** A median and the range of the runs. */
type Spread = { median: number; min: number; max: number };
type PathResult = {
  id: string;
  label: string;
  child: ChildKind;
  kind: PathKind;
  runs: Run[];
  summary: Record<"p50c1" | "p99c1" | "p50c8" | "p99c8" | "callsPerSec", Spread> & { cpu: Cpu };
  errors: number;
  mismatches: number;
};
const report: Record<string, unknown> = {
  quick,
  date: new Date().toISOString(),
  socat: SOCAT ? "yes" : "socat is not installed and could not be (needs root and apt-get)",
  settings: PEER_SETTINGS,
};

// ---- 0. what is measured: this tree, built; the "before" commit, built beside it ----

/** Build dist/ from this tree (what is measured is what is built) and record the commit and the tree's state. */
function buildThis(): void {
  log("building dist/ (bun scripts/build.ts)");
  const built = Bun.spawnSync([BUN, "scripts/build.ts"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (built.exitCode !== 0) throw new Error(`the build failed:\n${built.stderr.toString()}${built.stdout.toString()}`);
  const git = (...args: string[]): string =>
    Bun.spawnSync(["git", ...args], { cwd: ROOT, stdout: "pipe", stderr: "ignore" })
      .stdout.toString()
      .trim();
  const dirty = git("status", "--porcelain")
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  report.commit = git("rev-parse", "--short=12", "HEAD") || "unknown";
  report.commitFull = git("rev-parse", "HEAD") || "unknown";
  report.clean = dirty.length === 0;
  report.uncommitted = dirty;
}

/** dist/ of `commit`, built in a detached git worktree that shares our node_modules; the worktree root. */
function buildBefore(commit: string): { root: string; commit: string; mux: string; proxy: string } | undefined {
  const full = Bun.spawnSync(["git", "rev-parse", "--short=12", `${commit}^{commit}`], { cwd: ROOT, stderr: "pipe" });
  if (full.exitCode !== 0) {
    report.before = { commit, measured: false, why: `git does not know ${commit} here` };
    return undefined;
  }
  const short = full.stdout.toString().trim();
  const root = join(dir, `before-${short}`);
  const made = Bun.spawnSync(["git", "worktree", "add", "--detach", root, short], { cwd: ROOT, stderr: "pipe" });
  if (made.exitCode !== 0) {
    report.before = { commit: short, measured: false, why: made.stderr.toString().trim() };
    return undefined;
  }
  symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"));
  log(`building the before commit ${short} in a worktree`);
  const built = Bun.spawnSync([BUN, "scripts/build.ts"], { cwd: root, stdout: "pipe", stderr: "pipe" });
  if (built.exitCode !== 0) {
    report.before = { commit: short, measured: false, why: `its build failed: ${built.stderr.toString().slice(-500)}` };
    removeWorktree(root);
    return undefined;
  }
  report.before = { commit: short, measured: true };
  return { root, commit: short, mux: join(root, "dist/mux"), proxy: join(root, "dist/mux-proxy") };
}

function removeWorktree(root: string): void {
  Bun.spawnSync(["git", "worktree", "remove", "--force", root], { cwd: ROOT, stdout: "ignore", stderr: "ignore" });
}

/** Every executable the run starts, dropped from the page cache alike (see `uncache`). */
function uncacheAll(extra: string[] = []): void {
  const node = Bun.which("node");
  uncache([MUX, PROXY, BUN, ...(node ? [node] : []), ...(SOCAT ? [SOCAT] : []), ...extra]);
}

// ---- 1. every path side by side ----

/** CPU time (ms) used so far by `pids` (user + system, from /proc/PID/stat). */
function cpuMs(pids: Iterable<number>): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]);
    } catch {}
  }
  return ticks * 10;
}

/**
 * One run of one path, started fresh: the same warm-up for every path (P.warm calls, 8 in
 * flight, then P.warmMs at full load), latency at 1 and 8 calls in flight, then throughput
 * with every client keeping one call in flight for P.tputMs, with the CPU each process group
 * spent per call. Every answer is checked.
 */
async function runPath(spec: PathSpec, rep: number): Promise<Run> {
  const before = { ...checks };
  const n = P.clients;
  const r = await spec.start(n);
  const call = (w: number, i: number): Promise<void> =>
    (r.callers[w % r.callers.length] as (typeof r.callers)[0])(w, i);
  await closedLoop(8, P.warm, call);
  await throughput(n, P.warmMs, (w) => call(w, -1));
  const lat1 = await closedLoop(1, P.calls, call);
  const lat8 = await closedLoop(8, P.calls, call);
  const pidsOf = Object.fromEntries(Object.entries(r.groups).map(([k, f]) => [k, [...f()]]));
  const cpu0 = Object.fromEntries(Object.entries(pidsOf).map(([k, p]) => [k, cpuMs(p)]));
  let calls = 0;
  let i = 0;
  const t0 = performance.now();
  await throughput(n, P.tputMs, async (w) => {
    await call(w, i++);
    calls++;
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = Object.fromEntries(
    Object.entries(pidsOf).map(([k, p]) => [k, Math.round(((cpuMs(p) - (cpu0[k] as number)) * 1000) / calls)]),
  );
  await r.close();
  await stopAll();
  const run: Run = {
    rep,
    p50c1: percentile(lat1, 50),
    p99c1: percentile(lat1, 99),
    p50c8: percentile(lat8, 50),
    p99c8: percentile(lat8, 99),
    callsPerSec: Math.round(calls / seconds),
    cpu,
    errors: checks.errors - before.errors,
    mismatches: checks.mismatches - before.mismatches,
  };
  log(
    `  [${rep + 1}/${P.reps}] ${CHILD_LABELS[spec.child].split(" (")[0]}: ${spec.label}: ${run.callsPerSec} calls/s, p50 ${run.p50c1.toFixed(3)} ms${run.errors + run.mismatches ? ` (${run.errors} errors, ${run.mismatches} wrong)` : ""}`,
  );
  return run;
}

const spread = (xs: number[]): Spread => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });

/** Every path, P.reps times, interleaved: each repetition runs every path once, in alternating order. */
async function sideBySide(before: PathContext["before"]): Promise<void> {
  // BENCH_PATHS=sdk:http-legacy,sdk:http-modern: only those rows (a try-out, never the report).
  const only = process.env.BENCH_PATHS?.split(",");
  const specs = paths({ ...ctx, before }).filter((s) => !only || only.includes(s.id));
  log(`side by side: ${specs.length} paths × ${P.reps} repetitions, ${P.clients} clients`);
  const runs = new Map<string, Run[]>(specs.map((s) => [s.id, []]));
  for (let rep = 0; rep < P.reps; rep++) {
    const order = rep % 2 === 0 ? specs : [...specs].reverse();
    for (const spec of order) runs.get(spec.id)?.push(await runPath(spec, rep));
  }
  const results: PathResult[] = specs.map((s) => {
    const rs = runs.get(s.id) as Run[];
    const pick = (k: keyof Omit<Run, "cpu" | "rep">): Spread => spread(rs.map((r) => r[k]));
    const groups = [...new Set(rs.flatMap((r) => Object.keys(r.cpu)))];
    return {
      id: s.id,
      label: s.label,
      child: s.child,
      kind: s.kind,
      runs: rs,
      summary: {
        p50c1: pick("p50c1"),
        p99c1: pick("p99c1"),
        p50c8: pick("p50c8"),
        p99c8: pick("p99c8"),
        callsPerSec: pick("callsPerSec"),
        cpu: Object.fromEntries(groups.map((g) => [g, median(rs.map((r) => r.cpu[g] ?? 0))])),
      },
      errors: rs.reduce((a, r) => a + r.errors, 0),
      mismatches: rs.reduce((a, r) => a + r.mismatches, 0),
    };
  });
  report.paths = { clients: P.clients, reps: P.reps, calls: P.calls, tputMs: P.tputMs, results };
}

// ---- 2. profiles ----

/**
 * CPU profiles (`bun --cpu-prof`, from the sources so names are readable) of the daemon and
 * the proxies under P.clients SDK clients → mux-proxy → mux with the SDK server: this tree,
 * and the "before" commit from its worktree under the same load in the same run.
 */
async function profiles(before: { root: string; commit: string } | undefined): Promise<void> {
  const after = await profileRun("after", ROOT);
  report.profiles = {
    after,
    ...(before ? { before: { commit: before.commit, ...(await profileRun("before", before.root)) } } : {}),
  };
}

type Profile = {
  callsPerSec: number;
  cpu: Cpu;
  errors: number;
  daemon: ReturnType<typeof summarize>;
  proxy: ReturnType<typeof summarize>;
};

async function profileRun(tag: string, root: string): Promise<Profile> {
  const n = P.clients;
  log(`profiles, ${tag} (${n} clients through mux-proxy, from the sources at ${root})`);
  const daemonDir = join(dir, `prof-${tag}-daemon`);
  const proxyDir = join(dir, `prof-${tag}-proxy`);
  const mux = await startMux(`prof-${tag}`, SDK_ECHO, {
    bin: [BUN, "--cpu-prof", `--cpu-prof-dir=${daemonDir}`, join(root, "src/bin/mux.ts")],
  });
  const clients = await Promise.all(
    Array.from({ length: n }, () =>
      sdkStdio(BUN, [
        "--cpu-prof",
        `--cpu-prof-dir=${proxyDir}`,
        join(root, "src/bin/mux-proxy.ts"),
        "--socket",
        mux.socket,
      ]),
    ),
  );
  const errors0 = checks.errors + checks.mismatches;
  const call = async (w: number, i: number): Promise<void> => {
    const args = { w, i };
    try {
      const r = (await (clients[w] as { client: Client }).client.callTool({ name: "echo", arguments: args })) as {
        content?: { text?: string }[];
      };
      if (r.content?.[0]?.text !== JSON.stringify(args)) checks.mismatches++;
    } catch {
      checks.errors++;
    }
  };
  await throughput(n, P.warmMs, (w) => call(w, -1));
  const pids = [mux.pid, ...clients.map((c) => c.pid as number)];
  const cpu0 = { daemon: cpuMs([mux.pid]), proxies: cpuMs(pids.slice(1)) };
  let calls = 0;
  const t0 = performance.now();
  await throughput(n, P.profileMs, async (w) => {
    await call(w, calls);
    calls++;
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = {
    daemon: Math.round(((cpuMs([mux.pid]) - cpu0.daemon) * 1000) / calls),
    proxies: Math.round(((cpuMs(pids.slice(1)) - cpu0.proxies) * 1000) / calls),
  };
  for (const c of clients) await c.client.close();
  await until(() => clients.every((c) => !existsSync(`/proc/${c.pid}`)), 10_000, "the proxies to write their profiles");
  await stopAll();
  await until(() => existsSync(daemonDir), 10_000, "the daemon's profile");
  return {
    callsPerSec: Math.round(calls / seconds),
    cpu,
    errors: checks.errors + checks.mismatches - errors0,
    daemon: summarize(daemonDir, 10),
    proxy: summarize(proxyDir, 10),
  };
}

// ---- 3. memory ----

/** A checked tools/list through an SDK client (an error or no tools counts). */
async function checkedList(c: Client): Promise<void> {
  try {
    if ((await c.listTools()).tools.length === 0) checks.mismatches++;
  } catch {
    checks.errors++;
  }
}

const kids = (pid: number) => () => [...descendants([pid])].filter((p) => p !== pid);

async function memory(): Promise<void> {
  log("memory and processes (server-memory sessions)");
  const npx = ["npx", "-y", "@modelcontextprotocol/server-memory"];
  const rows: { sessions: number; setup: string; rssMb: number; pssMb: number; processes: number }[] = [];
  const mb = (kb: number): number => Math.round(kb / 102.4) / 10;
  const proxiesPss: Record<number, number> = {};
  const add = (sessions: number, setup: string, pids: number[]) => {
    const m = treeMem(pids);
    rows.push({ sessions, setup, rssMb: mb(m.rssKb), pssMb: mb(m.pssKb), processes: m.processes });
  };
  for (const n of P.sessions) {
    const direct = [];
    for (let i = 0; i < n; i++)
      direct.push(await sdkStdio("npx", npx.slice(1), { MEMORY_FILE_PATH: join(dir, `m${i}.jsonl`) }));
    await Promise.all(direct.map((d) => checkedList(d.client)));
    await Bun.sleep(300);
    add(
      n,
      "one server per session via npx (hosts today)",
      direct.map((d) => d.pid as number),
    );
    for (const d of direct) await d.client.close();

    const mux = await startMux(`mem${n}`, npx, { http: true });
    const proxies = [];
    for (let i = 0; i < n; i++) proxies.push(await sdkStdio(PROXY, ["--socket", mux.socket]));
    await Promise.all(proxies.map((d) => checkedList(d.client)));
    await Bun.sleep(300);
    add(n, "mcp-mux: daemon + one mux-proxy per session + one server", [
      mux.pid,
      ...proxies.map((p) => p.pid as number),
    ]);
    proxiesPss[n] = proxies.reduce((sum, p) => sum + (pss(p.pid as number) ?? 0), 0);
    for (const p of proxies) await p.client.close();
    await Bun.sleep(200);
    const sessions = [];
    for (let i = 0; i < n; i++) sessions.push(await sdkHttp(mux.httpUrl as string));
    await Promise.all(sessions.map((c) => checkedList(c)));
    await Bun.sleep(300);
    add(n, "mcp-mux HTTP front: daemon + one server, no process per session", [mux.pid]);
    for (const c of sessions) await c.close().catch(() => {});
    await stopAll();

    for (const [label, name] of [
      ["mcp-proxy (Streamable HTTP)", "mcp-proxy"],
      ["supergateway (Streamable HTTP, stateful)", "supergateway"],
    ] as const) {
      const peer = await startPeer(ctx, name, npx);
      const clients = [];
      for (let i = 0; i < n; i++) clients.push(await sdkHttp(peer.url));
      await Promise.all(clients.map((c) => checkedList(c)));
      await Bun.sleep(300);
      add(n, label, [peer.pid]);
      for (const cl of clients) await cl.close().catch(() => {});
      await stopAll();
    }
    log(`  ${n} sessions done`);
  }
  report.memory = rows;

  // One idle mux-proxy, and what each further one adds (PSS: shared pages split among sharers).
  const mux = await startMux("idle", ECHO);
  const one = await sdkStdio(PROXY, ["--socket", mux.socket]);
  await checkedList(one.client);
  await Bun.sleep(500);
  const proxyRssKb = statusField(one.pid as number, "VmRSS") ?? 0;
  const proxyPssKb = pss(one.pid as number) ?? 0;
  await one.client.close();
  // The floor: a compiled Bun executable that only copies bytes, built with the same flags.
  const bareBin = compileLikeRelease("scripts/bench/bun-bridge.ts", "bun-bridge");
  const bare = await sdkStdio(bareBin, [mux.socket]);
  await checkedList(bare.client);
  await Bun.sleep(500);
  const bareRssKb = statusField(bare.pid as number, "VmRSS") ?? 0;
  const bareFileKb = statusField(bare.pid as number, "RssFile") ?? 0;
  await bare.client.close();
  const counts = Object.keys(proxiesPss).map(Number);
  const lo = Math.min(...counts);
  const hi = Math.max(...counts);
  const marginalPssKb = hi > lo ? ((proxiesPss[hi] as number) - (proxiesPss[lo] as number)) / (hi - lo) : Number.NaN;

  const before = treeMem([mux.pid]);
  const conns = [];
  for (let i = 0; i < P.idle; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, P.idle - i) }, () => RawConn.socket(mux.socket)),
    );
    await Promise.all(batch.map((c) => checkedHandshake(c)));
    conns.push(...batch);
  }
  await Bun.sleep(1000);
  const withClients = { rssKb: statusField(mux.pid, "VmRSS") ?? 0, pssKb: pss(mux.pid) ?? 0 };
  report.idle = {
    proxyRssMb: mb(proxyRssKb),
    proxyPssMb: mb(proxyPssKb),
    bareBridgeRssMb: mb(bareRssKb),
    bareBridgeFileMb: mb(bareFileKb),
    marginalProxyPssMb: mb(marginalPssKb),
    marginalFrom: `${lo} → ${hi} proxies`,
    daemonNoClientsRssMb: mb(statusField(mux.pid, "VmRSS") === undefined ? 0 : before.rssKb - childRss(mux.pid)),
    daemonIdleClients: P.idle,
    daemonIdleRssMb: mb(withClients.rssKb),
    daemonIdlePssMb: mb(withClients.pssKb),
  };
  for (const c of conns) c.end();
  await stopAll();

  // The tray costs nothing unless asked: the daemon as released (tray helper embedded, tray
  // code loaded only for --tray) beside the same daemon built without any tray at all.
  const noTrayBin = compileLikeRelease("src/bin/mux.ts", "mux-no-tray");
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
  const released: number[] = [];
  const bare2: number[] = [];
  for (let i = 0; i < 3; i++) {
    released.push(await daemonRssKb(MUX, `tray-with-${i}`));
    bare2.push(await daemonRssKb(noTrayBin, `tray-without-${i}`));
  }
  report.idle = {
    ...(report.idle as Record<string, unknown>),
    daemonReleasedRssMb: mb(median(released)),
    daemonNoTrayRssMb: mb(median(bare2)),
  };
}

/** A compiled executable of `entry` (relative to the repository) with the release's flags. */
function compileLikeRelease(entry: string, name: string): string {
  const out = join(dir, name);
  Bun.spawnSync([BUN, "build", ...COMPILE_FLAGS, join(ROOT, entry), "--outfile", out], {
    stdout: "ignore",
    stderr: "ignore",
  });
  uncache([out]);
  return out;
}

/** The RSS of a daemon alone (its child excluded) with one initialized client. */
async function daemonRssKb(bin: string, name: string): Promise<number> {
  const mux = await startMux(name, ECHO, { bin: [bin] });
  const conn = await RawConn.socket(mux.socket);
  await checkedHandshake(conn);
  await Bun.sleep(500);
  const kb = statusField(mux.pid, "VmRSS") ?? 0;
  conn.end();
  process.kill(mux.pid, "SIGTERM");
  return kb;
}

function childRss(pid: number): number {
  return [...kids(pid)()].reduce((sum, p) => sum + (statusField(p, "VmRSS") ?? 0), 0);
}

// ---- 4. startup ----

async function startup(): Promise<void> {
  log("startup: warm (daemon running) and cold (a proxy starts the daemon)");
  const errors0 = checks.errors;
  const mux = await startMux("startup", [MEMORY]);
  const warm = await RawConn.socket(mux.socket);
  await checkedHandshake(warm);
  const init: number[] = [];
  const list: number[] = [];
  for (let i = 0; i < P.startup; i++) {
    const t0 = performance.now();
    const proc = Bun.spawn({ cmd: [PROXY, "--socket", mux.socket], stdin: "pipe", stdout: "pipe", stderr: "inherit" });
    const conn = RawConn.child(proc);
    const answer = await conn.request("initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "s", version: "1" },
    });
    if (answer.error || !answer.result) checks.errors++;
    init.push(performance.now() - t0);
    conn.notify("notifications/initialized");
    const tools = await conn.request("tools/list");
    if (tools.error || !Array.isArray((tools.result as { tools?: unknown } | undefined)?.tools)) checks.errors++;
    list.push(performance.now() - t0);
    conn.end();
    await proc.exited;
  }
  warm.end();
  await stopAll();

  const cold: Record<string, { listening: number[]; initialized: number[] }> = {};
  for (const [label, cmd] of [
    ["echo child (child start ≈ a Bun process)", ECHO],
    ["server-memory (node)", [MEMORY]],
  ] as const) {
    const runDir = join(dir, `cold-${Object.keys(cold).length}`);
    mkdirSync(runDir, { recursive: true });
    const config = join(runDir, "mux.yaml");
    const socket = join(runDir, "s.sock");
    writeFileSync(
      config,
      `servers:\n  s:\n    socket: ${socket}\n    cmd: ${cmd[0]}\n    args: ${JSON.stringify(cmd.slice(1))}\n    env:\n      MEMORY_FILE_PATH: ${join(runDir, "m.jsonl")}\n`,
    );
    const env = { ...process.env, MUX_RUNTIME_DIR: join(runDir, "run"), MUX_STATE_DIR: join(runDir, "state") };
    const m = { listening: [] as number[], initialized: [] as number[] };
    for (let i = 0; i < P.cold; i++) {
      const t0 = performance.now();
      const proc = Bun.spawn({
        cmd: [PROXY, "--socket", socket, "--config", config],
        env,
        stdin: "pipe",
        stdout: "pipe",
        stderr: "ignore",
      });
      const conn = RawConn.child(proc);
      const answered = conn.request("initialize", {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "cold", version: "1" },
      });
      await until(() => existsSync(socket), 30_000, "the auto-started daemon");
      m.listening.push(performance.now() - t0);
      const answer = await answered;
      if (answer.error || !answer.result) checks.errors++;
      m.initialized.push(performance.now() - t0);
      conn.end();
      await proc.exited;
      const daemons = Bun.spawnSync(["pgrep", "-f", `serve --config ${config}`])
        .stdout.toString()
        .trim()
        .split("\n");
      for (const pid of daemons.filter(Boolean)) process.kill(Number(pid), "SIGTERM");
      await until(() => !existsSync(socket), 10_000, "the daemon to stop");
      await until(() => daemons.filter(Boolean).every((p) => !existsSync(`/proc/${p}`)), 10_000, "the daemon to exit");
    }
    cold[label] = m;
  }
  report.startup = {
    errors: checks.errors - errors0,
    runs: P.startup,
    initP50: percentile(init, 50),
    initP90: percentile(init, 90),
    listP50: percentile(list, 50),
    listP90: percentile(list, 90),
    coldRuns: P.cold,
    cold: Object.fromEntries(
      Object.entries(cold).map(([k, v]) => [
        k,
        {
          listeningP50: percentile(v.listening, 50),
          initializedP50: percentile(v.initialized, 50),
          initializedP90: percentile(v.initialized, 90),
        },
      ]),
    ),
  };
}

// ---- 5. scale and leaks ----

async function scale(): Promise<void> {
  log(`scale: ${P.scale} clients × 10 calls`);
  const mux = await startMux("scale", ECHO);
  const before = { ...checks };
  // Connected 100 at a time: the socket's accept backlog is 512 (Bun's), and this measures
  // 1,000 clients at work, not a storm of simultaneous connects.
  const conns: RawConn[] = [];
  for (let i = 0; i < P.scale; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, P.scale - i) }, () => RawConn.socket(mux.socket)),
    );
    await Promise.all(batch.map((c) => checkedHandshake(c)));
    conns.push(...batch);
  }
  const t0 = performance.now();
  await Promise.all(conns.map((c, ci) => Promise.all(Array.from({ length: 10 }, (_, i) => rawCaller(() => c)(ci, i)))));
  const scaleMs = performance.now() - t0;
  for (const c of conns) c.end();
  await stopAll();

  // The leak check has a daemon of its own: warmed up, then its baseline, then the cycles.
  log(`leaks: ${P.cycles} connect/call/disconnect cycles on a fresh daemon`);
  const fresh = await startMux("leaks", ECHO);
  const cycle = async (k: number): Promise<void> => {
    const c = await RawConn.socket(fresh.socket);
    await checkedHandshake(c);
    await rawCaller(() => c)(k, 0);
    c.end();
  };
  const runCycles = async (n: number): Promise<void> => {
    let left = n;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (left-- > 0) await cycle(left);
      }),
    );
  };
  // Warmed up by as many cycles as are measured: enough to fill the traffic record to its cap
  // (5,000 entries, about 5 per cycle) and to let the heap reach its working size, so what is
  // left to grow is a leak. Then two stages of P.cycles each: a leak grows in both.
  const warmCycles = P.cycles;
  await runCycles(warmCycles);
  await Bun.sleep(1000);
  const rssBefore = statusField(fresh.pid, "VmRSS") ?? 0;
  const c0 = performance.now();
  await runCycles(P.cycles);
  const cyclesMs = performance.now() - c0;
  await Bun.sleep(1000);
  const rssMiddle = statusField(fresh.pid, "VmRSS") ?? 0;
  await runCycles(P.cycles);
  await Bun.sleep(1000);
  const rssAfter = statusField(fresh.pid, "VmRSS") ?? 0;
  report.scale = {
    clients: P.scale,
    callsPerClient: 10,
    errors: checks.errors - before.errors,
    mismatches: checks.mismatches - before.mismatches,
    scaleMs,
    warmCycles,
    cycles: P.cycles,
    cyclesMs,
    rssBeforeMb: rssBefore / 1024,
    rssMiddleMb: rssMiddle / 1024,
    rssAfterMb: rssAfter / 1024,
    growthMb: (Math.max(rssMiddle, rssAfter) - rssBefore) / 1024,
  };
  await stopAll();
}

// ---- 6. large messages ----

async function large(): Promise<void> {
  log("large messages");
  const mux = await startMux("large", ECHO, { extra: ["--max-request-bytes", String(64 * 1024 * 1024)] });
  const c = await RawConn.socket(mux.socket);
  await checkedHandshake(c);
  const echo = Bun.spawn({ cmd: ECHO, stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const direct = RawConn.child(echo);
  await checkedHandshake(direct);
  const rows = [];
  for (const mib of P.large) {
    const bytes = mib * 1024 * 1024;
    const t0 = performance.now();
    const d = await direct.request("tools/call", { name: "big", arguments: { bytes } });
    const directMs = performance.now() - t0;
    const t1 = performance.now();
    const r = await c.request("tools/call", { name: "big", arguments: { bytes } });
    const muxMs = performance.now() - t1;
    const size = (x: Record<string, unknown>): number =>
      (x.result as { content?: { text: string }[] } | undefined)?.content?.[0]?.text.length ?? -1;
    const ok = !r.error && !d.error && size(r) === bytes && size(d) === bytes;
    if (!ok) checks.errors++;
    rows.push({ mib, directMs, muxMs, ok, daemonPeakMb: (statusField(mux.pid, "VmHWM") ?? 0) / 1024 });
  }
  report.large = rows;
  c.end();
  direct.end();
  await stopAll();
}

// ---- 7. hostile input ----

/** The fuzz and backpressure tests, run for their figures (they report them when asked). */
async function hostile(): Promise<void> {
  log(`hostile input: the fuzz test (${P.fuzzLines} lines) and the backpressure tests`);
  const figures = join(dir, "figures.jsonl");
  const files = ["test/e2e/fuzz.test.ts", ...(quick ? [] : ["test/e2e/backpressure.test.ts"])];
  const proc = Bun.spawn({
    cmd: [BUN, "test", "--timeout", "180000", ...files],
    cwd: ROOT,
    env: {
      ...process.env,
      MUX_BENCH_FIGURES: figures,
      FUZZ_LINES: String(P.fuzzLines),
      MUX_RUNTIME_DIR: join(dir, "hostile-run"),
      MUX_STATE_DIR: join(dir, "hostile-state"),
    },
    stdout: "ignore",
    stderr: "pipe",
  });
  const stderr = await new Response(proc.stderr).text();
  if ((await proc.exited) !== 0) throw new Error(`the hostile-input tests failed:\n${stderr.slice(-3000)}`);
  report.hostile = existsSync(figures)
    ? Object.fromEntries(
        readFileSync(figures, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => {
            const { name, ...rest } = JSON.parse(l) as { name: string };
            return [name, rest];
          }),
      )
    : {};
}

// ---- 9. release archives ----

async function releaseSizes(): Promise<void> {
  if (quick) {
    report.release = "not built in a quick run";
    return;
  }
  log("release archives (bun run release)");
  const out = join(dir, "release");
  const built = Bun.spawnSync([BUN, "scripts/build.ts", "--release", "--out", out], { cwd: ROOT, stderr: "pipe" });
  if (built.exitCode !== 0) throw new Error(`release build failed: ${built.stderr.toString()}`);
  const rows = [];
  for (const line of readFileSync(join(out, "SHA256SUMS"), "utf8").trim().split("\n")) {
    const name = line.split(/\s+/)[1] as string;
    if (!name.endsWith(".tar.gz")) continue; // install.sh is a release file too
    const listing = execFileSync("tar", ["-tzvf", join(out, name)], { encoding: "utf8", maxBuffer: 1 << 20 });
    const unpacked = listing
      .trim()
      .split("\n")
      .reduce((sum, l) => sum + Number(l.trim().split(/\s+/)[2] ?? 0), 0);
    rows.push({
      archive: name,
      compressedMb: statSync(join(out, name)).size / 1_048_576,
      unpackedMb: unpacked / 1_048_576,
    });
  }
  report.release = rows;
  // Installed: what install.sh lays out, the one executable and mux-proxy as a link to it.
  const proxyLink = existsSync(PROXY) && lstatSync(PROXY).isSymbolicLink();
  report.installed = {
    muxMb: statSync(MUX).size / 1_048_576,
    proxy: proxyLink
      ? "a symbolic link to mux (no second copy)"
      : `${(statSync(PROXY).size / 1_048_576).toFixed(1)} MiB`,
  };
}

// ---- 8. HTTP floods ----

/** Each flood of FLOODS on a fresh daemon (SDK server child, HTTP front), warmed by one session. */
/**
 * Sharing per workspace: hosts in K projects, two each, on a `share = "workspace"` service and
 * on a `share = "global"` one (the same SDK server): server processes of each, and the routing
 * cost of one client of each (sequential echo calls, interleaved repetitions).
 */
async function workspaces(): Promise<void> {
  log("sharing per workspace");
  const k = quick ? 2 : 3;
  const projects = Array.from({ length: k }, (_, i) => {
    const p = join(dir, `project-${i}`);
    mkdirSync(p, { recursive: true });
    return p;
  });
  const ws = await startMux("ws", SDK_ECHO, { extra: ["--share", "workspace"] });
  const gl = await startMux("gl", SDK_ECHO, { extra: ["--share", "global"] });
  const hosts: { ws: Client[]; gl: Client[] } = { ws: [], gl: [] };
  for (const p of projects)
    for (let h = 0; h < 2; h++) {
      hosts.ws.push((await sdkStdio(PROXY, ["--socket", ws.socket], undefined, p)).client);
      hosts.gl.push((await sdkStdio(PROXY, ["--socket", gl.socket], undefined, p)).client);
    }
  for (const c of [...hosts.ws, ...hosts.gl]) await checkedEcho(c, "warm");
  // The servers the daemon runs, as its status names them (each also has a small sh watcher).
  const children = (socket: string): number =>
    (
      JSON.parse(execFileSync(MUX, ["status", "--socket", socket, "--json"], { encoding: "utf8" })) as {
        childPids: number[];
      }
    ).childPids.length;
  const calls = quick ? 300 : 2000;
  const p50: { ws: number[]; gl: number[] } = { ws: [], gl: [] };
  for (let rep = 0; rep < (quick ? 1 : 3); rep++)
    for (const which of rep % 2 === 0 ? (["ws", "gl"] as const) : (["gl", "ws"] as const)) {
      const c = hosts[which][0] as Client;
      const lat = await closedLoop(1, calls, (_, i) => checkedEcho(c, `c${i}`));
      p50[which].push(Math.round(percentile(lat, 50) * 1000));
    }
  report.workspaces = {
    projects: k,
    hostsPerProject: 2,
    workspaceServiceProcesses: children(ws.socket),
    globalServiceProcesses: children(gl.socket),
    p50WorkspaceUs: median(p50.ws),
    p50GlobalUs: median(p50.gl),
    p50WorkspaceRunsUs: p50.ws,
    p50GlobalRunsUs: p50.gl,
  };
  for (const c of [...hosts.ws, ...hosts.gl]) await c.close().catch(() => {});
  await stopAll();
}

/**
 * Dormancy and the handshake cache (issue 25): one config daemon with ten server-memory
 * services (`dormant_after_ms`), a host connected to each and idle: RSS of the whole process
 * tree with the servers up and once they are dormant; a host's connect (initialize +
 * tools/list) to a dormant service, answered with no server running; the first tool call to a
 * dormant service (time to wake) beside a cold start (a host's first call to a fresh service).
 */
async function dormancy(): Promise<void> {
  log("dormancy: ten idle services, connect from cache, time to wake");
  const n = 10;
  const afterMs = quick ? 1500 : 3000;
  const base = join(dir, "dormancy");
  mkdirSync(base, { recursive: true });
  const env = { MUX_STATE_DIR: join(base, "state"), MUX_RUNTIME_DIR: join(base, "run") };
  const sockets = Array.from({ length: n }, (_, i) => join(base, `s${i}.sock`));
  const config = join(base, "mux.toml");
  writeFileSync(
    config,
    sockets
      .map(
        (socket, i) =>
          `[servers.m${i}]\nsocket = "${socket}"\ncmd = "${MEMORY}"\ndormant_after_ms = ${afterMs}\nenv = { MEMORY_FILE_PATH = "${join(base, `m${i}.jsonl`)}" }\n`,
      )
      .join(""),
  );
  const daemon = spawnBg([MUX, "serve", "--config", config, "--log-level", "error"], env);
  await until(() => sockets.every((s) => existsSync(s)), 30_000, "the dormancy daemon's sockets");
  const call = async (c: RawConn, name: string): Promise<void> => {
    const r = await c.request("tools/call", { name, arguments: {} });
    if (r.error) {
      checks.errors++;
      throw new Error(`dormancy bench: ${name} answered ${JSON.stringify(r).slice(0, 200)}`);
    }
  };
  const state = async (socket: string): Promise<{ state: string; childPids: number[] }> => {
    const c = await RawConn.socket(socket);
    const s = (await c.request("mcp-mux/status")).result as { state: string; childPids: number[] };
    c.end();
    return s;
  };
  const hosts: RawConn[] = [];
  for (const socket of sockets) {
    const c = await RawConn.socket(socket);
    await checkedHandshake(c);
    await c.request("tools/list");
    await call(c, "read_graph");
    hosts.push(c);
  }
  await Bun.sleep(300);
  const up = treeRss([daemon.pid]);
  await until(
    async () => (await Promise.all(sockets.map(state))).every((s) => s.state === "dormant"),
    afterMs * 4 + 10_000,
    "every service dormant",
  );
  await Bun.sleep(300);
  const down = treeRss([daemon.pid]);
  const daemonAlone = statusField(daemon.pid, "VmRSS") ?? 0;

  // A host's connect to a dormant service: initialize + tools/list, no server started.
  const connects: number[] = [];
  for (let i = 0; i < (quick ? 30 : 200); i++) {
    const socket = sockets[i % n] as string;
    const c = await RawConn.socket(socket);
    const t0 = performance.now();
    await checkedHandshake(c);
    const list = await c.request("tools/list");
    connects.push(performance.now() - t0);
    if (!JSON.stringify(list.result ?? {}).includes("read_graph")) checks.errors++;
    c.end();
  }
  const stillDormant = (await Promise.all(sockets.map(state))).filter((s) => s.state === "dormant").length;

  // Time to wake: the first tool call of a connected host to a dormant service.
  const wakes: number[] = [];
  for (const c of hosts) {
    const t0 = performance.now();
    await call(c, "read_graph");
    wakes.push(performance.now() - t0);
  }
  for (const c of hosts) c.end();
  process.kill(daemon.pid, "SIGTERM");
  await daemon.exited;

  // After a daemon restart: initialize + tools/list from the persisted cache, no server.
  const again = spawnBg([MUX, "serve", "--config", config, "--log-level", "error"], env);
  await until(() => sockets.every((s) => existsSync(s)), 30_000, "the restarted daemon's sockets");
  const fromCache: number[] = [];
  for (let i = 0; i < (quick ? 30 : 200); i++) {
    const c = await RawConn.socket(sockets[i % n] as string);
    const t0 = performance.now();
    await checkedHandshake(c);
    await c.request("tools/list");
    fromCache.push(performance.now() - t0);
    c.end();
  }
  const afterRestart = treeRss([again.pid]);
  const cachedDormant = (await Promise.all(sockets.map(state))).filter((s) => s.state === "dormant").length;
  process.kill(again.pid, "SIGTERM");
  await again.exited;

  // Cold start: a host's connect and first tool call to a fresh service (no cache, lazy start).
  const colds: number[] = [];
  for (let i = 0; i < (quick ? 2 : 5); i++) {
    const mux = await startMux(`cold${i}`, [MEMORY], { extra: ["--lazy-start"] });
    const c = await RawConn.socket(mux.socket);
    const t0 = performance.now();
    await checkedHandshake(c);
    await call(c, "read_graph");
    colds.push(performance.now() - t0);
    c.end();
    process.kill(mux.pid, "SIGTERM");
  }
  report.dormancy = {
    services: n,
    dormantAfterMs: afterMs,
    treeUpKb: up.rssKb,
    treeUpProcesses: up.processes,
    treeDormantKb: down.rssKb,
    treeDormantProcesses: down.processes,
    daemonAloneKb: daemonAlone,
    connectP50Ms: Math.round(percentile(connects, 50) * 100) / 100,
    connectP99Ms: Math.round(percentile(connects, 99) * 100) / 100,
    connectStillDormant: stillDormant,
    cacheConnectP50Ms: Math.round(percentile(fromCache, 50) * 100) / 100,
    cacheConnectP99Ms: Math.round(percentile(fromCache, 99) * 100) / 100,
    cacheDormant: cachedDormant,
    treeAfterRestartKb: afterRestart.rssKb,
    treeAfterRestartProcesses: afterRestart.processes,
    wakeP50Ms: Math.round(percentile(wakes, 50)),
    wakeMaxMs: Math.round(Math.max(...wakes)),
    coldP50Ms: Math.round(percentile(colds, 50)),
    coldMaxMs: Math.round(Math.max(...colds)),
  };
  await stopAll();
}

/** One echo call through `c`, its answer checked. */
async function checkedEcho(c: Client, tag: string): Promise<void> {
  const r = await c.callTool({ name: "echo", arguments: { text: tag } });
  if (r.isError || !JSON.stringify(r).includes(tag)) {
    checks.errors++;
    throw new Error(`echo through the workspace bench answered ${JSON.stringify(r).slice(0, 200)}`);
  }
}

/** The exactly-once test (3 runs of 300 calls, the daemon SIGKILLed twice per run): its counts, as printed by the test. */
async function exactlyOnce(): Promise<void> {
  log("exactly-once over daemon kills");
  const p = Bun.spawn({
    cmd: [BUN, "test", join(ROOT, "test/e2e/exactly-once.test.ts")],
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, MUX_RUNTIME_DIR: join(dir, "eo-run"), MUX_STATE_DIR: join(dir, "eo-state") },
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  const runs = [...(out + err).matchAll(/exactly-once run (\d+): (\{[^\n]*\})/g)].map((m) =>
    JSON.parse(m[2] as string),
  );
  report.exactlyOnce = { passed: code === 0, runs };
}

async function floods(): Promise<void> {
  const rows: { id: string; label: string; figures: FloodFigures }[] = [];
  for (const flood of FLOODS) {
    log(`HTTP flood: ${flood.id}`);
    const mux = await startMux(`flood-${flood.id}`, SDK_ECHO, { http: true });
    const url = mux.httpUrl as string;
    const serves = async (): Promise<number> => {
      const t0 = performance.now();
      try {
        const c = await sdkHttp(url);
        await c.ping();
        await c.close();
      } catch {
        checks.errors++;
        return Number.NaN;
      }
      return performance.now() - t0;
    };
    await serves();
    const size = flood.id === "slow-bodies" ? P.slowBodies : P.initOnly;
    rows.push({ id: flood.id, label: flood.label, figures: await flood.run({ pid: mux.pid, url, serves }, size) });
    await stopAll();
  }
  report.floods = rows;
}

// ---- report ----

type Verdict = { target: string; value: string; met: boolean; why?: string };

const results = (): PathResult[] => (report.paths as { results: PathResult[] } | undefined)?.results ?? [];
const find = (child: ChildKind, id: string): PathResult | undefined => results().find((r) => r.id === `${child}:${id}`);
const k = (x: number): string => (Number.isFinite(x) ? x.toLocaleString("en-US") : "-");
const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : "-");
/** "median (min–max)" of a spread. */
const sp = (s: Spread | undefined, f: (x: number) => string = k): string =>
  s ? (s.min === s.max ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`) : "-";
/** Per repetition, a's calls/s over b's (the two ran side by side in that repetition). */
function ratios(a: PathResult | undefined, b: PathResult | undefined): Spread | undefined {
  if (!a || !b) return undefined;
  const xs = a.runs.map(
    (r) => r.callsPerSec / ((b.runs.find((x) => x.rep === r.rep)?.callsPerSec ?? Number.NaN) || Number.NaN),
  );
  return spread(xs);
}
const times = (s: Spread | undefined): string => sp(s, (x) => `${x.toFixed(2)}×`);
const pcts = (s: Spread | undefined): string => sp(s, (x) => `${(100 * x).toFixed(0)} %`);

function verdicts(): Verdict[] {
  const n = P.clients;
  const list: Verdict[] = [];
  const sdk = (id: string) => find("sdk", id);
  // Added latency over one SDK client on the child's stdio, when that is the fastest (else totals).
  const direct = sdk("direct")?.summary.p50c1.median ?? Number.NaN;
  const fwdTotal = sdk("forwarder")?.summary.p50c1.median ?? Number.NaN;
  const muxTotal = sdk("socket")?.summary.p50c1.median ?? Number.NaN;
  const base = direct < Math.min(fwdTotal, muxTotal) ? direct : 0;
  list.push({
    target: "SDK server: added p50 latency of the daemon's hop ≤ 1.15 × the ideal forwarder's (1 call in flight)",
    value: `${((muxTotal - base) * 1000).toFixed(0)} µs vs ${((fwdTotal - base) * 1000).toFixed(0)} µs (${((muxTotal - base) / (fwdTotal - base)).toFixed(2)}×)${base === 0 ? "; totals (the direct stdio client was not the fastest in this run)" : ""}`,
    met: muxTotal - base <= 1.15 * (fwdTotal - base),
  });
  const r1 = ratios(sdk("socket"), sdk("forwarder"));
  list.push({
    target: `SDK server, ${n} SDK clients on the mux socket: ≥ 85 % of the ideal forwarder's calls/s`,
    value: `${sp(sdk("socket")?.summary.callsPerSec)} vs ${sp(sdk("forwarder")?.summary.callsPerSec)} calls/s: ${pcts(r1)}`,
    met: (r1?.median ?? 0) >= 0.85,
  });
  const r2 = ratios(sdk("socket"), sdk("direct"));
  list.push({
    target: `SDK server, ${n} SDK clients on the mux socket: ≥ 85 % of one SDK client driving the child directly`,
    value: `${sp(sdk("socket")?.summary.callsPerSec)} vs ${sp(sdk("direct")?.summary.callsPerSec)} calls/s: ${pcts(r2)}; the ideal forwarder: ${pcts(ratios(sdk("forwarder"), sdk("direct")))}`,
    met: (r2?.median ?? 0) >= 0.85,
    why: `The direct row is one client on one pipe (${n} calls share each read and write); on the socket each of ${n} clients makes its own system calls through one more process. The ideal forwarder on the same path gets ${pcts(ratios(sdk("forwarder"), sdk("direct")))} of the direct row in this run.`,
  });
  if (sdk("socat")) {
    const r = ratios(sdk("proxy"), sdk("socat"));
    list.push({
      target: `SDK server, ${n} SDK clients through mux-proxy: ≥ 90 % of the same through socat`,
      value: `${sp(sdk("proxy")?.summary.callsPerSec)} vs ${sp(sdk("socat")?.summary.callsPerSec)} calls/s: ${pcts(r)}; a bare Bun bridge: ${pcts(ratios(sdk("bridge"), sdk("socat")))}`,
      met: (r?.median ?? 0) >= 0.9,
      why: `The bare Bun bridge, which only copies bytes, gets ${pcts(ratios(sdk("bridge"), sdk("socat")))} of socat in this run: the floor for any proxy written in Bun; mux-proxy gets ${pcts(ratios(sdk("proxy"), sdk("bridge")))} of that floor while it also keeps the host's session.`,
    });
  }
  for (const child of ["sdk", "memory"] as const) {
    const name = child === "sdk" ? "SDK server" : "server-memory";
    const get = (id: string) => find(child, id);
    const viaProxy = ratios(get("proxy"), get("mcp-proxy"));
    list.push({
      target: `${name}, ${n} SDK clients through mux-proxy: ≥ 5 × mcp-proxy's calls/s`,
      value: `${sp(get("proxy")?.summary.callsPerSec)} vs ${sp(get("mcp-proxy")?.summary.callsPerSec)} calls/s: ${times(viaProxy)}`,
      met: (viaProxy?.median ?? 0) >= 5,
    });
    const viaHttp = ratios(get("http"), get("mcp-proxy"));
    list.push({
      target: `${name}, ${n} SDK clients on the HTTP front: ≥ 5 × mcp-proxy's calls/s`,
      value: `${sp(get("http")?.summary.callsPerSec)} vs ${sp(get("mcp-proxy")?.summary.callsPerSec)} calls/s: ${times(viaHttp)}`,
      met: (viaHttp?.median ?? 0) >= 5,
      why: `The ${n} SDK HTTP clients themselves spend ${get("http")?.summary.cpu.bench ?? "?"} µs of CPU per call in the benchmark process (median), on the same 2 cores as the daemon (${get("http")?.summary.cpu.daemon ?? "?"} µs) and the child (${get("http")?.summary.cpu.child ?? "?"} µs).`,
    });
    const h = get("http")?.summary.p50c1.median ?? Number.NaN;
    const m = get("mcp-proxy")?.summary.p50c1.median ?? Number.NaN;
    list.push({
      target: `${name}: HTTP front p50 at one call in flight ≤ 1/3 of mcp-proxy's`,
      value: `${sp(get("http")?.summary.p50c1, ms)} vs ${sp(get("mcp-proxy")?.summary.p50c1, ms)} ms (${(h / m).toFixed(2)}×)`,
      met: h <= m / 3,
    });
  }
  const legacy = sdk("http-legacy");
  const modern = sdk("http-modern");
  if (legacy && modern) {
    const cost = (r: typeof legacy) => r.summary.cpu.daemon ?? Number.NaN;
    list.push({
      target:
        "SDK server, raw HTTP clients: a 2026-07-28 (stateless) client's call costs no more than a 2025-11-25 session's through the same front (daemon CPU per call and p50 within 10 %)",
      value: `daemon ${cost(modern)} vs ${cost(legacy)} µs/call; p50 ${sp(modern.summary.p50c1, ms)} vs ${sp(legacy.summary.p50c1, ms)} ms; ${sp(modern.summary.callsPerSec)} vs ${sp(legacy.summary.callsPerSec)} calls/s`,
      met: cost(modern) <= 1.1 * cost(legacy) && modern.summary.p50c1.median <= 1.1 * legacy.summary.p50c1.median,
      why: "A modern request carries its envelope (`_meta`, three headers) in every request and the mux checks it; a legacy one names its session.",
    });
  }
  const mem = (report.memory ?? []) as { sessions: number; setup: string; rssMb: number; pssMb: number }[];
  const s = P.target20;
  const memHttp = mem.find((r) => r.sessions === s && r.setup.startsWith("mcp-mux HTTP"));
  const memMcp = mem.find((r) => r.sessions === s && r.setup.startsWith("mcp-proxy"));
  if (memHttp && memMcp)
    list.push({
      target: `${s} server-memory sessions over HTTP in no more memory than mcp-proxy's ${s}`,
      value: `PSS ${memHttp.pssMb} vs ${memMcp.pssMb} MB; RSS ${memHttp.rssMb} vs ${memMcp.rssMb} MB`,
      met: memHttp.pssMb <= memMcp.pssMb,
    });
  const idle = report.idle as Record<string, number> | undefined;
  if (idle) {
    list.push(
      {
        target: "one idle mux-proxy ≤ 22 MB RSS",
        value: `${idle.proxyRssMb} MB (PSS ${idle.proxyPssMb} MB); a compiled bare Bun bridge: ${idle.bareBridgeRssMb} MB`,
        met: (idle.proxyRssMb as number) <= 22,
        why: `A compiled Bun executable that only copies bytes takes ${idle.bareBridgeRssMb} MB RSS in this run, ${idle.bareBridgeFileMb} MB of it file pages of the runtime's code, which every proxy shares; mux-proxy adds ${((idle.proxyRssMb as number) - (idle.bareBridgeRssMb as number)).toFixed(1)} MB. What proxies cost together is PSS: each further one adds ${idle.marginalProxyPssMb} MB.`,
      },
      {
        target: "each further mux-proxy ≤ 3 MB PSS",
        value: `${idle.marginalProxyPssMb} MB (${idle.marginalFrom})`,
        met: (idle.marginalProxyPssMb as number) <= 3,
      },
      {
        target:
          "a daemon without --tray pays nothing for the tray: RSS within 1 MB of the same daemon built with no tray",
        value: `${idle.daemonReleasedRssMb} vs ${idle.daemonNoTrayRssMb} MB (median of 3 each)`,
        met: (idle.daemonReleasedRssMb as number) - (idle.daemonNoTrayRssMb as number) <= 1,
      },
      {
        target: `daemon with ${idle.daemonIdleClients} idle clients ≤ 80 MB RSS`,
        value: `${idle.daemonIdleRssMb} MB (PSS ${idle.daemonIdlePssMb} MB)`,
        met: (idle.daemonIdleRssMb as number) <= 80,
      },
    );
  }
  list.push({
    target: "0 errors and 0 wrong or crossed answers, every row, start-up and server-memory call above",
    value: `${checks.errors} errors, ${checks.mismatches} wrong or crossed answers`,
    met: checks.errors === 0 && checks.mismatches === 0,
  });
  const sc = report.scale as Record<string, number> | undefined;
  if (sc)
    list.push({
      target: `2 × ${k(sc.cycles as number)} connect/call/disconnect cycles on a warmed-up daemon (its record full): RSS growth < 5 MB`,
      value: `${(sc.growthMb as number).toFixed(1)} MB (${(sc.rssBeforeMb as number).toFixed(1)} → ${(sc.rssMiddleMb as number).toFixed(1)} → ${(sc.rssAfterMb as number).toFixed(1)} MB)`,
      met: (sc.growthMb as number) < 5,
    });
  const fuzz = (report.hostile as Record<string, Record<string, number>> | undefined)?.fuzz;
  if (fuzz)
    list.push({
      target: `fuzz (${fuzz.lines} hostile lines beside SDK clients): event loop never stalls 2 s`,
      value: `worst stall ${fuzz.worstStallMs} ms; RSS ${fuzz.baseRssMb} → peak ${fuzz.peakRssMb} MB`,
      met: (fuzz.worstStallMs as number) < 2000,
    });
  return list;
}

const KIND_LABELS: Record<PathKind, string> = {
  direct: "baseline",
  floor: "floor",
  mux: "mcp-mux",
  peer: "peer",
  before: "mcp-mux before",
};

function render(): string {
  const f = (n: number, d = 3): string => (Number.isFinite(n) ? n.toFixed(d) : "-");
  const lines: string[] = [];
  const v = verdicts();
  report.verdicts = v;
  const pr = report.paths as { clients: number; reps: number; calls: number; tputMs: number } | undefined;
  lines.push("# mcp-mux benchmarks", "");
  lines.push(
    `Generated by \`bun run bench${quick ? " -- --quick" : ""}\` on ${report.date} at commit \`${report.commit}\` (${report.clean ? "clean tree" : `**uncommitted changes**: ${(report.uncommitted as string[]).join(", ")}`}), built by the run itself.${quick ? " **Quick smoke run: small counts, one repetition; do not read the numbers as results.**" : ""} Every figure below was measured in this run.`,
    "",
    "## Machine",
    "",
    `- CPU: ${cpus()[0]?.model ?? "?"} × ${cpus().length} cores`,
    `- Memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- OS: ${process.platform} ${release()}`,
    `- Bun ${Bun.version}, Node ${Bun.spawnSync({ cmd: ["node", "--version"] })
      .stdout.toString()
      .trim()}; socat: ${report.socat}`,
    "- Everything runs on this one machine, clients included, and the machine may be shared: absolute figures vary between runs; ratios within one run hold better.",
    "",
    "## How this run was made",
    "",
    `- Built first: \`bun scripts/build.ts\` (dist/mux, dist/mux-proxy) from the tree at \`${report.commit}\`.${(report.before as { measured?: boolean } | undefined)?.measured ? ` The "before" commit \`${(report.before as { commit: string }).commit}\` is built the same way in a git worktree and measured beside it.` : report.before ? ` The "before" commit was not measured: ${(report.before as { why?: string }).why}.` : ""}`,
    "- Every executable the run starts (mux, mux-proxy, bun, node, socat, the before build and the compiled bridges) is dropped from the page cache alike before it runs (a file just written sits in the cache in large folios, and a process mapping it then shows more RSS for the same code).",
    ...(pr
      ? [
          `- Section 1: every path is started fresh for each run (its server, its daemon or peer, its ${pr.clients} clients), warmed the same way (${P.warm} calls 8 in flight, then ${P.warmMs} ms at full load), then measured: ${pr.calls} calls at 1 and at 8 in flight (latency), then ${pr.clients} clients each keeping one call in flight for ${pr.tputMs} ms (calls/s). The paths run interleaved, ${pr.reps} repetition${pr.reps > 1 ? "s" : ""}, in alternating order (forward, then backward); figures are the median and, in parentheses, the range over the repetitions. Ratios are taken per repetition (the two paths ran side by side) and then summarized the same way.`,
        ]
      : []),
    "- Sections 2 to 9 are measured once each (the tray comparison: median of 3), after section 1, in this order.",
    "- Every answer of every row is checked: an error, or an answer that is not the expected one (the echo of its own call; a graph from server-memory), is counted and shown.",
    "",
    "## Settings of each path",
    "",
    ...Object.entries(PEER_SETTINGS).map(([name, text]) => `- ${name}: ${text}.`),
    `- Servers: ${Object.values(CHILD_LABELS).join("; ")}. The verdicts use the SDK server and server-memory; the raw Bun echo child is a floor: it answers a whole input chunk with one write, which flatters whoever batches.`,
    "",
    "## Targets",
    "",
    "| Target | Measured | Verdict |",
    "| --- | --- | --- |",
  );
  for (const t of v) lines.push(`| ${t.target} | ${t.value} | ${t.met ? "met" : "**missed**"} |`);
  const missed = v.filter((t) => !t.met && t.why);
  if (missed.length > 0) {
    lines.push("", "What this run shows about the missed targets:", "");
    for (const t of missed) lines.push(`- **${t.target}**: ${t.why}`);
  }

  if (pr) {
    lines.push(
      "",
      `## 1. Side by side: calls per second and latency (${pr.clients} clients)`,
      "",
      `calls/s: ${pr.clients} clients, one call in flight each (the raw JSON-RPC rows too: one call in flight per connection; the baseline rows: one client or connection with ${pr.clients} calls in flight). p50/p99: ms per call at 1 and 8 calls in flight. CPU: microseconds of CPU (user + system) per call, median, spent by the per-client processes (proxies), the daemon (or forwarder, or HTTP peer), the server, and the benchmark process that runs every client. errors/wrong: summed over the repetitions.`,
    );
    for (const child of ["sdk", "memory", "raw"] as const) {
      const rows = results().filter((r) => r.child === child);
      if (rows.length === 0) continue;
      lines.push(
        "",
        `### ${CHILD_LABELS[child]}`,
        "",
        "| Path | | calls/s | p50 c=1 | p99 c=1 | p50 c=8 | p99 c=8 | proxies µs | daemon µs | server µs | clients µs | errors | wrong |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
      );
      const cell = (x: number | undefined) => (x === undefined ? "-" : String(x));
      for (const r of rows)
        lines.push(
          `| ${r.label} | ${KIND_LABELS[r.kind]} | ${sp(r.summary.callsPerSec)} | ${sp(r.summary.p50c1, ms)} | ${sp(r.summary.p99c1, ms)} | ${sp(r.summary.p50c8, ms)} | ${sp(r.summary.p99c8, ms)} | ${cell(r.summary.cpu.proxies)} | ${cell(r.summary.cpu.daemon)} | ${cell(r.summary.cpu.child)} | ${cell(r.summary.cpu.bench)} | ${r.errors} | ${r.mismatches} |`,
        );
    }
  }

  const prof = report.profiles as { after: Profile; before?: Profile & { commit: string } } | undefined;
  if (prof) {
    lines.push(
      "",
      "## 2. Where the time goes: CPU profiles",
      "",
      `\`bun --cpu-prof\` of the daemon and of every mux-proxy, run from the sources (readable names; more CPU per call than the compiled builds of section 1), under ${P.clients} SDK clients → mux-proxy → mux with the SDK server, ${P.profileMs} ms after ${P.warmMs} ms of warm-up. Self time, as a share of each side's busy time; native frames (socket and pipe writes) show without a file.${prof.before ? ` The before commit \`${prof.before.commit}\` was profiled in this run, from its git worktree, under the same load.` : ""}`,
      "",
    );
    const table = (title: string, s: ReturnType<typeof summarize>) => {
      lines.push(`${title} (busy ${s.busyMs} ms):`, "", "| Self % | Function |", "| --- | --- |");
      for (const e of s.top) lines.push(`| ${e.selfPct.toFixed(1)} | \`${e.where}\` |`);
      lines.push("");
    };
    const side = (title: string, p: Profile) => {
      lines.push(
        `### ${title}: ${k(p.callsPerSec)} calls/s while profiled; CPU µs/call: proxies ${p.cpu.proxies}, daemon ${p.cpu.daemon}; ${p.errors} errors or wrong answers`,
        "",
      );
      table("mux-proxy, all processes", p.proxy);
      table("daemon", p.daemon);
    };
    if (prof.before) side(`Before (\`${prof.before.commit}\`)`, prof.before);
    side(`After (\`${report.commit}\`)`, prof.after);
  }

  if (report.memory) {
    lines.push(
      "## 3. Memory and processes (server-memory, each session initialized and listed)",
      "",
      "RSS counts every resident page of every process involved, shared pages once per process; PSS divides shared pages among the processes sharing them (what the processes really cost the machine together). Hosts' own processes are not counted.",
      "",
      "| Sessions | Setup | RSS (MB) | PSS (MB) | Processes |",
      "| --- | --- | --- | --- | --- |",
    );
    for (const r of report.memory as {
      sessions: number;
      setup: string;
      rssMb: number;
      pssMb: number;
      processes: number;
    }[])
      lines.push(`| ${r.sessions} | ${r.setup} | ${r.rssMb} | ${r.pssMb} | ${r.processes} |`);
    const idle = report.idle as Record<string, number | string>;
    lines.push(
      "",
      `- One idle mux-proxy: ${idle.proxyRssMb} MB RSS, ${idle.proxyPssMb} MB PSS; each further one adds ${idle.marginalProxyPssMb} MB PSS (${idle.marginalFrom}).`,
      `- The daemon: ${idle.daemonNoClientsRssMb} MB RSS with no clients (its child excluded), ${idle.daemonIdleRssMb} MB RSS (${idle.daemonIdlePssMb} MB PSS) with ${idle.daemonIdleClients} idle initialized clients.`,
      `- The daemon as released (tray helper embedded, not asked for) with one client: ${idle.daemonReleasedRssMb} MB RSS; the same daemon built with no tray at all: ${idle.daemonNoTrayRssMb} MB (medians of 3).`,
      "",
    );
  }

  const st = report.startup as Record<string, unknown> | undefined;
  if (st) {
    lines.push(
      "## 4. Startup",
      "",
      `Warm (${st.runs} runs; the daemon already serves server-memory; ${st.errors} errors in the answers of this section):`,
      "",
      "| From launching mux-proxy to | p50 (ms) | p90 (ms) |",
      "| --- | --- | --- |",
      `| first initialize result (from the cache) | ${f(st.initP50 as number, 1)} | ${f(st.initP90 as number, 1)} |`,
      `| first tools/list result | ${f(st.listP50 as number, 1)} | ${f(st.listP90 as number, 1)} |`,
      "",
      `Cold (${st.coldRuns} runs each; no daemon: \`mux-proxy --config\` starts it, as a rewired host entry does):`,
      "",
      "| Child | daemon listening p50 (ms) | initialize answered p50 (ms) | p90 (ms) |",
      "| --- | --- | --- | --- |",
    );
    for (const [name, c] of Object.entries(st.cold as Record<string, Record<string, number>>))
      lines.push(
        `| ${name} | ${f(c.listeningP50 as number, 1)} | ${f(c.initializedP50 as number, 1)} | ${f(c.initializedP90 as number, 1)} |`,
      );
    lines.push("");
  }

  const sc = report.scale as Record<string, number> | undefined;
  if (sc)
    lines.push(
      "## 5. Scale and leaks",
      "",
      `- ${k(sc.clients as number)} concurrent clients × ${sc.callsPerClient} calls: ${sc.errors} errors, ${sc.mismatches} wrong or crossed answers, ${f((sc.scaleMs as number) / 1000, 2)} s.`,
      `- Leaks, on a daemon of its own: ${k(sc.warmCycles as number)} connect/initialize/call/disconnect cycles to warm it up (the traffic record full, the heap at its working size), then its baseline, then twice ${k(sc.cycles as number)} more (8 at a time, ${f((sc.cyclesMs as number) / 1000, 1)} s each): RSS ${f(sc.rssBeforeMb as number, 1)} → ${f(sc.rssMiddleMb as number, 1)} → ${f(sc.rssAfterMb as number, 1)} MB (largest growth ${f(sc.growthMb as number, 1)} MB).`,
      "",
    );

  if (report.large) {
    lines.push(
      "## 6. Large results (raw echo child)",
      "",
      "| Size | direct pipe (ms) | through mux (ms) | intact | daemon peak RSS (MB) |",
      "| --- | --- | --- | --- | --- |",
    );
    for (const r of report.large as {
      mib: number;
      directMs: number;
      muxMs: number;
      ok: boolean;
      daemonPeakMb: number;
    }[])
      lines.push(
        `| ${r.mib} MiB | ${f(r.directMs, 1)} | ${f(r.muxMs, 1)} | ${r.ok ? "yes" : "**no**"} | ${f(r.daemonPeakMb, 1)} |`,
      );
    lines.push("");
  }

  const h = report.hostile as Record<string, Record<string, number | string>> | undefined;
  if (h) {
    lines.push("## 7. Hostile input (figures from the fuzz and backpressure tests, run by this benchmark)", "");
    if (h.fuzz)
      lines.push(
        `- Fuzz: ${h.fuzz.lines} generated hostile lines (${h.fuzz.batches} batches, ${h.fuzz.requests} requests) on one connection while two SDK clients made ${h.fuzz.sdkCalls} calls: worst event-loop stall ${h.fuzz.worstStallMs} ms, daemon RSS ${h.fuzz.baseRssMb} → peak ${h.fuzz.peakRssMb} MB.`,
      );
    if (h.flood)
      lines.push(
        `- ${h.flood.requestsMb} MB of requests sent while the server reads nothing: the daemon grows ${h.flood.daemonGrowthMb} MB (the rest waits in the client).`,
      );
    if (h.deaf)
      lines.push(
        `- A client that sends ${h.deaf.requestsMb} MB of requests and reads nothing: the daemon grows ${h.deaf.daemonGrowthMb} MB before it stops reading that client and cuts it off.`,
      );
    if (h.echo50)
      lines.push(
        `- Three 50 MiB echo round trips: daemon RSS ${h.echo50.baseRssMb} MB, peak ${h.echo50.peakRssMb} MB, after each ${h.echo50.afterRssMb} MB.`,
      );
    if (!h.flood && !h.deaf && !h.echo50 && quick) lines.push("- The backpressure tests are not run in a quick run.");
    lines.push("");
  }

  const fl = report.floods as { id: string; label: string; figures: FloodFigures }[] | undefined;
  if (fl) {
    lines.push(
      "## 8. HTTP floods (the daemon's own process: descriptors and RSS)",
      "",
      'Each flood on a fresh daemon with the HTTP front (SDK server child), warmed by one session; "round trip" is a new SDK session\'s ping through the same front, after the flood is in place.',
      "",
      "| Flood | Figures |",
      "| --- | --- |",
    );
    for (const r of fl)
      lines.push(
        `| ${r.label} | ${Object.entries(r.figures)
          .map(([name, value]) => `${name} ${typeof value === "number" ? k(value) : value}`)
          .join("; ")} |`,
      );
    for (const row of PENDING_ROWS) lines.push(`| ${row} | not measured in this run |`);
    lines.push("");
  }

  const ws = report.workspaces as Record<string, number | number[]> | undefined;
  if (ws) {
    lines.push(
      "## 8b. Sharing per workspace",
      "",
      `${ws.projects} project folders, ${ws.hostsPerProject} hosts (SDK clients through mux-proxy, started in the folder) each, on a \`share = "workspace"\` service and on a \`share = "global"\` one, both the SDK echo server.`,
      "",
      "| Service | server processes | p50 of one client's sequential echo calls (µs, median of runs; runs) |",
      "| --- | --- | --- |",
      `| share = workspace | ${ws.workspaceServiceProcesses} (target: ${ws.projects}) | ${ws.p50WorkspaceUs} (${(ws.p50WorkspaceRunsUs as number[]).join(", ")}) |`,
      `| share = global | ${ws.globalServiceProcesses} (target: 1) | ${ws.p50GlobalUs} (${(ws.p50GlobalRunsUs as number[]).join(", ")}) |`,
      "",
    );
  }
  const dm = report.dormancy as Record<string, number> | undefined;
  if (dm) {
    const mib = (kb: number | undefined): string => f((kb ?? 0) / 1024, 1);
    lines.push(
      "## 8d. Dormant servers and the handshake cache",
      "",
      `One \`mux serve --config\` daemon with ${dm.services} server-memory services (\`dormant_after_ms = ${dm.dormantAfterMs}\`), one raw host connected to each (initialize, tools/list, one read_graph call), then idle.`,
      "",
      "| Figure | value | target |",
      "| --- | --- | --- |",
      `| RSS of the process tree, servers up | ${mib(dm.treeUpKb)} MiB (${dm.treeUpProcesses} processes) | |`,
      `| RSS of the process tree, every service dormant | ${mib(dm.treeDormantKb)} MiB (${dm.treeDormantProcesses} processes) | the daemon alone: ${mib(dm.daemonAloneKb)} MiB |`,
      `| A host's connect (initialize + tools/list) to a dormant service, p50 / p99 | ${dm.connectP50Ms} / ${dm.connectP99Ms} ms (${dm.connectStillDormant} of ${dm.services} still dormant after) | p50 ≤ 5 ms |`,
      `| The same after a daemon restart, from the persisted cache, p50 / p99 | ${dm.cacheConnectP50Ms} / ${dm.cacheConnectP99Ms} ms (${dm.cacheDormant} of ${dm.services} dormant, tree ${mib(dm.treeAfterRestartKb)} MiB, ${dm.treeAfterRestartProcesses} processes) | p50 ≤ 5 ms |`,
      `| First tool call to a dormant service (time to wake), p50 / max | ${dm.wakeP50Ms} / ${dm.wakeMaxMs} ms | |`,
      `| Cold start: a host's initialize + first tool call to a fresh service, p50 / max | ${dm.coldP50Ms} / ${dm.coldMaxMs} ms | |`,
      "",
    );
  }
  const eo = report.exactlyOnce as { passed: boolean; runs: Record<string, number>[] } | undefined;
  if (eo) {
    lines.push(
      "## 8c. Exactly once over daemon kills",
      "",
      `test/e2e/exactly-once.test.ts (${eo.passed ? "passed" : "FAILED"}): each run sends 300 calls through one mux-proxy and SIGKILLs the auto-started daemon twice; every id must get one answer, never run twice, never run after "not sent" (-32037). "may have run" (-32030) answers went to calls the dead daemon had taken; "lost runs" are those of them that had not reached the server.`,
      "",
      "| Run | ids | answers | results | not sent (-32037) | may have run (-32030) | executions | of those -32030, not run |",
      "| --- | --- | --- | --- | --- | --- | --- | --- |",
      ...eo.runs.map(
        (r, i) =>
          `| ${i + 1} | ${r.ids} | ${r.answers} | ${r.results} | ${r.notSent} | ${r.mayHaveRun} | ${r.executions} | ${r.lostRuns} |`,
      ),
      "",
    );
  }

  lines.push("## 9. Release archives", "");
  if (Array.isArray(report.release)) {
    lines.push("| Archive | compressed (MiB) | unpacked (MiB) |", "| --- | --- | --- |");
    for (const r of report.release as { archive: string; compressedMb: number; unpackedMb: number }[])
      lines.push(`| ${r.archive} | ${f(r.compressedMb, 1)} | ${f(r.unpackedMb, 1)} |`);
  } else lines.push(`- ${String(report.release ?? "not measured in this run")}.`);
  const inst = report.installed as { muxMb: number; proxy: string } | undefined;
  if (inst)
    lines.push(
      "",
      `Installed (install.sh): \`mux\` ${f(inst.muxMb, 1)} MiB, \`mux-proxy\` ${inst.proxy}; an idle mux-proxy's memory is in the memory section (marginal PSS per proxy).`,
    );
  lines.push("");
  return lines.join("\n");
}

/** The README's Performance lines: figures of this report only, with where they come from. */
function readmeLines(): string {
  const n = P.clients;
  const sdk = (id: string) => find("sdk", id);
  const mem = (id: string) => find("memory", id);
  const memory = (report.memory ?? []) as { sessions: number; setup: string; pssMb: number; processes: number }[];
  const at = (setup: string) => memory.find((r) => r.sessions === P.target20 && r.setup.startsWith(setup));
  const idle = report.idle as Record<string, number> | undefined;
  const fuzz = (report.hostile as Record<string, Record<string, number>> | undefined)?.fuzz;
  const echo50 = (report.hostile as Record<string, Record<string, string>> | undefined)?.echo50;
  const out = [
    `Figures from [docs/benchmarks.md](docs/benchmarks.md), generated by \`bun run bench\` at commit \`${report.commit}\` on ${String(report.date).slice(0, 10)} (a shared 2-core machine; medians of ${P.reps} interleaved runs, ranges in the report):`,
    "",
    `- **Throughput** (${n} SDK clients, one call in flight each, an SDK server with an echo tool): ${times(ratios(sdk("proxy"), sdk("mcp-proxy")))} mcp-proxy's calls per second through \`mux-proxy\`, ${times(ratios(sdk("http"), sdk("mcp-proxy")))} through the HTTP front; on server-memory ${times(ratios(mem("proxy"), mem("mcp-proxy")))} and ${times(ratios(mem("http"), mem("mcp-proxy")))}. SDK clients on the mux socket get ${pcts(ratios(sdk("socket"), sdk("forwarder")))} of an ideal forwarder's calls per second.`,
  ];
  const direct = at("one server per session");
  const viaProxy = at("mcp-mux:");
  const viaHttp = at("mcp-mux HTTP");
  const mcp = at("mcp-proxy");
  if (direct && viaProxy && viaHttp && mcp && idle)
    out.push(
      `- **Memory**: ${P.target20} sessions of \`@modelcontextprotocol/server-memory\` take ${direct.pssMb} MB (PSS, ${direct.processes} processes) when each host spawns its own; through \`mux-proxy\` ${viaProxy.pssMb} MB (${viaProxy.processes} processes); through the HTTP front ${viaHttp.pssMb} MB (${viaHttp.processes} processes); mcp-proxy ${mcp.pssMb} MB. Each further \`mux-proxy\` adds ${idle.marginalProxyPssMb} MB; the daemon holds ${k(idle.daemonIdleClients as number)} idle clients in ${idle.daemonIdleRssMb} MB.`,
    );
  if (fuzz)
    out.push(
      `- **Hostile input**: ${k(fuzz.lines as number)} fuzzed lines beside SDK clients, ${checks.errors + checks.mismatches} wrong answers in the whole run, worst event-loop stall ${fuzz.worstStallMs} ms${echo50 ? `; 50 MiB messages round-trip with the daemon at ${echo50.afterRssMb} MB after each` : ""}.`,
    );
  return out.join("\n");
}

const README_START = "<!-- bench:performance:start -->";
const README_END = "<!-- bench:performance:end -->";

function writeReadmeLines(): void {
  const file = join(ROOT, "README.md");
  const text = readFileSync(file, "utf8");
  const a = text.indexOf(README_START);
  const b = text.indexOf(README_END);
  if (a < 0 || b < a) throw new Error(`README.md has no ${README_START} … ${README_END} block`);
  writeFileSync(file, `${text.slice(0, a + README_START.length)}\n${readmeLines()}\n${text.slice(b)}`);
  log("wrote the Performance lines of README.md");
}

// ---- main ----

const sections = process.env.BENCH_ONLY?.split(",");
const want = (name: string): boolean => !sections || sections.includes(name);
let before: ReturnType<typeof buildBefore>;
try {
  buildThis();
  if (beforeCommit && (want("paths") || want("profiles"))) before = buildBefore(beforeCommit);
  else if (!beforeCommit) report.before = { measured: false, why: quick ? "not built in a quick run" : "--no-before" };
  uncacheAll(before ? [before.mux, before.proxy] : []);
  if (want("paths"))
    await sideBySide(before ? { commit: before.commit, mux: before.mux, proxy: before.proxy } : undefined);
  if (want("profiles")) await profiles(before);
  if (want("memory")) await memory();
  if (want("startup")) await startup();
  if (want("scale")) await scale();
  if (want("large")) await large();
  if (want("hostile")) await hostile();
  if (want("floods")) await floods();
  if (want("workspaces")) await workspaces();
  if (want("dormancy")) await dormancy();
  if (want("exactly-once")) await exactlyOnce();
  if (want("release")) await releaseSizes();
  report.checks = { ...checks };
  if (sections) {
    report.verdicts = verdicts();
    console.log(JSON.stringify(report, null, 2));
  } else {
    mkdirSync(dirname(outPath), { recursive: true });
    writeFileSync(outPath, render());
    writeFileSync(outPath.replace(/\.md$/, ".json"), `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${outPath}`);
    if (writeReadme) writeReadmeLines();
    else writeFileSync(join(dirname(outPath), "README-performance.md"), `${readmeLines()}\n`);
  }
} finally {
  await stopAll();
  if (before) removeWorktree(before.root);
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
