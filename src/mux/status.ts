/**
 * The status snapshot of a service and the status-file writer: atomic (temp file + rename),
 * throttled, and silent while nothing changes.
 * @module
 */

import { renameSync, writeFileSync } from "node:fs";
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
  restarts: number;
  lastRestartReason: string | null;
  connectedClients: number;
  activeClients: number;
  maxActiveClients: number;
  queuedRequests: number;
  pendingRequests: number;
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

/** Create a writer that snapshots through `take` into `path`. */
export function createStatusWriter(path: string, take: () => StatusSnapshot, intervalMs = 200): StatusWriter {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last = "";
  let lastWrite = 0;
  let counter = 0;
  const write = (): void => {
    timer = undefined;
    const snapshot = take();
    const { timestamp: _t, uptimeMs: _u, childUptimeMs: _c, ...meaningful } = snapshot;
    const key = JSON.stringify(meaningful);
    if (key === last) return;
    last = key;
    lastWrite = Date.now();
    const tmp = `${path}.${process.pid}.${counter++}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(snapshot, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, path);
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
