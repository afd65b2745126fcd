/**
 * The release and the one-line installer, end to end: a release built for this machine is
 * served over HTTP on 127.0.0.1 and `install.sh` is piped into sh (dash), bash and busybox ash
 * with a temporary HOME. Bad downloads install nothing; a reinstall leaves running proxies be;
 * inside a clone, `sh install.sh` builds and installs that clone.
 */

import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, FAKE_SERVER, ROOT, tempDir, testScope, waitFor } from "../helpers.ts";

const scope = testScope("bin");
const release = tempDir();
const machine = process.arch === "arm64" ? "arm64" : "x64";
const musl = existsSync("/lib/ld-musl-x86_64.so.1") || existsSync("/lib/ld-musl-aarch64.so.1");
const target = `${process.platform}-${machine}${musl ? "-musl" : ""}`;
const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
let server: ReturnType<typeof Bun.serve>;
let archiveName = "";

/** Shells to run the installer under: dash and bash here; busybox ash when it is (or can be) installed. */
function shells(): string[][] {
  const out: string[][] = [];
  if (Bun.which("dash")) out.push(["dash"]);
  if (Bun.which("bash")) out.push(["bash"]);
  let busybox = Bun.which("busybox");
  if (!busybox && process.getuid?.() === 0 && Bun.which("apt-get")) {
    Bun.spawnSync(["apt-get", "install", "-y", "-qq", "busybox"], { stdout: "ignore", stderr: "ignore" });
    busybox = Bun.which("busybox");
  }
  if (busybox) out.push([busybox, "sh"]);
  else console.log("installer under busybox ash: skipped (busybox is not installed and cannot be)");
  return out;
}

beforeAll(() => {
  const built = Bun.spawnSync([BUN, "scripts/build.ts", "--release", "--targets", target, "--out", release.path], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
  });
  if (built.exitCode !== 0) throw new Error(`release build failed: ${built.stderr.toString()}`);
  archiveName = `mux-${version}-${target}.tar.gz`;
  const archive = readFileSync(join(release.path, archiveName));
  const sums = readFileSync(join(release.path, "SHA256SUMS"), "utf8");
  // Routes: /good (the release), /badsum (a wrong checksum), /truncated (half the archive).
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const [, mode, name] = new URL(req.url).pathname.split("/");
      if (name === "install.sh") return new Response(Bun.file(join(ROOT, "install.sh")));
      if (name === "SHA256SUMS")
        return new Response(mode === "badsum" ? sums.replace(/^[0-9a-f]{8}/m, "00000000") : sums);
      if (name === archiveName)
        return new Response(mode === "truncated" ? archive.subarray(0, archive.length >> 1) : archive);
      return new Response("not found", { status: 404 });
    },
  });
}, 120_000);

/** `curl -fsSL <url>/install.sh | <shell>` with a temporary HOME; resolves with the outcome. */
async function curlPipe(shell: string[], mode: string, home: string, extra: Record<string, string> = {}) {
  const base = `http://127.0.0.1:${server.port}/${mode}`;
  const script = `curl -fsSL ${base}/install.sh | ${shell.join(" ")}`;
  const p = Bun.spawn({
    cmd: ["sh", "-c", script],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home, MUX_BASE_URL: base, ...extra },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ]);
  return { stdout, stderr, code };
}

const installed = (home: string): string => join(home, ".local", "bin");
const identity = (file: string): string => {
  const s = statSync(file);
  return `${s.ino}:${s.mtimeMs}`;
};

describe("curl | sh", () => {
  for (const shell of shells()) {
    test(`installs under ${shell.join(" ")}: both executables run and report the built version and commit`, async () => {
      const home = scope.dir();
      const r = await curlPipe(shell, "good", home);
      expect(r.stderr).toContain(`downloading ${archiveName}`);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain("next: mux wizard");
      expect(r.stderr).toContain("is not on your PATH");
      const v = Bun.spawnSync([join(installed(home), "mux"), "--version"]).stdout.toString();
      expect(v).toMatch(new RegExp(`^${version.replaceAll(".", "\\.")} \\([0-9a-f]{12}\\)`));
      const pv = Bun.spawnSync([join(installed(home), "mux-proxy"), "--version"]).stdout.toString();
      expect(pv).toContain(version);
      expect(readdirSync(installed(home)).sort()).toEqual(["mux", "mux-proxy"]);
    });
  }

  test("a wrong checksum, a truncated archive and an unsupported architecture install nothing and keep what was there", async () => {
    const home = scope.dir();
    expect((await curlPipe(["sh"], "good", home)).code).toBe(0);
    const before = identity(join(installed(home), "mux"));
    const badsum = await curlPipe(["sh"], "badsum", home);
    expect(badsum.code).not.toBe(0);
    expect(badsum.stderr).toContain("checksum mismatch");
    const truncated = await curlPipe(["sh"], "truncated", home);
    expect(truncated.code).not.toBe(0);
    expect(truncated.stderr).toContain("checksum mismatch");
    const arch = await curlPipe(["sh"], "good", home, { MUX_ARCH: "sparc64" });
    expect(arch.code).not.toBe(0);
    expect(arch.stderr).toContain("unsupported architecture: sparc64");
    const os = await curlPipe(["sh"], "good", home, { MUX_OS: "Plan9" });
    expect(os.stderr).toContain("unsupported OS: Plan9");
    const unwritable = await curlPipe(["sh"], "good", home, { INSTALL_DIR: "/proc/nope" });
    expect(unwritable.code).not.toBe(0);
    expect(unwritable.stderr).toMatch(/INSTALL_DIR/);
    expect(identity(join(installed(home), "mux"))).toBe(before);
    expect(readdirSync(installed(home)).sort()).toEqual(["mux", "mux-proxy"]);
  });

  test("reinstalling while a mux-proxy is connected leaves that process running", async () => {
    const home = scope.dir();
    expect((await curlPipe(["sh"], "good", home)).code).toBe(0);
    const bin = installed(home);
    const socket = join(home, "s.sock");
    const daemon = Bun.spawn({
      cmd: [join(bin, "mux"), "serve", "--socket", socket, "--cmd", BUN, "--", FAKE_SERVER],
      stderr: "ignore",
    });
    scope.defer(async () => {
      daemon.kill();
      await daemon.exited;
    });
    await waitFor(() => existsSync(socket), 10_000, "the socket");
    const proxy = Bun.spawn({ cmd: [join(bin, "mux-proxy"), "--socket", socket], stdin: "pipe", stdout: "pipe" });
    scope.defer(() => proxy.kill());
    const before = identity(join(bin, "mux-proxy"));
    expect((await curlPipe(["sh"], "good", home)).code).toBe(0);
    expect(identity(join(bin, "mux-proxy"))).not.toBe(before); // a new file took the name
    expect(proxy.exitCode).toBeNull();
    proxy.stdin.write('{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
    proxy.stdin.flush();
    const reader = proxy.stdout.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toContain('"id":1');
  });
});

test("inside a clone, sh install.sh builds and installs that clone", () => {
  const dir = scope.dir();
  const target = join(dir, "bin");
  mkdirSync(target);
  writeFileSync(join(dir, "marker"), "");
  const r = Bun.spawnSync(["sh", "install.sh"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, INSTALL_DIR: target },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(r.stderr.toString()).toContain(`building ${ROOT}`);
  expect(r.exitCode).toBe(0);
  expect(Bun.spawnSync([join(target, "mux"), "--version"]).stdout.toString()).toContain(version);
  expect(Bun.spawnSync([join(target, "mux-proxy"), "--version"]).exitCode).toBe(0);
});
