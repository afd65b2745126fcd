/** A short smoke run of the benchmark suite, so it cannot rot (its timings are not asserted). */

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, tempDir } from "./helpers.ts";

test("bun run bench -- --quick produces a complete report with a verdict per target", async () => {
  using d = tempDir();
  const out = join(d.path, "bench.md");
  const proc = Bun.spawn({
    cmd: [process.execPath, join(ROOT, "scripts/bench.ts"), "--quick", "--out", out],
    cwd: ROOT,
    stdout: "ignore",
    stderr: "pipe",
  });
  const stderr = await new Response(proc.stderr).text();
  expect({ code: await proc.exited, stderr: stderr.slice(-2000) }).toMatchObject({ code: 0 });
  const md = readFileSync(out, "utf8");
  for (const heading of [
    "## Machine",
    "## Targets",
    "## 1–2. Latency",
    "## 3. Throughput",
    "## 4. Memory",
    "## 5. Startup",
    "## 6. Scale",
    "## 7. Large",
  ]) {
    expect(md).toContain(heading);
  }
  const json = JSON.parse(readFileSync(out.replace(/\.md$/, ".json"), "utf8"));
  expect(json.verdicts.length).toBe(9);
  expect(json.scale.errors).toBe(0);
  expect(json.scale.mismatches).toBe(0);
  expect(json.large.every((r: { ok: boolean }) => r.ok)).toBe(true);
  for (const setup of ["one server per session", "mcp-mux", "mcp-proxy", "supergateway"]) {
    expect(json.memory.some((r: { setup: string }) => r.setup.startsWith(setup))).toBe(true);
  }
}, 180_000);
