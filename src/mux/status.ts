/**
 * The status snapshot of a service and the status-file writer: atomic (temp file + rename),
 * throttled, and silent while nothing changes.
 * @module
 */

import { randomBytes } from "node:crypto";
import { closeSync, constants, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import type { StatusSettingsOf } from "./option-table.ts";
import type { ChildState } from "./routing/types.ts";

/** What `--status-file`, `mux status` and `mcp-mux/status` report. */
export interface StatusSnapshot {
  service: string;
  socket: string;
  /** `shared`: one child for all clients; `isolated`: one child per client; `workspace`: one per workspace. */
  mode: "shared" | "isolated" | "workspace";
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
  /**
   * Of those, the ones that look gone: HTTP sessions with no stream and no request for a
   * minute (hosts that exit without ending their session). They expire after the session idle
   * time, or sooner when new sessions need room.
   */
  idleClients: number;
  /** Every MCP session: its transport, the client's name, and how long since it connected and since its last message. */
  clients: ClientRow[];
  /** `share = "workspace"`: one row per workspace child. */
  workspaces: WorkspaceRow[];
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
  /** Set on the view an MCP client gets ({@link redactStatus}). */
  redacted?: true;
}

/** One workspace child in status. */
export interface WorkspaceRow {
  /** The folder it runs in. */
  dir: string;
  /** Where the workspace came from (`cwd`, `CLAUDE_PROJECT_DIR`, `url`, `none`). */
  source: string;
  pid: number | null;
  state: ChildState;
  clients: number;
  /** Requests sent to it since it started. */
  requests: number;
  /** Since its last request (or its start). */
  idleMs: number;
}

/** One MCP session in status. */
export interface ClientRow {
  id: number;
  transport: string;
  /** `clientInfo.name` of its `initialize`. */
  name: string | null;
  connectedMs: number;
  /** Since its last message. */
  idleMs: number;
  /** See {@link StatusSnapshot.idleClients}. */
  idle: boolean;
  /** Its workspace folder, for a `share = "workspace"` service. */
  workspace: string | null;
  /** Its host's pid, when its mux-proxy said (untrusted). */
  hostPid: number | null;
}

/**
 * What an MCP client may see of a snapshot: never argument values (env values are never in a
 * snapshot). A socket client is the owner's own process (the socket is 0600), so it keeps
 * paths, pids, reasons and client rows, which `mux status` and `mux health` show; an HTTP
 * session gets none of them. Full detail goes to the owner's
 * tools over the control socket only.
 */
export function redactStatus(s: StatusSnapshot, transport: string): StatusSnapshot {
  const hidden = "[redacted]";
  const own = transport === "socket";
  return {
    ...s,
    socket: own ? s.socket : hidden,
    muxPid: own ? s.muxPid : 0,
    childPid: own ? s.childPid : null,
    childPids: own ? s.childPids : [],
    failReason: own || s.failReason === null ? s.failReason : "the server failed",
    lastRestartReason: own || s.lastRestartReason === null ? s.lastRestartReason : hidden,
    clients: own ? s.clients : [],
    workspaces: own ? s.workspaces : s.workspaces.map((w) => ({ ...w, dir: hidden, pid: null })),
    settings: {
      ...s.settings,
      cmd: s.settings.cmd.split("/").pop() ?? hidden,
      args: s.settings.args.map(() => hidden),
      cwd: own || s.settings.cwd === null ? s.settings.cwd : hidden,
      statusFile: own || s.settings.statusFile === null ? s.settings.statusFile : hidden,
    },
    redacted: true,
  };
}

/**
 * Effective settings of a service as shown in status: every service option of the option table
 * but those it marks not shown (env values withheld: only the names, as `envKeys`).
 */
export type StatusSettings = StatusSettingsOf;

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
