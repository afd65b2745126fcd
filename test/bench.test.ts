/** A short smoke run of the benchmark suite, so it cannot rot (its timings are not asserted). */

import { expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { ROOT } from "./helpers.ts";

test("bun run bench -- --quick produces a complete report with a verdict per target, never over the committed one", async () => {
  const committed = readFileSync(join(ROOT, "docs/benchmarks.md"), "utf8");
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
  const out = /wrote (\S+)/.exec(stderr)?.[1] as string;
  expect(out.startsWith(join(ROOT, "docs"))).toBe(false);
  using _cleanup = { [Symbol.dispose]: () => rmSync(dirname(out), { recursive: true, force: true }) };
  const md = readFileSync(out, "utf8");
  for (const heading of [
    "## Machine",
    "## Targets",
    "## 1. Latency",
    "## 2. Throughput",
    "## 3. Where the time goes",
    "## 4. Memory",
    "## 5. Startup",
    "## 6. Scale",
    "## 7. Large",
    "## 8. Hostile input",
    "## 9. Release archives",
  ]) {
    expect(md).toContain(heading);
  }
  expect(md).toMatch(/at commit `[0-9a-f]{12}/);
  const json = JSON.parse(readFileSync(out.replace(/\.md$/, ".json"), "utf8"));
  // Every target has a verdict, and no path gave a wrong or crossed answer.
  expect(json.verdicts.length).toBeGreaterThanOrEqual(13);
  for (const v of json.verdicts) expect(typeof v.met).toBe("boolean");
  expect(json.verdicts.find((v: { target: string }) => v.target.startsWith("0 errors"))?.met).toBe(true);
  expect(json.large.every((r: { ok: boolean }) => r.ok)).toBe(true);
  for (const row of json.throughput.rows) expect([row.path, row.errors, row.mismatches]).toEqual([row.path, 0, 0]);
  for (const setup of ["one server per session", "mcp-mux:", "mcp-mux HTTP", "mcp-proxy", "supergateway"]) {
    expect(json.memory.some((r: { setup: string }) => r.setup.startsWith(setup))).toBe(true);
  }
  for (const r of json.memory) expect(r.pssMb).toBeGreaterThan(0);
  expect(json.hostile.fuzz.lines).toBeGreaterThan(0);
  expect(json.profiles.daemon.top.length).toBeGreaterThan(0);
  expect(json.profiles.proxy.top.length).toBeGreaterThan(0);
}, 180_000);
