/**
 * The reversible record of rewires: the per-user state directory, the state file (one record
 * per rewired entry with its exact original text), 0600 timestamped backups, a mux-wide lock,
 * and atomic writes that keep the file's mode and follow symlinks to their target.
 * @module
 */

import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
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

/** Replace `path` atomically: temp file in the same folder, fsync, same mode, rename. */
export function writeAtomic(path: string, data: string | Uint8Array, mode?: number): void {
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
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Optimistic write: replace `path` with `next` only if it still holds exactly `expected`
 * (checked before `beforeWrite`, e.g. a backup, and again right before the atomic rename).
 * Returns false, writing nothing, when another program changed the file meanwhile.
 */
export function replaceIfUnchanged(
  path: string,
  expected: Uint8Array,
  next: Uint8Array,
  beforeWrite?: () => void,
): boolean {
  const want = hashOf(expected);
  const current = () => hashOf(new Uint8Array(readFileSync(path)));
  if (current() !== want) return false;
  beforeWrite?.();
  if (current() !== want) return false;
  writeAtomic(path, next);
  return true;
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
