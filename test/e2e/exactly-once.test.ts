/**
 * Exactly one answer per request id across daemon kills (issue 20, item 3): a host pours
 * hundreds of padded calls into a compiled mux-proxy (more than the socket takes at once, so
 * the proxy holds some it has not sent), the daemon it auto-started is SIGKILLed twice per run
 * while they are in flight, and for every id: exactly one answer; a result means the server ran
 * it once; -32037 (not sent) means it never ran; -32030 (sent, the daemon went away) means at
 * most once. No half-written line reaches a new daemon (no parse error, no answer to an id
 * nobody sent). Real processes only: dist/mux-proxy, dist/mux, a server logging executions.
 */

import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, type Json, ROOT, reportFigure, testScope, waitFor } from "../helpers.ts";

const scope = testScope("bin");
const EXEC_SERVER = join(ROOT, "test/fixtures/exec-server.ts");
const CALLS = 300;
const RUNS = 3;
const PAD = "p".repeat(4000);

/** Pids of live `mux serve --config <config>` processes. */
function daemons(config: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      if (cmd.includes("serve") && cmd.includes(config)) out.push(Number(entry));
    } catch {}
  }
  return out;
}

test(`${RUNS} runs of ${CALLS} calls, the daemon SIGKILLed twice per run: one answer per id, never run twice, never run after a failure`, async () => {
  const dir = scope.dir();
  const execLog = join(dir, "exec.log");
  writeFileSync(execLog, "");
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    HOME: dir,
    MUX_RUNTIME_DIR: join(dir, "run"),
    MUX_STATE_DIR: join(dir, "state"),
  };
  delete env.XDG_RUNTIME_DIR;
  const socket = join(dir, "run", "exec.sock");
  const config = join(dir, "mux.json");
  writeFileSync(
    config,
    JSON.stringify({ servers: { exec: { socket, cmd: BUN, args: [EXEC_SERVER], env: { EXEC_LOG: execLog } } } }),
  );
  scope.defer(async () => {
    for (const pid of daemons(config)) process.kill(pid, "SIGKILL");
  });
  const host = await scope.raw(socket, "proxy", { args: ["--config", config], env });
  await host.handshake();
  await host.settle();

  const answersTo = (prefix: string) =>
    host.received.filter((m) => typeof m.id === "string" && m.id.startsWith(prefix) && ("result" in m || "error" in m));
  const results = (prefix: string) => answersTo(prefix).filter((m) => m.result !== undefined).length;
  /** Once the daemon has answered `more` further calls, SIGKILL it. */
  const killAfter = async (prefix: string, more: number): Promise<void> => {
    const from = results(prefix);
    await waitFor(() => results(prefix) >= from + more, 60_000, `${more} more results`);
    await waitFor(() => daemons(config).length > 0, 10_000, "a daemon");
    const [pid] = daemons(config);
    process.kill(pid as number, "SIGKILL");
    await waitFor(() => !daemons(config).includes(pid as number), 5000, "the daemon to die");
  };

  const totals = { ids: 0, answers: 0, results: 0, notSent: 0, mayHaveRun: 0, executions: 0, lostRuns: 0 };
  for (let run = 1; run <= RUNS; run++) {
    const prefix = `r${run}-`;
    const batch = Array.from(
      { length: CALLS },
      (_, i) =>
        `${JSON.stringify({ jsonrpc: "2.0", id: `${prefix}${i}`, method: "tools/call", params: { name: "exec", arguments: { key: `${prefix}${i}`, ms: 5 + (i % 7) * 5, pad: PAD } } })}\n`,
    ).join("");
    host.send(batch.slice(0, -1)); // one write: far more than the daemon's socket takes at once
    await killAfter(prefix, 20);
    await killAfter(prefix, 20); // the daemon the proxy started again
    await waitFor(() => answersTo(prefix).length >= CALLS, 60_000, "every id answered");
    await host.settle(); // a late or second answer would be in by now

    const executions = new Map<string, number>();
    for (const key of readFileSync(execLog, "utf8").split("\n"))
      if (key.startsWith(prefix)) executions.set(key, (executions.get(key) ?? 0) + 1);
    const answers = new Map<string, Json[]>();
    for (const m of answersTo(prefix)) answers.set(m.id as string, [...(answers.get(m.id as string) ?? []), m]);
    const counts = { ids: CALLS, answers: 0, results: 0, notSent: 0, mayHaveRun: 0, executions: 0, lostRuns: 0 };
    const wrong: string[] = [];
    for (let i = 0; i < CALLS; i++) {
      const id = `${prefix}${i}`;
      const got = answers.get(id) ?? [];
      const ran = executions.get(id) ?? 0;
      counts.answers += got.length;
      counts.executions += ran;
      if (got.length !== 1) wrong.push(`${id}: ${got.length} answers`);
      if (ran > 1) wrong.push(`${id}: ran ${ran} times`);
      const a = got[0];
      if (!a) continue;
      const code = (a.error as Json | undefined)?.code;
      if (a.result) {
        counts.results++;
        if (ran !== 1) wrong.push(`${id}: a result, but ran ${ran} times`);
      } else if (code === -32037) {
        counts.notSent++;
        if (ran !== 0) wrong.push(`${id}: told not sent (-32037), but ran ${ran} times`);
      } else if (code === -32030) {
        counts.mayHaveRun++;
        if (ran === 0) counts.lostRuns++;
      } else wrong.push(`${id}: unexpected answer ${JSON.stringify(a).slice(0, 200)}`);
    }
    // Nothing else: no parse error from a line completed on a new daemon, no unknown id.
    const strays = host.received.filter(
      (m) => !(typeof m.id === "string" && /^(r\d+-\d+|init(-\d+)?|settle-\d+)$/.test(m.id)) && m.method === undefined,
    );
    for (const s of strays) wrong.push(`stray message ${JSON.stringify(s).slice(0, 200)}`);
    console.log(`exactly-once run ${run}: ${JSON.stringify(counts)}`);
    for (const [k, v] of Object.entries(counts)) totals[k as keyof typeof totals] += v;
    expect(wrong).toEqual([]);
  }
  console.log(`exactly-once total over ${RUNS} runs, ${2 * RUNS} daemon kills: ${JSON.stringify(totals)}`);
  reportFigure("exactly-once", { runs: RUNS, kills: 2 * RUNS, ...totals });
  expect(existsSync(socket)).toBe(true);
}, 240_000);
