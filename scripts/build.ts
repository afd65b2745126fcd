/**
 * Build the standalone executables dist/mux and dist/mux-proxy with `bun build --compile`.
 * Usage: bun scripts/build.ts
 */
import { mkdirSync } from "node:fs";

mkdirSync("dist", { recursive: true });
const targets = [
  { entry: "src/bin/mux.ts", out: "dist/mux" },
  { entry: "src/bin/mux-proxy.ts", out: "dist/mux-proxy" },
];
for (const { entry, out } of targets) {
  const proc = Bun.spawnSync({
    cmd: [process.execPath, "build", "--compile", "--minify", "--sourcemap=none", entry, "--outfile", out],
    stdout: "inherit",
    stderr: "inherit",
  });
  if (proc.exitCode !== 0) {
    console.error(`build of ${out} failed`);
    process.exit(proc.exitCode ?? 1);
  }
}
