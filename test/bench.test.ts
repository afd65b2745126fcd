/** A short smoke run of the benchmark suite, so it cannot rot (its timings are not asserted). */

import { expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { ROOT } from "./helpers.ts";

test("bun run bench -- --quick builds, measures every path and produces a complete report with a verdict per target, never over the committed report or the README", async () => {
  const committed = readFileSync(join(ROOT, "docs/benchmarks.md"), "utf8");
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  // No --out: a quick run picks a temporary folder by itself.
  const proc = Bun.spawn({
    cmd: [process.execPath, join(ROOT, "scripts/bench.ts"), "--quick"],
    cwd: ROOT,
    stdout: "ignore",
    stderr: "pipe",
  });
  const stderr = await new Response(proc.stderr).text();
  expect({ code: await proc.exited, stderr: stderr.slice(-2000) }).toMatchObject({ code: 0 });
  expect(readFileSync(join(ROOT, "docs/benchmarks.md"), "utf8")).toBe(committed);
  expect(readFileSync(join(ROOT, "README.md"), "utf8")).toBe(readme);
  const out = /wrote (\S+)/.exec(stderr)?.[1] as string;
  expect(out.startsWith(join(ROOT, "docs"))).toBe(false);
  using _cleanup = { [Symbol.dispose]: () => rmSync(dirname(out), { recursive: true, force: true }) };
  const md = readFileSync(out, "utf8");
  for (const heading of [
    "## Machine",
    "## How this run was made",
    "## Settings of each path",
    "## Targets",
    "## 1. Side by side",
    "## 2. Where the time goes",
    "## 3. Memory",
    "## 4. Startup",
    "## 5. Scale",
    "## 6. Large",
    "## 7. Hostile input",
    "## 8. HTTP floods",
    "## 9. Release archives",
  ]) {
    expect(md).toContain(heading);
  }
  expect(md).toMatch(/at commit `[0-9a-f]{12}` \((clean tree|\*\*uncommitted changes\*\*)/);
  const json = JSON.parse(readFileSync(out.replace(/\.md$/, ".json"), "utf8"));
  expect(json.commitFull).toMatch(/^[0-9a-f]{40}$/);
  expect(typeof json.clean).toBe("boolean");
  // Every target has a verdict, and no path gave a wrong or crossed answer.
  expect(json.verdicts.length).toBeGreaterThanOrEqual(15);
  for (const v of json.verdicts) expect(typeof v.met).toBe("boolean");
  expect(json.verdicts.find((v: { target: string }) => v.target.startsWith("0 errors"))?.met).toBe(true);
  expect(json.checks).toEqual({ errors: 0, mismatches: 0 });
  // The verdicts rest on the SDK server and server-memory; the raw echo child is a floor only.
  for (const v of json.verdicts.filter((x: { target: string }) => /calls\/s|latency|p50/.test(x.target)))
    expect(v.target).toMatch(/^(SDK server|server-memory)/);
  const rows = json.paths.results as {
    id: string;
    child: string;
    runs: unknown[];
    errors: number;
    mismatches: number;
  }[];
  for (const child of ["sdk", "memory", "raw"]) expect(rows.some((r) => r.child === child)).toBe(true);
  for (const id of ["sdk:proxy", "sdk:mcp-proxy", "sdk:http", "memory:proxy", "memory:mcp-proxy", "memory:http"])
    expect(rows.map((r) => r.id)).toContain(id);
  for (const row of rows) expect([row.id, row.runs.length, row.errors, row.mismatches]).toEqual([row.id, 1, 0, 0]);
  expect(json.large.every((r: { ok: boolean }) => r.ok)).toBe(true);
  for (const setup of ["one server per session", "mcp-mux:", "mcp-mux HTTP", "mcp-proxy", "supergateway"]) {
    expect(json.memory.some((r: { setup: string }) => r.setup.startsWith(setup))).toBe(true);
  }
  for (const r of json.memory) expect(r.pssMb).toBeGreaterThan(0);
  expect(json.hostile.fuzz.lines).toBeGreaterThan(0);
  expect(json.profiles.after.daemon.top.length).toBeGreaterThan(0);
  expect(json.profiles.after.proxy.top.length).toBeGreaterThan(0);
  expect(json.floods.map((f: { id: string }) => f.id)).toEqual(["slow-bodies", "initialize-only"]);
  expect(json.scale.warmCycles).toBeGreaterThan(0);
  // The README's Performance lines, as a full run would write them: this report's figures only.
  const lines = readFileSync(join(dirname(out), "README-performance.md"), "utf8");
  expect(lines).toContain(`at commit \`${json.commit}\``);
  expect(lines).toContain("mcp-proxy's calls per second through `mux-proxy`");
  expect(lines).not.toContain("NaN");
}, 180_000);
