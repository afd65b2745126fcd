/**
 * The one build script: `bun run build`, `bun run release` and install.sh all go through it.
 *
 *   bun scripts/build.ts                        dist/mux, and dist/mux-proxy (a link to it), for this machine
 *   bun scripts/build.ts --release [--targets linux-x64,darwin-arm64] [--out DIR] [--no-resign]
 *       one mux-<version>-<target>.tar.gz per target (the executable `mux`, `mux-proxy` as a
 *       symbolic link to it, LICENSE, README.txt), install.sh, and SHA256SUMS of all of them,
 *       into DIR (default release/, which git ignores)
 *
 * One executable: `mux-proxy` is the same file as `mux` under another name (src/cli/entry.ts
 * dispatches on the name it was run under), so there is one copy of the Bun runtime per install
 * and every running proxy shares the daemon's pages.
 *
 * Flags: see build/flags.ts (fast start, small memory, no .env/bunfig autoload). Version and
 * commit are embedded. Builds are reproducible: same commit, same checksums (the executable is always built
 * under the name mux, archives have fixed owners and times). Each Mach-O is
 * checked page by page; Bun 1.4.5's darwin-x64 runtime ships a broken signature, which is
 * replaced by an ad-hoc one (as `codesign -s - -f` would) and checked again; with --no-resign a
 * broken signature fails the release instead.
 */

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { COMPILE_FLAGS } from "./build/flags.ts";
import { checkSignature, isMachO, signAdHoc } from "./build/macho.ts";
import { type TarEntry, tarGz } from "./build/tar.ts";

const ROOT = resolve(import.meta.dir, "..");

/** Release targets: archive name part → Bun compile target. */
export const TARGETS: Record<string, string> = {
  "linux-x64": "bun-linux-x64",
  "linux-arm64": "bun-linux-arm64",
  "linux-x64-musl": "bun-linux-x64-musl",
  "linux-arm64-musl": "bun-linux-arm64-musl",
  "darwin-x64": "bun-darwin-x64",
  "darwin-arm64": "bun-darwin-arm64",
};

/** The one executable; `mux-proxy` is a link to it. */
const ENTRY = { name: "mux", entry: "src/bin/mux.ts" };
/** The names the executable also answers to (symbolic links beside it). */
export const LINKS = ["mux-proxy"];

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string;
const commit = process.env.MUX_COMMIT ?? git(["rev-parse", "--short=12", "HEAD"]) ?? "unknown";
const defines = [
  "--define",
  `MUX_BUILD_VERSION=${JSON.stringify(version)}`,
  "--define",
  `MUX_BUILD_COMMIT=${JSON.stringify(commit)}`,
];

/** The release's scratch folder, removed when the release ends, also when it fails. */
let scratch = "";

if (args.includes("--release")) await release();
else {
  const out = resolve(ROOT, option("--out") ?? "dist");
  mkdirSync(out, { recursive: true });
  compile(entryFor(ENTRY, `${process.platform}-${process.arch}`), join(out, ENTRY.name));
  // Replaced by a rename, so a proxy running from an older two-file dist keeps its file.
  for (const link of LINKS) {
    const tmp = join(out, `.${link}.new.${process.pid}`);
    rmSync(tmp, { force: true });
    symlinkSync(ENTRY.name, tmp);
    renameSync(tmp, join(out, link));
  }
  console.error(`built ${out}/mux and ${LINKS.map((l) => `${out}/${l}`).join(", ")} → mux (${version}, ${commit})`);
}

async function release(): Promise<void> {
  const out = resolve(ROOT, option("--out") ?? "release");
  const wanted = option("--targets")?.split(",") ?? Object.keys(TARGETS);
  const unknown = wanted.filter((t) => !TARGETS[t]);
  if (unknown.length > 0) fail(`unknown target ${unknown.join(", ")} (known: ${Object.keys(TARGETS).join(", ")})`);
  const resign = !args.includes("--no-resign");
  const mtime = Number(process.env.SOURCE_DATE_EPOCH ?? git(["log", "-1", "--format=%ct"]) ?? 0);
  mkdirSync(out, { recursive: true });
  scratch = join(out, ".build");
  const sums: string[] = [];
  const license = readFileSync(join(ROOT, "LICENSE"));
  for (const target of wanted) {
    const folder = `mux-${version}-${target}`;
    const work = join(scratch, target);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const files: TarEntry[] = [];
    const path = join(work, ENTRY.name);
    compile(entryFor(ENTRY, target), path, TARGETS[target]);
    let data: Uint8Array = new Uint8Array(readFileSync(path));
    if (isMachO(data)) data = checkMachO(target, ENTRY.name, data, resign);
    checkTrayHelper(target, data);
    files.push({ name: ENTRY.name, data, mode: 0o755 });
    for (const link of LINKS) files.push({ name: link, link: ENTRY.name, mode: 0o777 });
    files.push({ name: "LICENSE", data: new Uint8Array(license), mode: 0o644 });
    files.push({ name: "README.txt", data: new TextEncoder().encode(readme(target)), mode: 0o644 });
    const archive = tarGz(
      [{ name: `${folder}/`, mode: 0o755 }, ...files.map((f) => ({ ...f, name: `${folder}/${f.name}` }))],
      mtime,
    );
    const name = `${folder}.tar.gz`;
    writeFileSync(join(out, name), archive);
    sums.push(`${createHash("sha256").update(archive).digest("hex")}  ${name}`);
    console.error(`${name}: ${(archive.length / 1_048_576).toFixed(1)} MiB`);
    rmSync(work, { recursive: true, force: true });
  }
  rmSync(scratch, { recursive: true, force: true });
  // The README's one-liner downloads install.sh from the release: it is one of its files, and
  // checksummed like the archives (the installer itself only looks up archive lines).
  const installer = readFileSync(join(ROOT, "install.sh"));
  writeFileSync(join(out, "install.sh"), installer, { mode: 0o755 });
  sums.push(`${createHash("sha256").update(installer).digest("hex")}  install.sh`);
  writeFileSync(join(out, "SHA256SUMS"), `${sums.join("\n")}\n`);
  console.error(`wrote ${wanted.length} archives, install.sh and SHA256SUMS to ${out} (${version}, ${commit})`);
}

/**
 * `mux` is built from its OS's entry, which embeds that OS's tray helper (and only that one);
 * Linux on arm64 gets none (systray2's Linux helper is x86-64 only; macOS runs it via Rosetta).
 */
function entryFor(e: { name: string; entry: string }, target: string): string {
  const perOs = `src/bin/${e.name}-${target.split("-")[0]}.ts`;
  return existsSync(join(ROOT, perOs)) && trayHelperFor(target) ? perOs : e.entry;
}

/** Does this target's `mux` carry a tray helper? */
function trayHelperFor(target: string): boolean {
  return target.startsWith("darwin-") || target.startsWith("linux-x64");
}

/** `mux` carries its own OS's tray helper (systray2's) and no other. */
function checkTrayHelper(target: string, data: Uint8Array): void {
  const os = target.split("-")[0] as string;
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.length);
  for (const [helperOs, marker] of trayMarkers()) {
    const found = bytes.indexOf(marker) >= 0;
    const wanted = helperOs === os && trayHelperFor(target);
    if (found !== wanted) fail(`${target}/mux: ${wanted ? "lacks" : "carries"} the ${helperOs} tray helper`);
  }
}

/**
 * 64 bytes of each helper found in neither of the others (the three Go programs share much of
 * their runtime, so an arbitrary slice can be in all of them).
 */
function trayMarkers(): Map<string, Buffer> {
  const files: Record<string, string> = {
    linux: "tray_linux_release",
    darwin: "tray_darwin_release",
    windows: "tray_windows_release.exe",
  };
  const helpers = new Map(
    Object.entries(files).map(([os, f]) => [os, readFileSync(join(ROOT, "node_modules", "systray2", "traybin", f))]),
  );
  const markers = new Map<string, Buffer>();
  for (const [os, bytes] of helpers) {
    const others = [...helpers].filter(([o]) => o !== os).map(([, b]) => b);
    for (let at = bytes.length >> 2; at < bytes.length - 64; at += 4099) {
      const slice = bytes.subarray(at, at + 64);
      if (new Set(slice).size > 16 && others.every((b) => b.indexOf(slice) < 0)) {
        markers.set(os, slice);
        break;
      }
    }
    if (!markers.has(os)) fail(`no marker found for the ${os} tray helper`);
  }
  return markers;
}

function compile(entry: string, outfile: string, target?: string): void {
  const cmd = [
    process.execPath,
    "build",
    ...COMPILE_FLAGS,
    ...defines,
    ...(target ? [`--target=${target}`] : []),
    entry,
    "--outfile",
    outfile,
  ];
  const proc = Bun.spawnSync({ cmd, cwd: ROOT, stdout: "ignore", stderr: "pipe" });
  if (proc.exitCode !== 0) fail(`build of ${outfile} failed:\n${proc.stderr.toString()}`);
}

function checkMachO(target: string, name: string, data: Uint8Array, resign: boolean): Uint8Array {
  const check = checkSignature(data);
  if (check.ok) return data;
  const what = `${target}/${name}: code signature broken: ${check.problems.join("; ")}`;
  if (!resign) fail(`${what} (a Mac would kill this executable; rerun without --no-resign to sign it ad hoc)`);
  console.error(`warning: ${what}; replacing it with an ad-hoc signature`);
  const signed = signAdHoc(data, name);
  const again = checkSignature(signed);
  if (!again.ok) fail(`${target}/${name}: the ad-hoc signature does not verify: ${again.problems.join("; ")}`);
  return signed;
}

function readme(target: string): string {
  return `mcp-mux ${version} (${commit}) for ${target}

mux        the daemon and the command-line tool (mux --help)
mux-proxy  the stdio <-> socket bridge an MCP host runs in place of a server: a symbolic
           link to mux (one executable; it acts as the proxy when run under this name)

Install: run install.sh (it puts mux in ~/.local/bin and links mux-proxy to it), or copy
both to a folder on your PATH keeping the link (cp -P, or ln -s mux mux-proxy there), then run
  mux wizard
${target.endsWith("-musl") ? "\nmusl (Alpine): needs libstdc++ and libgcc (apk add libstdc++ libgcc).\n" : ""}${target.startsWith("darwin") ? "\nmacOS: the executables are signed ad hoc. If macOS still refuses them, run\n  codesign -s - -f mux\n" : ""}`;
}

function git(argv: string[]): string | undefined {
  try {
    const p = Bun.spawnSync({ cmd: ["git", ...argv], cwd: ROOT, stdout: "pipe", stderr: "ignore" });
    const text = p.stdout.toString().trim();
    return p.exitCode === 0 && text ? text : undefined;
  } catch {
    return undefined;
  }
}

function fail(message: string): never {
  console.error(`build: ${message}`);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  process.exit(1);
}
