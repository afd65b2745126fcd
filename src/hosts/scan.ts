/**
 * `scan`: every host file found, each server with its launch and state, which entries are the
 * same server (same command, args, env and cwd) and could share one mux service, and which
 * user entries a project entry of the same name shadows.
 * @module
 */

import { HOSTS, type HostId, policyWarnings, type Scope } from "./hosts.ts";
import { type EntryStatus, type HostEntry, type HostSelection, loadFile, matches, selectedFiles } from "./inventory.ts";
import type { ServiceSpec } from "./service-spec.ts";
import type { Launch } from "./shapes.ts";
import { URL_ENTRIES } from "./shapes.ts";
import { readState, stateDir } from "./state.ts";

/** One server as `scan --json` reports it. */
export interface ScannedServer {
  host: HostId;
  file: string;
  scope: Scope;
  name: string;
  status: EntryStatus;
  /** The real server (for a rewired entry: the original before the rewire). */
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Service id: entries with the same id are the same server. */
  serviceId?: string;
  socket?: string;
  /** A URL entry the rewire wrote (`--transport http`): the mux URL it points at. */
  url?: string;
  /** Env names the host resolves, forwarded by the proxy to the daemon. */
  forwardedEnv?: string[];
  /** Why `rewire` would skip it. */
  problems: string[];
  note?: string;
  /** A project or local entry: shown by scan, changed by rewire only with `--include-project`. */
  needsIncludeProject?: true;
  /** The project a Claude Code `local` entry belongs to. */
  project?: string;
  /** Why this server should see one request at a time (rewire sets `max_concurrent_requests: 1`). */
  serial?: string;
  /** The share policy rewire writes for it (`share-policy.ts`): `global`, `workspace` or `client`. */
  share?: string;
  /** Why (`args contain "."`, `unknown server: per project to be safe`). */
  shareReason?: string;
}

export interface ScanReport {
  hosts: {
    id: HostId;
    label: string;
    /** The host takes Streamable HTTP URL entries (`mux rewire --transport http`). */
    urlEntries: boolean;
    files: { path: string; scope: Scope; error?: string; assisted?: string }[];
  }[];
  servers: ScannedServer[];
  /** Servers found in more than one place: one mux service could serve them all. */
  shared: { serviceId: string; entries: { host: HostId; name: string; file: string }[] }[];
  /** A project/local entry that hides a user entry of the same name in the same host. */
  shadowed: { host: HostId; name: string; by: string }[];
  /** The services (one per distinct server) for `--write-config`. */
  specs: ServiceSpec[];
  /** Admin policies that would defeat a rewire (see `policyWarnings`). */
  warnings: string[];
  /** How many shown entries are project/local-scoped and left out unless `includeProject`. */
  projectScoped: number;
}

/**
 * Scan host files. Project and local scopes are always read and shown, since that is where
 * `claude mcp add` and `gemini mcp add` put entries by default; without `includeProject` they
 * are marked (`needsIncludeProject`) and left out of `specs`, as `rewire` leaves them alone.
 */
export function scanHosts(options: HostSelection): ScanReport {
  const records = readState(options.stateDir ?? stateDir(options.ctx.env)).records;
  const all = { ...options, includeProject: true };
  const files = selectedFiles(all);
  const report: ScanReport = {
    hosts: [],
    servers: [],
    shared: [],
    shadowed: [],
    specs: [],
    warnings: [],
    projectScoped: 0,
  };
  if (!options.hosts?.length || options.hosts.includes("claude-code"))
    report.warnings.push(...policyWarnings(options.ctx));
  const entries: HostEntry[] = [];
  for (const file of files) {
    const loaded = loadFile(file, options.ctx, records);
    let host = report.hosts.find((h) => h.id === file.host);
    if (!host) {
      host = {
        id: file.host,
        label: HOSTS.find((h) => h.id === file.host)?.label ?? file.host,
        urlEntries: URL_ENTRIES[file.host] !== undefined,
        files: [],
      };
      report.hosts.push(host);
    }
    const info: { path: string; scope: Scope; error?: string; assisted?: string } = {
      path: file.path,
      scope: file.scope,
    };
    if (loaded.error) info.error = loaded.error;
    if (file.assisted) info.assisted = file.assisted;
    host.files.push(info);
    entries.push(...loaded.entries.filter((e) => matches(all, e)));
  }
  const included = (e: HostEntry) => matches(options, e);
  for (const e of entries) {
    const out = describe(e);
    if (!included(e)) {
      out.needsIncludeProject = true;
      report.projectScoped++;
    }
    report.servers.push(out);
  }
  const bySpec = Map.groupBy(
    entries.filter((e) => e.spec),
    (e) => (e.spec as ServiceSpec).id,
  );
  for (const [serviceId, group] of bySpec) {
    const first = group.find(included);
    if (first) report.specs.push(first.spec as ServiceSpec);
    if (group.length > 1)
      report.shared.push({ serviceId, entries: group.map((e) => ({ host: e.host, name: e.name, file: e.file.path })) });
  }
  for (const e of entries.filter((x) => x.scope !== "user")) {
    const user = entries.find((u) => u.host === e.host && u.scope === "user" && u.name === e.name);
    if (user) report.shadowed.push({ host: e.host, name: e.name, by: `${e.scope} entry in ${e.file.path}` });
  }
  return report;
}

function describe(e: HostEntry): ScannedServer {
  const out: ScannedServer = {
    host: e.host,
    file: e.file.path,
    scope: e.scope,
    name: e.name,
    status: e.status,
    problems: e.problems.map((p) => p.message),
  };
  if (e.scope === "local" && e.container.path[0] === "projects") out.project = String(e.container.path[1]);
  const launch: Launch | undefined = e.upstream ?? e.launch;
  if (launch) {
    out.command = launch.command;
    out.args = launch.args;
    out.env = launch.env;
    if (launch.cwd !== undefined) out.cwd = launch.cwd;
  }
  if (e.spec) {
    out.serviceId = e.spec.id;
    if (e.spec.forward.length > 0) out.forwardedEnv = e.spec.forward;
    if (e.spec.serial) out.serial = e.spec.serial;
    out.share = e.spec.share;
    out.shareReason = e.spec.shareReason;
    out.socket = e.status === "managed" ? (e.socket ?? e.spec.socket) : e.spec.socket;
  } else if (e.socket) out.socket = e.socket;
  const key = URL_ENTRIES[e.host]?.url;
  const url = e.record?.transport === "http" && key ? (e.location.value as Record<string, unknown>)?.[key] : undefined;
  if (typeof url === "string") out.url = url;
  if (e.note) out.note = e.note;
  return out;
}
