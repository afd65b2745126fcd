/**
 * The release and the one-line installer, end to end: a release built for this machine is
 * served over HTTP on 127.0.0.1 and `install.sh` is piped into sh (dash), bash and busybox ash
 * with a temporary HOME. One executable is installed, `mux-proxy` a symbolic link to it; an
 * upgrade from the older two-file layout replaces the separate `mux-proxy` file while a proxy
 * runs from it. Bad downloads (a wrong checksum, a truncated archive or installer) install
 * nothing; a reinstall leaves running proxies be; paths with spaces and quotes work; an
 * INSTALL_DIR that others may write to (directly or through a link) is refused; inside a
 * clone, `sh install.sh` builds and installs that clone.
 */

import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { BUN, FAKE_SERVER, MUX_BIN, ROOT, tempDir, testScope, waitFor } from "../helpers.ts";

const scope = testScope("bin");
// Each install downloads, unpacks and runs a 116 MB executable (several per test): not a speed check.
setDefaultTimeout(120_000);
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
  // Routes: /good (the release), /badsum (a wrong checksum), /truncated (half the archive),
  // /cut-N (install.sh cut after N bytes, as a dropped connection leaves it).
  const installer = readFileSync(join(ROOT, "install.sh"));
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const [, mode, name] = new URL(req.url).pathname.split("/");
      if (name === "install.sh" && mode?.startsWith("cut-"))
        return new Response(installer.subarray(0, Number(mode.slice(4))));
      if (name === "install.sh") return new Response(installer);
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
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      MUX_BASE_URL: base.replace(/\/cut-\d+$/, "/good"),
      ...extra,
    },
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
  const s = lstatSync(file);
  return `${s.ino}:${s.mtimeMs}`;
};

/** The layout the installer leaves: `mux` a file, `mux-proxy` a link to it, nothing else. */
function expectOneExecutable(bin: string): void {
  expect(readdirSync(bin).sort()).toEqual(["mux", "mux-proxy"]);
  expect(lstatSync(join(bin, "mux")).isFile()).toBe(true);
  expect(lstatSync(join(bin, "mux-proxy")).isSymbolicLink()).toBe(true);
  expect(readlinkSync(join(bin, "mux-proxy"))).toBe("mux");
}

/** One JSON-RPC ping through a running mux-proxy process. */
async function pingThrough(proxy: { stdin: import("bun").FileSink; stdout: ReadableStream<Uint8Array> }, id: number) {
  proxy.stdin.write(`{"jsonrpc":"2.0","id":${id},"method":"ping"}\n`);
  proxy.stdin.flush();
  const reader = proxy.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  return new TextDecoder().decode(value);
}

describe("curl | sh", () => {
  for (const shell of shells()) {
    test(`installs under ${shell.join(" ")}: one executable, mux-proxy linked to it; both names report the built version`, async () => {
      const home = scope.dir();
      const r = await curlPipe(shell, "good", home);
      expect(r.stderr).toContain(`downloading ${archiveName}`);
      expect(r.code).toBe(0);
      const bin = installed(home);
      // Not on PATH: the line to add, and the next command with its full path (not a bare `mux`).
      expect(r.stderr).toContain(`${bin} is not on your PATH; add this line`);
      expect(r.stderr).toContain(`  export PATH="${bin}:$PATH"`);
      expect(r.stderr).toContain(`next: ${bin}/mux wizard`);
      expect(r.stderr).not.toContain("next: mux wizard");
      const v = Bun.spawnSync([join(bin, "mux"), "--version"]).stdout.toString();
      expect(v).toMatch(new RegExp(`^${version.replaceAll(".", "\\.")} \\([0-9a-f]{12}\\)`));
      const pv = Bun.spawnSync([join(bin, "mux-proxy"), "--version"]).stdout.toString();
      expect(pv).toStartWith(`mux-proxy ${version}`);
      expectOneExecutable(bin);
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
    expectOneExecutable(installed(home));
  });

  test("on PATH: the next step is plain mux wizard", async () => {
    const home = scope.dir();
    const bin = installed(home);
    const r = await curlPipe(["sh"], "good", home, { PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}` });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${bin} is on your PATH`);
    expect(r.stderr).toContain("next: mux wizard");
  });

  test("writes the daemon's path file once, with the folders of node, npx, ... it finds; a later install keeps the user's edits", async () => {
    const home = scope.dir();
    const tools = join(home, "node tools", "bin");
    mkdirSync(tools, { recursive: true });
    for (const exe of ["node", "npx"]) {
      writeFileSync(join(tools, exe), "#!/bin/sh\n");
      chmodSync(join(tools, exe), 0o755);
    }
    const PATH = `${tools}:${process.env.PATH ?? "/usr/bin:/bin"}`;
    const r = await curlPipe(["sh"], "good", home, { PATH });
    expect(r.code).toBe(0);
    const file = join(home, ".config", "mcp-mux", "path");
    expect(r.stderr).toContain(`wrote ${file}`);
    const lines = readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l && !l.startsWith("#"));
    expect(lines[0]).toBe(tools);
    expect(lines.filter((l) => l === tools)).toHaveLength(1); // node and npx: one folder, once
    writeFileSync(file, "/my/own/choice\n");
    expect((await curlPipe(["sh"], "good", home, { PATH })).code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe("/my/own/choice\n");
  });

  test("upgrading the two-file layout while a proxy runs from the old mux-proxy file: it keeps running, the name becomes a link, host entries naming it work", async () => {
    const home = scope.dir();
    const bin = installed(home);
    mkdirSync(bin, { recursive: true });
    // The older layout: two separate executables (the build's, copied under both names).
    copyFileSync(MUX_BIN, join(bin, "mux"));
    copyFileSync(MUX_BIN, join(bin, "mux-proxy"));
    chmodSync(join(bin, "mux"), 0o755);
    chmodSync(join(bin, "mux-proxy"), 0o755);
    expect(lstatSync(join(bin, "mux-proxy")).isFile()).toBe(true);
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
    const old = Bun.spawn({ cmd: [join(bin, "mux-proxy"), "--socket", socket], stdin: "pipe", stdout: "pipe" });
    scope.defer(() => old.kill());
    expect(await pingThrough(old, 1)).toContain('"id":1');
    const before = identity(join(bin, "mux-proxy"));
    const r = await curlPipe(["sh"], "good", home);
    expect(r.code).toBe(0);
    expectOneExecutable(bin);
    expect(identity(join(bin, "mux-proxy"))).not.toBe(before);
    // The proxy started from the old file still works.
    expect(old.exitCode).toBeNull();
    expect(await pingThrough(old, 2)).toContain('"id":2');
    // A host entry naming <bin>/mux-proxy starts the proxy, through the link.
    const fresh = Bun.spawn({ cmd: [join(bin, "mux-proxy"), "--socket", socket], stdin: "pipe", stdout: "pipe" });
    scope.defer(() => fresh.kill());
    expect(await pingThrough(fresh, 3)).toContain('"id":3');
    // Installed size: one runtime, not two.
    expect(statSync(join(bin, "mux-proxy")).ino).toBe(statSync(join(bin, "mux")).ino);
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
    const before = identity(join(bin, "mux"));
    expect((await curlPipe(["sh"], "good", home)).code).toBe(0);
    expect(identity(join(bin, "mux"))).not.toBe(before); // a new file took the name
    expectOneExecutable(bin);
    expect(proxy.exitCode).toBeNull();
    expect(await pingThrough(proxy, 1)).toContain('"id":1');
  });

  test("paths with spaces and quotes: HOME and INSTALL_DIR; the printed commands quote them", async () => {
    const home = join(scope.dir(), "my home");
    mkdirSync(home);
    const bin = join(home, `it's "bin" $x`);
    const r = await curlPipe(["sh"], "good", home, { INSTALL_DIR: bin });
    expect(r.stderr).toContain("installed");
    expect(r.code).toBe(0);
    expectOneExecutable(bin);
    expect(Bun.spawnSync([join(bin, "mux-proxy"), "--version"]).stdout.toString()).toStartWith("mux-proxy ");
    // The printed lines read back as the same path when pasted into a shell.
    const next = /next: (.*) wizard\n/.exec(r.stderr)?.[1] ?? "";
    const pathLine = /^mux-install: {3}(export PATH=.*)$/m.exec(r.stderr)?.[1] ?? "";
    const echo = Bun.spawnSync(["sh", "-c", `${pathLine}; printf '%s\\n' ${next} "\${PATH%%:*}"`], {
      env: { PATH: "/usr/bin:/bin" },
    });
    expect(echo.stdout.toString()).toBe(`${join(bin, "mux")}\n${bin}\n`);
  });

  test("an installer cut short by the network runs nothing and keeps the old install", async () => {
    const home = scope.dir();
    expect((await curlPipe(["sh"], "good", home)).code).toBe(0);
    const before = identity(join(installed(home), "mux"));
    const size = readFileSync(join(ROOT, "install.sh")).length;
    const lastLine = size - 'main "$@"\n'.length;
    for (const cut of [
      Math.floor(size / 4),
      Math.floor(size / 2),
      Math.floor((size * 3) / 4),
      lastLine,
      lastLine + 2,
    ]) {
      const r = await curlPipe(["sh"], `cut-${cut}`, home);
      expect(r.stderr).not.toContain("downloading");
      expect(r.stderr).not.toContain("installed");
    }
    expect(identity(join(installed(home), "mux"))).toBe(before);
    expectOneExecutable(installed(home));
  });

  test("an INSTALL_DIR others may write to is refused, also through a link; a link to your own folder is followed", async () => {
    const home = scope.dir();
    const open = join(home, "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    const r1 = await curlPipe(["sh"], "good", home, { INSTALL_DIR: open });
    expect(r1.code).not.toBe(0);
    expect(r1.stderr).toContain(`INSTALL_DIR ${open} may be written by every user (drwxrwxrwx): refusing`);
    const viaLink = join(home, "bin-link");
    symlinkSync(open, viaLink);
    const r2 = await curlPipe(["sh"], "good", home, { INSTALL_DIR: viaLink });
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toContain(`INSTALL_DIR ${viaLink} (a link to ${open}) may be written by every user`);
    expect(readdirSync(open)).toEqual([]);
    if (process.getuid?.() === 0) {
      // Another user's folder behind a link in your home: refused, nothing written there.
      const theirs = join(home, "theirs");
      mkdirSync(theirs, { mode: 0o755 });
      chownSync(theirs, 65534, 65534);
      const link = join(home, "their-link");
      symlinkSync(theirs, link);
      const r3 = await curlPipe(["sh"], "good", home, { INSTALL_DIR: link });
      expect(r3.code).not.toBe(0);
      expect(r3.stderr).toContain(`INSTALL_DIR ${link} (a link to ${theirs}) belongs to another user (uid 65534)`);
      expect(readdirSync(theirs)).toEqual([]);
    } else console.log("another user's INSTALL_DIR: skipped (needs root to chown a folder)");
    const mine = join(home, "mine");
    mkdirSync(mine, { mode: 0o755 });
    const myLink = join(home, "my-link");
    symlinkSync(mine, myLink);
    const r4 = await curlPipe(["sh"], "good", home, { INSTALL_DIR: myLink });
    expect(r4.code).toBe(0);
    expectOneExecutable(mine);
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
  expect(Bun.spawnSync([join(target, "mux-proxy"), "--version"]).stdout.toString()).toStartWith("mux-proxy ");
  expectOneExecutable(target);
});
