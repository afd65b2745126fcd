/**
 * The persisted handshake cache of a shared service: the child's `initialize` parameters and
 * result and its first pages of `tools/list`, `prompts/list` and `resources/list`, in
 * `<state dir>/handshake-cache/<key>.json` (folder 0700, file 0600, written atomically). The key
 * hashes the service (name and socket) and its launch spec (command, arguments, working folder,
 * environment names and values), so another launch never reads this one's answers and no value
 * is written in clear. The file is
 * read as hostile input: own regular file, no symlink, size cap, shape checked; anything else is
 * ignored (and replaced at the next write).
 * @module
 */

import { createHash, randomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { isObject, type JsonObject } from "../protocol/message.ts";

/** The list methods whose first page is cached. */
export const CACHED_LISTS = ["tools/list", "prompts/list", "resources/list"] as const;
export type CachedList = (typeof CACHED_LISTS)[number];

/** One service's cached handshake. */
export interface CachedHandshake {
  /** The parameters the child was initialized with (kept for the next child). */
  params: JsonObject;
  /** The child's initialize result. */
  result: JsonObject;
  /** First pages of the list methods the child answered. */
  lists: Partial<Record<CachedList, JsonObject>>;
  /** When the lists were asked (ms since the epoch): a page's `ttlMs` counts from it. */
  listedAt?: number;
}

/** What identifies a service's launch. */
export interface LaunchSpec {
  service: string;
  socket: string;
  cmd: string;
  args: readonly string[];
  cwd?: string;
  env?: Record<string, string>;
  /** Settings that shape the child's initialize (capability and roots policies): another value, another cache. */
  policy?: unknown;
}

/** The cache file of a launch under `stateDir`. */
export function cacheFile(stateDir: string, spec: LaunchSpec): string {
  const env = Object.entries(spec.env ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => [k, sha256(v)]);
  const { service, socket, cmd, args } = spec;
  const policy = spec.policy ?? null;
  const key = sha256(JSON.stringify({ service, socket, cmd, args, cwd: spec.cwd ?? null, env, policy }));
  return join(stateDir, "handshake-cache", `${key.slice(0, 32)}.json`);
}

/** The cached handshake in `file`, or undefined when there is none or it is not one (never throws). */
export function readCache(file: string): CachedHandshake | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    const uid = process.getuid?.();
    if (!st.isFile() || st.size > MAX_BYTES || (uid !== undefined && st.uid !== uid)) return undefined;
    const buf = Buffer.alloc(st.size);
    let at = 0;
    while (at < st.size) {
      const n = readSync(fd, buf, at, st.size - at, at);
      if (n <= 0) break;
      at += n;
    }
    return parseCache(JSON.parse(buf.subarray(0, at).toString("utf8")));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Write the cache atomically (0600, folder 0700). Returns the error message, if it failed. */
export function writeCache(file: string, entry: CachedHandshake): string | undefined {
  const dir = join(file, "..");
  const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    if (!st.isDirectory()) return `${dir} is not a folder`;
    writeFileSync(tmp, JSON.stringify({ format: FORMAT, ...entry }), { mode: 0o600, flag: "wx" });
    renameSync(tmp, file);
    return undefined;
  } catch (error) {
    rmSync(tmp, { force: true });
    return error instanceof Error ? error.message : String(error);
  }
}

// --- internal ---

const FORMAT = 1;
/** A cache file bigger than this is not read. */
const MAX_BYTES = 8 * 1024 * 1024;

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function parseCache(data: unknown): CachedHandshake | undefined {
  if (!isObject(data) || data.format !== FORMAT) return undefined;
  const { params, result, lists } = data;
  if (!isObject(params) || !isObject(result) || !isObject(lists)) return undefined;
  if (typeof result.protocolVersion !== "string" || !isObject(result.capabilities)) return undefined;
  const out: CachedHandshake = { params, result, lists: {} };
  if (typeof data.listedAt === "number" && Number.isFinite(data.listedAt)) out.listedAt = data.listedAt;
  for (const method of CACHED_LISTS) {
    const page = lists[method];
    if (isObject(page)) out.lists[method] = page;
  }
  return out;
}
