/**
 * `bun run release`, as a release manager runs it: six archives cross-compiled from the npm
 * registry's Bun runtimes, each with the one executable for its platform (`mux`, with
 * `mux-proxy` a symbolic link to it), a licence and a readme; install.sh beside them; SHA256SUMS
 * that match; the same commit gives the same checksums; every Mach-O carries a
 * signature whose page hashes verify (Bun 1.4.5's darwin-x64 runtime ships a broken one, which
 * fails the release loudly with --no-resign); this machine's archive runs and names its build.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { checkSignature } from "../../scripts/build/macho.ts";
import { BUN, ROOT, tempDir } from "../helpers.ts";

const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const commit = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: ROOT }).stdout.toString().trim();
const TARGETS = ["linux-x64", "linux-arm64", "linux-x64-musl", "linux-arm64-musl", "darwin-x64", "darwin-arm64"];
const out = tempDir();
const unpacked = tempDir();
let built: { code: number; stderr: string };

function build(args: string[]): { code: number; stderr: string } {
  const p = Bun.spawnSync([BUN, "scripts/build.ts", "--release", ...args], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: p.exitCode, stderr: p.stderr.toString() };
}

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/** `name → checksum` from a SHA256SUMS file. */
function sums(dir: string): Map<string, string> {
  const lines = readFileSync(join(dir, "SHA256SUMS"), "utf8").trim().split("\n");
  return new Map(lines.map((l) => l.split(/\s+/).reverse() as [string, string]));
}

function unpack(target: string): string {
  const p = Bun.spawnSync(["tar", "xzf", join(out.path, `mux-${version}-${target}.tar.gz`), "-C", unpacked.path]);
  expect(p.exitCode).toBe(0);
  return join(unpacked.path, `mux-${version}-${target}`);
}

/** What the executable is for, from its header: "linux-x64", "darwin-arm64", ... (+ "-musl"). */
function platformOf(bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (view.getUint32(0, false) === 0x7f454c46) {
    const machine = view.getUint16(18, true);
    const arch = machine === 62 ? "x64" : machine === 183 ? "arm64" : `machine ${machine}`;
    // The program interpreter names the libc: ld-linux-… (glibc) or ld-musl-… (musl).
    const head = Buffer.from(bytes.subarray(0, 4096)).toString("latin1");
    return `linux-${arch}${head.includes("ld-musl-") ? "-musl" : ""}`;
  }
  if (view.getUint32(0, true) === 0xfeedfacf) {
    const cpu = view.getUint32(4, true);
    return `darwin-${cpu === 0x01000007 ? "x64" : cpu === 0x0100000c ? "arm64" : `cpu ${cpu}`}`;
  }
  return "unknown";
}

beforeAll(() => {
  built = build(["--out", out.path]);
}, 600_000);

afterAll(() => {
  out[Symbol.dispose]();
  unpacked[Symbol.dispose]();
});

describe("bun run release", () => {
  test("six archives, each with the one executable for its platform, mux-proxy linked to it, the licence and a readme; install.sh; SHA256SUMS match", () => {
    expect(built.stderr).toContain(`wrote 6 archives, install.sh and SHA256SUMS`);
    expect(built.code).toBe(0);
    const listed = sums(out.path);
    const archives = TARGETS.map((t) => `mux-${version}-${t}.tar.gz`);
    expect([...listed.keys()].sort()).toEqual([...archives, "install.sh"].sort());
    // The README's one-liner downloads install.sh from the release: it is there, as in the tree.
    expect(readFileSync(join(out.path, "install.sh"), "utf8")).toBe(readFileSync(join(ROOT, "install.sh"), "utf8"));
    expect(lstatSync(join(out.path, "install.sh")).mode & 0o111).not.toBe(0);
    for (const name of [...archives, "install.sh"])
      expect(listed.get(name)).toBe(sha256(readFileSync(join(out.path, name))));
    for (const target of TARGETS) {
      const name = `mux-${version}-${target}.tar.gz`;
      // One copy of the runtime per archive: a single big file, mux-proxy a link to it.
      const listing = Bun.spawnSync(["tar", "tvzf", join(out.path, name)])
        .stdout.toString()
        .trim()
        .split("\n");
      const proxyLine = listing.find((l) => l.includes("/mux-proxy")) ?? "";
      expect(proxyLine).toMatch(/^l.* mux-[^ ]+\/mux-proxy -> mux$/);
      const big = listing.filter((l) => /^-/.test(l) && Number(l.split(/\s+/)[2]) > 1_000_000);
      expect(big.map((l) => l.split("/").pop())).toEqual(["mux"]);
      const folder = unpack(target);
      expect(readdirSync(folder).sort()).toEqual(["LICENSE", "README.txt", "mux", "mux-proxy"]);
      expect(lstatSync(join(folder, "mux-proxy")).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(folder, "mux-proxy"))).toBe("mux");
      expect(lstatSync(join(folder, "mux")).isFile()).toBe(true);
      const readme = readFileSync(join(folder, "README.txt"), "utf8");
      expect(readme).toContain(`mcp-mux ${version} (${commit}) for ${target}`);
      expect(readme).toContain("a symbolic\n           link to mux");
      expect(platformOf(readFileSync(join(folder, "mux")))).toBe(target);
    }
    // Nothing else is left in the release folder (no build scratch).
    expect(readdirSync(out.path).sort()).toEqual(["SHA256SUMS", ...[...listed.keys()].sort()]);
  }, 120_000);

  test("this machine's archive runs: mux, and the mux-proxy link as the proxy, print the built version and commit", () => {
    const target = `linux-${process.arch === "arm64" ? "arm64" : "x64"}`;
    if (process.platform !== "linux") return console.log(`archive run: skipped on ${process.platform}`);
    const folder = existsSync(join(unpacked.path, `mux-${version}-${target}`))
      ? join(unpacked.path, `mux-${version}-${target}`)
      : unpack(target);
    const run = (exe: string, ...args: string[]) => {
      const p = Bun.spawnSync([join(folder, exe), ...args], { stdout: "pipe", stderr: "pipe" });
      return { code: p.exitCode, out: p.stdout.toString() };
    };
    expect(run("mux", "--version")).toEqual({ code: 0, out: `${version} (${commit})\n` });
    expect(run("mux-proxy", "--version")).toEqual({ code: 0, out: `mux-proxy ${version} (${commit})\n` });
    // Under its own name the same file is the proxy (its usage), under mux the CLI.
    expect(run("mux-proxy", "--help").out).toStartWith("usage: mux-proxy --socket PATH");
    expect(run("mux", "--help").out).toContain("USAGE mux serve|");
  });

  test("an unknown target is refused by name, with the known ones, and nothing is written", () => {
    using none = tempDir();
    const r = build(["--targets", "linux-x64,windows-sparc", "--out", none.path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`unknown target windows-sparc (known: ${TARGETS.join(", ")})`);
    expect(readdirSync(none.path)).toEqual([]);
  });

  test("reproducible: building the same commit again gives the same checksums", () => {
    using again = tempDir();
    const targets = ["linux-x64-musl", "darwin-x64"];
    const second = build(["--targets", targets.join(","), "--out", again.path]);
    expect(second.code).toBe(0);
    const first = sums(out.path);
    for (const [name, sum] of sums(again.path)) expect(sum).toBe(first.get(name) as string);
    expect(sums(again.path).size).toBe(3); // the two archives and install.sh
  }, 300_000);

  test("every Mach-O verifies page by page; a changed page is caught; a broken runtime signature fails the release loudly", () => {
    for (const target of ["darwin-x64", "darwin-arm64"]) {
      const folder = join(unpacked.path, `mux-${version}-${target}`);
      for (const exe of ["mux"]) {
        const bytes = new Uint8Array(readFileSync(join(folder, exe)));
        const check = checkSignature(bytes);
        expect(check.problems).toEqual([]);
        expect(check.ok).toBe(true);
        expect(check.directories.length).toBeGreaterThan(0);
        // One byte changed in the code: the checker names the page a Mac would refuse.
        bytes[70_000] = (bytes[70_000] as number) ^ 0xff;
        const tampered = checkSignature(bytes);
        expect(tampered.ok).toBe(false);
        expect(tampered.problems.join("\n")).toMatch(/: 1 of \d+ code pages do not match/);
      }
    }
    // Bun 1.4.5's darwin-x64 runtime as it comes: refused, nothing written.
    using strict = tempDir();
    const refused = build(["--targets", "darwin-x64", "--no-resign", "--out", strict.path]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/darwin-x64\/mux: code signature broken: .*code pages do not match/);
    expect(refused.stderr).toContain("a Mac would kill this executable");
    expect(readdirSync(strict.path)).toEqual([]);
  }, 120_000);
});
