/**
 * The status snapshot of a service and the status-file writer: atomic (temp file + rename),
 * throttled, and silent while nothing changes.
 * @module
 */

import { randomBytes } from "node:crypto";
import { closeSync, constants, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import type { ChildState } from "./router.ts";

/** What `--status-file`, `mux status` and `mcp-mux/status` report. */
export interface StatusSnapshot {
  service: string;
  socket: string;
  /** `shared`: one child for all clients; `isolated`: one child per client. */
  mode: "shared" | "isolated";
  muxPid: number;
  /** The shared child's pid (null in isolated mode: see `childPids`). */
  childPid: number | null;
  childPids: number[];
  state: ChildState;
  /** Why the service is failed, if it is. */
  failReason: string | null;
  /**
   * Why its server could not start (it exited before answering `initialize`), with its last
   * stderr lines; null once a server is ready. Restarts go on meanwhile.
   */
  startFailure: string | null;
  restarts: number;
  lastRestartReason: string | null;
  /** Clients that sent `initialize` (MCP sessions; status and health probes are not counted). */
  connectedClients: number;
  activeClients: number;
  maxActiveClients: number;
  queuedRequests: number;
  pendingRequests: number;
  /** Client requests sent to the server since the service started (rate = its change over time). */
  requestsTotal: number;
  initializeCached: boolean;
  protocolVersion: string | null;
  serverInfo: { name?: string; version?: string } | null;
  uptimeMs: number;
  childUptimeMs: number | null;
  timestamp: string;
  /** The effective settings (env values withheld: only the names). */
  settings: StatusSettings;
}

/** Effective settings of a service as shown in status. */
export interface StatusSettings {
  cmd: string;
  args: string[];
  cwd: string | null;
  envKeys: string[];
  maxActiveClients: number;
  /** Client requests at the child at once (0: no limit). */
  maxConcurrentRequests: number;
  lazyStart: boolean;
  maxRequestBytes: number;
  requestTimeoutMs: number;
  restartBackoffMs: number;
  restartBackoffMaxMs: number;
  maxRestarts: number;
  healthyAfterMs: number;
  statusFile: string | null;
  rootsPolicy: string;
  ambiguousRoute: string;
  isolated: boolean;
}

/** Writes snapshots to a file at most every `intervalMs`, only when they differ. */
export interface StatusWriter {
  /** Something changed; a snapshot will be taken and written soon. */
  touch(): void;
  /** Write the final snapshot now. */
  flush(): void;
}

/**
 * Create a writer that snapshots through `take` into `path`. Each write goes to a temporary
 * file with a random name, created exclusively and never through a symlink (another user's
 * planted link or file cannot redirect it), then renamed over `path`. A failing write is
 * logged once (again only after a success), and its temporary file removed.
 */
export function createStatusWriter(
  path: string,
  take: () => StatusSnapshot,
  options: { intervalMs?: number; warn?: (message: string) => void } = {},
): StatusWriter {
  const intervalMs = options.intervalMs ?? 200;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last = "";
  let lastWrite = 0;
  let failing = false;
  const write = (): void => {
    timer = undefined;
    const snapshot = take();
    const { timestamp: _t, uptimeMs: _u, childUptimeMs: _c, ...meaningful } = snapshot;
    const key = JSON.stringify(meaningful);
    if (key === last) return;
    lastWrite = Date.now();
    try {
      writeAtomically(path, `${JSON.stringify(snapshot, null, 2)}\n`);
      last = key;
      failing = false;
    } catch (error) {
      if (!failing) options.warn?.(`cannot write the status file ${path}: ${(error as Error).message}`);
      failing = true;
    }
  };
  return {
    touch() {
      if (timer) return;
      const wait = Math.max(0, lastWrite + intervalMs - Date.now());
      timer = setTimeout(write, wait);
    },
    flush() {
      clearTimeout(timer);
      write();
    },
  };
}

// --- internal ---

const EXCLUSIVE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.${randomBytes(8).toString("hex")}.tmp`;
  const fd = openSync(tmp, EXCLUSIVE, 0o600);
  try {
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (error) {
    try {
      unlinkSync(tmp);
    } catch {}
    throw error;
  }
}
