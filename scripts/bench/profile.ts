/**
 * Summaries of CPU profiles written by `bun --cpu-prof` (Chrome .cpuprofile format): self time
 * per function (grouped by name and file), idle excluded, as shares of the busy time.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** One line of a summary. */
export interface ProfileEntry {
  /** `function (file:line)`. */
  where: string;
  /** Share of the profiled process's busy time, in percent. */
  selfPct: number;
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/** The top `n` functions by self time over every profile in `dir` (several processes add up). */
export function summarize(dir: string, n = 10): { busyMs: number; top: ProfileEntry[] } {
  const self = new Map<string, number>();
  let busy = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))) {
    const p = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
    const byId = new Map(p.nodes.map((node) => [node.id, node]));
    p.samples.forEach((id, i) => {
      const frame = byId.get(id)?.callFrame;
      const dt = p.timeDeltas[i] ?? 0;
      if (!frame || frame.functionName === "(idle)") return;
      const where = label(frame);
      self.set(where, (self.get(where) ?? 0) + dt);
      busy += dt;
    });
  }
  const top = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([where, us]) => ({ where, selfPct: Math.round((1000 * us) / Math.max(1, busy)) / 10 }));
  return { busyMs: Math.round(busy / 1000), top };
}

function label(frame: { functionName: string; url: string; lineNumber: number }): string {
  const name = frame.functionName || "(anonymous)";
  if (!frame.url) return name;
  const file = frame.url.replace(/^.*\/(src|node_modules)\//, "$1/");
  return `${name} (${file}:${frame.lineNumber + 1})`;
}

if (import.meta.main) {
  const dir = process.argv[2] as string;
  const { busyMs, top } = summarize(dir, Number(process.argv[3] ?? 25));
  console.log(`busy ${busyMs} ms`);
  for (const e of top) console.log(`${e.selfPct.toFixed(1).padStart(5)} %  ${e.where}`);
}
