/**
 * The test command: build the executables, run `bun test`, and end with "N passed, N failed".
 * Usage: bun scripts/test.ts [bun test args...]
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

const build = Bun.spawnSync({ cmd: [process.execPath, "scripts/build.ts"], stdout: "inherit", stderr: "inherit" });
if (build.exitCode !== 0) {
  console.log("0 passed, 1 failed");
  process.exit(1);
}
// Daemons the tests start keep their sockets, locks and logs in a folder of this run, never in
// the home of whoever runs the tests (a test that checks the defaults sets its own HOME).
const scratch = mkdtempSync(join(tmpdir(), "mux-test-run-"));
// No test may write into the user's own config folder (a test that forgets its own HOME would
// create the default HTTP token file there): checked after the run.
const userToken = join(process.env.XDG_CONFIG_HOME || join(homedir(), ".config"), "mcp-mux", "http-token");
const hadToken = existsSync(userToken);
const proc = Bun.spawn({
  cmd: [process.execPath, "test", "--timeout", "60000", ...process.argv.slice(2)],
  stdout: "pipe",
  stderr: "pipe",
  env: { ...process.env, MUX_RUNTIME_DIR: join(scratch, "run"), MUX_STATE_DIR: join(scratch, "state") },
});
let text = "";
const pump = async (stream: ReadableStream<Uint8Array>, sink: NodeJS.WriteStream): Promise<void> => {
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    const s = decoder.decode(chunk, { stream: true });
    text += s;
    sink.write(s);
  }
};
await Promise.all([pump(proc.stdout, process.stdout), pump(proc.stderr, process.stderr)]);
const code = await proc.exited;
const passed = Number(/^\s*(\d+) pass$/m.exec(text)?.[1] ?? 0);
const leaked = !hadToken && existsSync(userToken);
if (leaked) console.log(`\na test wrote ${userToken}: tests must use their own HOME / XDG_CONFIG_HOME`);
const failed =
  Number(/^\s*(\d+) fail$/m.exec(text)?.[1] ?? 0) +
  (code !== 0 && !/^\s*\d+ fail$/m.test(text) ? 1 : 0) +
  (leaked ? 1 : 0);
console.log(`\n${passed} passed, ${failed} failed`);
rmSync(scratch, { recursive: true, force: true });
process.exit(code === 0 && failed === 0 ? 0 : 1);
