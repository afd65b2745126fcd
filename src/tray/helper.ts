/**
 * The tray helper executable (systray2's prebuilt Go helper, getlantern/systray), embedded in
 * the build. It is never run from a file anyone could have touched: on every start its bytes
 * are hashed in memory (pinned SHA-256), written to a fresh folder made for this start alone
 * (`<cache>/tray/run-XXXXXX`, `mkdtemp`, 0700, inside a folder that must be this user's and
 * writable by nobody else), opened again without following links and checked (a regular file
 * of this user's, writable by nobody else, the same hash, read from that descriptor), run, and
 * removed once it runs. Nothing is reused between starts, so a file or folder planted in the
 * cache by someone else is never run. Only the target OS's helper is in a release binary: its
 * entry (src/bin/mux-<os>.ts) embeds it and hands its path over here.
 * @module
 */

import { createHash } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { checkPrivateDir } from "../client/safe-path.ts";
import { cacheDir } from "../config/paths.ts";

/** SHA-256 of each embedded helper (systray2 2.1.4), checked on the bytes before they run. */
export const HELPER_SHA256: Record<string, string> = {
  linux: "f61eee19036c0af93e2bb0e5b9fff0bd413469aff5ea1261b8fcfe9e2c027c04",
  darwin: "b406fe6d13d1ba66f901a07267ecfcf1b615e9c8b3410287be576706bd737791",
  win32: "ae61c63ece1392fc64abbfbd40de782f5b2a7b7d83e93f8b640a20395ae6e8a0",
};

/** A helper written for one start: run `path`, then `remove()` it (once it runs, or fails). */
export interface ExtractedHelper {
  path: string;
  remove(): void;
}

/**
 * A runnable helper for this OS, written and checked for this start. Throws with a reason a
 * user can act on (no helper for this OS or CPU, an unsafe or unwritable cache folder, a
 * check that failed).
 */
export async function trayHelper(env: Record<string, string | undefined> = process.env): Promise<ExtractedHelper> {
  const embedded = await embeddedHelper();
  if (!embedded || (process.arch !== "x64" && process.platform !== "darwin"))
    throw new Error(
      `no tray helper for ${process.platform}-${process.arch} (systray2 ships it for x86-64 Linux, macOS and Windows only)`,
    );
  const expected = HELPER_SHA256[process.platform] as string;
  const bytes = new Uint8Array(await Bun.file(embedded).arrayBuffer());
  const actual = sha256(bytes);
  if (actual !== expected) throw new Error(`the embedded tray helper has SHA-256 ${actual}, expected ${expected}`);
  const parent = join(cacheDir(env), "tray");
  try {
    mkdirSync(parent, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new Error(`cannot use the cache folder ${parent} (cannot create it: ${codeOf(error)})`);
  }
  try {
    checkPrivateDir(parent); // this user's (or root's) from / down, writable by nobody else
  } catch (error) {
    const why = error instanceof Error ? error.message.replace("refusing socket folder ", "refusing ") : String(error);
    throw new Error(`cannot use the cache folder ${parent} (${why})`);
  }
  removeStale(parent);
  let dir: string;
  try {
    dir = mkdtempSync(join(parent, RUN_PREFIX));
  } catch (error) {
    throw new Error(`cannot use the cache folder ${parent} (cannot create a folder in it: ${codeOf(error)})`);
  }
  const remove = (): void => {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {} // a copy left behind is swept on a later start
  };
  try {
    const file = join(dir, process.platform === "win32" ? "mux-tray.exe" : "mux-tray");
    writeNew(file, bytes);
    checkWritten(file, expected);
    return { path: file, remove };
  } catch (error) {
    remove();
    throw new Error(
      `cannot prepare the icon helper in ${dir}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

// --- internal ---

const RUN_PREFIX = "run-";
/** A run folder older than this was left by a daemon that died before its helper ran. */
const STALE_MS = 10 * 60_000;

/** Create `file` (never through a link, never an existing one), 0700, holding `bytes`. */
function writeNew(file: string, bytes: Uint8Array): void {
  const fd = openSync(
    file,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0),
    0o700,
  );
  try {
    let at = 0;
    while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
  } finally {
    closeSync(fd);
  }
}

/** The file at `file` is a regular file of this user's, writable by nobody else, with the pinned hash. */
function checkWritten(file: string, expected: string): void {
  const fd = openSync(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  try {
    const st = fstatSync(fd);
    const me = process.getuid?.();
    if (!st.isFile()) throw new Error("it is not a regular file");
    if (me !== undefined && st.uid !== me) throw new Error(`it belongs to uid ${st.uid}, not to you (uid ${me})`);
    if (me !== undefined && (st.mode & 0o022) !== 0)
      throw new Error(`other users can write to it (mode ${(st.mode & 0o7777).toString(8)})`);
    const hash = createHash("sha256");
    const buffer = Buffer.alloc(1 << 16);
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
    }
    const actual = hash.digest("hex");
    if (actual !== expected) throw new Error(`it has SHA-256 ${actual}, expected ${expected}`);
  } finally {
    closeSync(fd);
  }
}

/** Remove run folders left by daemons that died before their helper ran (ours: the parent is). */
function removeStale(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of names) {
    if (!name.startsWith(RUN_PREFIX)) continue;
    const path = join(parent, name);
    try {
      if (now - statSync(path).mtimeMs > STALE_MS) rmSync(path, { recursive: true, force: true });
    } catch {}
  }
}

/** Set by the per-OS entry of the build (src/bin/mux-<os>.ts) to the embedded helper's path. */
let embedded: string | undefined;

/** Where the build embedded this OS's helper (see src/bin/mux-linux.ts). */
export function setEmbeddedTrayHelper(path: string): void {
  embedded = path;
}

async function embeddedHelper(): Promise<string | undefined> {
  if (embedded) return embedded;
  // Run from the sources: the helper in node_modules.
  const file = { linux: "tray_linux_release", darwin: "tray_darwin_release", win32: "tray_windows_release.exe" }[
    process.platform as string
  ];
  if (!file) return undefined;
  try {
    return Bun.resolveSync(`systray2/traybin/${file}`, import.meta.dir);
  } catch {
    return undefined;
  }
}

function codeOf(error: unknown): string {
  return (error as { code?: string }).code ?? String(error);
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
