/**
 * The reversible record of rewires: the per-user state directory, the state file (one record
 * per rewired entry with its exact original text), 0600 timestamped backups, a mux-wide lock,
 * and atomic writes that keep the file's mode and follow symlinks to their target. Host files
 * are read through {@link readHostFile}: the user's own regular files only, under a size cap.
 * @module
 */

import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { MuxError } from "../errors.ts";
import type { Container } from "./formats/document.ts";
import type { FileFormat, HostId, Scope, Shape } from "./hosts.ts";

/** One rewired entry, enough to put it back byte for byte. */
export interface RewireRecord {
  id: string;
  host: HostId;
  scope: Scope;
  file: string;
  container: Container;
  name: string;
  format: FileFormat;
  shape: Shape;
  /** The entry as it was: parsed value and exact source text of its region. */
  original: { value: unknown; text: string };
  /** The entry as we wrote it. */
  rewired: { value: unknown; text: string };
  serviceId: string;
  service: string;
  socket: string;
  configFile: string;
  /** The rewire added `service` to the config (so the last restore using it removes it). */
  addedService?: boolean;
  /** `http`: the entry became a URL entry for the daemon's HTTP front (default: a mux-proxy launch). */
  transport?: "stdio" | "http";
  /**
   * The file's mode before the rewire tightened it to 0600 (a URL entry's token must not be
   * readable by others); restore puts it back once no entry with a token is left in the file.
   */
  modeBefore?: number;
  backup?: string;
  preHash: string;
  postHash: string;
  muxVersion: string;
  at: string;
}

export interface RewireState {
  version: 1;
  records: RewireRecord[];
}

/** The state directory (see `config/paths.ts`). */
export { stateDir } from "../config/paths.ts";

/** The id of a record: host, file and entry path. */
export function recordId(host: string, file: string, container: Container, name: string): string {
  return `${host}:${file}#/${[...container.path, name].map((p) => p.replaceAll("~", "~0").replaceAll("/", "~1")).join("/")}`;
}

/** Read the state file (empty when missing). */
export function readState(dir: string): RewireState {
  const path = join(dir, "state.json");
  if (!existsSync(path)) return { version: 1, records: [] };
  const data = JSON.parse(readFileSync(path, "utf8")) as RewireState;
  if (data.version !== 1 || !Array.isArray(data.records))
    throw new MuxError("STATE_INVALID", `unreadable rewire state ${path}; move it away to start afresh`);
  return data;
}

/** Write the state file atomically (0600, directory 0700). */
export function writeState(dir: string, state: RewireState): void {
  ensureDir(dir);
  writeAtomic(join(dir, "state.json"), `${JSON.stringify(state, null, 2)}\n`, 0o600);
}

/** sha256 of some bytes, as `sha256:<hex>`. */
export function hashOf(data: string | Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** Timestamped backups kept per host file (the pristine copy is kept besides). */
export const KEEP_BACKUPS = 20;

/**
 * Copy `file` to `<dir>/backups/<host>/<stamp>-<sha8(path)>-<name>` (0600) and, once per
 * file, to `pristine-<sha8>-<name>`. Returns the timestamped backup's path.
 */
export function backupFile(dir: string, host: string, file: string, bytes: Uint8Array, now: Date): string {
  const folder = join(dir, "backups", host);
  ensureDir(folder);
  const tag = createHash("sha256").update(file).digest("hex").slice(0, 8);
  const stamp = now.toISOString().replace(/[-:]/g, ""); // 20260601T101500.123Z: sorts by time
  let path = join(folder, `${stamp}-${tag}-${basename(file)}`);
  for (let n = 1; existsSync(path); n++)
    path = join(folder, `${stamp}.${String(n).padStart(3, "0")}-${tag}-${basename(file)}`);
  writeFileSync(path, bytes, { mode: 0o600 });
  const pristine = join(folder, `pristine-${tag}-${basename(file)}`);
  if (!existsSync(pristine)) writeFileSync(pristine, bytes, { mode: 0o600 });
  // Keep the newest KEEP_BACKUPS timestamped copies of this file (names sort by time).
  const mine = readdirSync(folder)
    .filter((n) => !n.startsWith("pristine-") && n.endsWith(`-${tag}-${basename(file)}`))
    .sort();
  for (const old of mine.slice(0, Math.max(0, mine.length - KEEP_BACKUPS))) rmSync(join(folder, old), { force: true });
  return path;
}

/**
 * Replace `path` atomically: temp file in the same folder, fsync, same mode (or `mode`),
 * rename. With `verify`, the rename happens only if it still returns true once the new bytes
 * are on disk (the last moment to notice another writer); false when it does not.
 */
export function writeAtomic(path: string, data: string | Uint8Array, mode?: number, verify?: () => boolean): boolean {
  const target = existsSync(path) ? realpathSync(path) : path;
  const keepMode = mode ?? (existsSync(target) ? statSync(target).mode & 0o7777 : 0o644);
  const tmp = join(dirname(target), `.${basename(target)}.mux-${process.pid}-${randomBytes(4).toString("hex")}.tmp`);
  const fd = openSync(tmp, "wx", keepMode);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    chmodSync(tmp, keepMode);
    if (verify && !verify()) {
      rmSync(tmp, { force: true });
      return false;
    }
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return true;
}

/** The largest host file read (`~/.claude.json` grows with history; nothing real is near this). */
export const MAX_HOST_FILE_BYTES = 64 * 1024 * 1024;

/**
 * Read a host file (symlinks followed to `target`) refusing what is not safe to edit: a
 * symlink to, or a file owned by, another user; anything but a regular file (a FIFO would
 * hang the read, `/dev/zero` never end); more than {@link MAX_HOST_FILE_BYTES}. Opened
 * non-blocking and checked again on the open descriptor, so a swap after the check is caught.
 * Throws ENOENT as `fs` does when the file is missing; other refusals are `HOST_FILE_INVALID`.
 */
export function readHostFile(path: string): { target: string; bytes: Uint8Array; mode: number } {
  const link = lstatSync(path);
  const target = link.isSymbolicLink() ? realpathSync(path) : path;
  const refuse = (why: string): never => {
    throw new MuxError("HOST_FILE_INVALID", `${path}${target !== path ? ` (→ ${target})` : ""} ${why}; left alone`);
  };
  const uid = process.getuid?.();
  const st = statSync(target);
  if (!st.isFile()) refuse(`is not a regular file (${kindOf(st)})`);
  if (uid !== undefined && st.uid !== uid)
    refuse(`is owned by uid ${st.uid}, not by you (uid ${uid}): another user's file is never edited`);
  if (uid !== undefined && link.isSymbolicLink() && link.uid !== uid && link.uid !== 0)
    refuse(`is a symlink owned by uid ${link.uid}, not by you`);
  if (st.size > MAX_HOST_FILE_BYTES)
    refuse(`is ${st.size} bytes, more than the ${MAX_HOST_FILE_BYTES} a host file may have`);
  const fd = openSync(target, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0));
  try {
    const now = fstatSync(fd);
    if (!now.isFile() || now.ino !== st.ino || now.dev !== st.dev) refuse("was replaced while it was being read");
    const buf = Buffer.alloc(Math.min(now.size, MAX_HOST_FILE_BYTES) + 1);
    let n = 0;
    for (let r = 1; r > 0 && n < buf.length; n += r) r = readSync(fd, buf, n, buf.length - n, n);
    if (n > MAX_HOST_FILE_BYTES) refuse(`is more than the ${MAX_HOST_FILE_BYTES} bytes a host file may have`);
    return { target, bytes: new Uint8Array(buf.buffer, buf.byteOffset, n), mode: now.mode & 0o7777 };
  } finally {
    closeSync(fd);
  }
}

/**
 * Optimistic write: replace `path` with `next` only if it still holds exactly `expected`
 * (checked before `beforeWrite`, e.g. a backup, and again with the new bytes on disk right
 * before the atomic rename). Returns false, writing nothing, when another program changed the
 * file meanwhile. `mode` replaces the file's mode (else it is kept).
 */
export function replaceIfUnchanged(
  path: string,
  expected: Uint8Array,
  next: Uint8Array,
  beforeWrite?: () => void,
  mode?: number,
): boolean {
  const want = hashOf(expected);
  const current = () => {
    try {
      return hashOf(readHostFile(path).bytes);
    } catch {
      return "";
    }
  };
  if (current() !== want) return false;
  beforeWrite?.();
  return writeAtomic(path, next, mode, () => current() === want);
}

/**
 * Run `fn` holding the mux-wide rewire lock (`<dir>/rewire.lock`); a lock left by a dead
 * process is taken over.
 */
export async function withLock<T>(dir: string, fn: () => T | Promise<T>): Promise<T> {
  ensureDir(dir);
  const lock = join(dir, "rewire.lock");
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(lock, "wx", 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch {
      const holder = Number(readText(lock));
      if (!holder || !alive(holder)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (attempt > 100) throw new MuxError("STATE_LOCKED", `another mux (pid ${holder}) is editing host configs`);
      await Bun.sleep(50);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Create a private directory (0700) if missing. */
export function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

// --- internal ---

function kindOf(st: Stats): string {
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isDirectory()) return "a directory";
  if (st.isSocket()) return "a socket";
  return "not a file";
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "";
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
