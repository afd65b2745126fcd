/**
 * `mux scan`, `mux rewire` and `mux restore`: host integration on the command line.
 * @module
 */

import { resolve } from "node:path";
import { defineCommand } from "citty";
import { type HostContext, hostContext } from "../hosts/hosts.ts";
import { addServices } from "../hosts/mux-config.ts";
import { type RewireStatusRow, repairHosts, restoreHosts, rewireHosts, rewireStatus } from "../hosts/rewire.ts";
import { type ScanReport, scanHosts } from "../hosts/scan.ts";
import { describeRewire } from "../hosts/wizard.ts";
import { SHARE_POLICIES, type SharePolicy } from "../mux/options.ts";
import { findInstalled } from "./installed.ts";
import { fail } from "./logger.ts";
import { reloadIfRunning } from "./reload.ts";

/** Flags every host command takes. */
export const HOST_ARGS = {
  host: { type: "string", description: "Only these hosts (comma-separated ids, e.g. cursor,codex)" },
  server: { type: "string", description: "Only these entries (comma-separated names)" },
  "include-project": { type: "boolean", description: "Also project and local scopes (.mcp.json, .vscode/mcp.json, …)" },
  project: { type: "string", description: "Project directory for project scopes (default: the current directory)" },
} as const;

/** The `scan` subcommand. */
export const scanCommand = defineCommand({
  meta: { name: "scan", description: "List MCP servers in every host config, and which could share one mux service" },
  args: {
    ...HOST_ARGS,
    json: { type: "boolean", description: "Print JSON" },
    "write-config": { type: "string", description: "Add the found servers to this mux config (.json, .yaml or .toml)" },
  },
  async run({ args }) {
    const report = await guard(() => scanHosts(selection(args)));
    if (args["write-config"]) {
      const path = resolve(args["write-config"]);
      const specs = report.specs;
      const result = await guard(() => addServices(path, specs));
      process.stderr.write(
        result.added.length
          ? `wrote ${result.added.length} service(s) to ${path}: ${result.added.join(", ")}\nstart them: mux serve --config ${path}\n`
          : `${path} already has every found server\n`,
      );
    }
    if (args.json) {
      const { specs: _specs, ...rest } = report;
      process.stdout.write(`${JSON.stringify(rest, null, 2)}\n`);
    } else process.stdout.write(renderScan(report));
    process.exit(0);
  },
});

/** The `rewire` subcommand. */
export const rewireCommand = defineCommand({
  meta: { name: "rewire", description: "Point host entries at mux-proxy (reversible with `mux restore`)" },
  args: {
    ...HOST_ARGS,
    "dry-run": { type: "boolean", description: "Print a unified diff and write nothing" },
    force: {
      type: "boolean",
      description: "Rewire entries with a relative command or variables the daemon cannot resolve too",
    },
    share: {
      type: "string",
      description:
        "global | workspace | client: the share policy of the new services (default: per entry, shown by mux scan); a service already in the config keeps its own",
    },
    proxy: {
      type: "string",
      description: "Absolute path of mux-proxy (default: the installed one: on PATH, or in ~/.local/bin)",
    },
    config: { type: "string", description: "The mux config that gets the services (default: the per-user one)" },
    status: { type: "boolean", description: "Show what is rewired where, and change nothing" },
    repair: { type: "boolean", description: "Re-point rewired entries whose mux-proxy no longer exists" },
    transport: {
      type: "string",
      description:
        "stdio (default: entries run mux-proxy) | http (URL entries for the daemon's HTTP front, where hosts take them); given, entries rewired the other way are switched",
    },
    "http-listen": {
      type: "string",
      description:
        "With --transport http, when the mux config has no http setting: where the HTTP front listens (default 127.0.0.1 on a per-user port)",
    },
    json: { type: "boolean", description: "Print JSON" },
  },
  async run({ args }) {
    const sel = selection(args);
    if (args.status) {
      printStatus(rewireStatus(sel), args.json ?? false);
      process.exit(0);
    }
    const proxy = findProxy(args.proxy);
    if (args.repair) {
      const repaired = await guard(() => repairHosts({ ...sel, proxy, dryRun: args["dry-run"] }));
      if (args.json) process.stdout.write(`${JSON.stringify(repaired, null, 2)}\n`);
      else {
        if (args["dry-run"]) for (const c of repaired.changes) process.stdout.write(`${c.diff.trimEnd()}\n`);
        for (const r of repaired.repaired)
          process.stdout.write(
            `${args["dry-run"] ? "would re-point" : "re-pointed"} ${r.host} ${r.name}: ${r.from} → ${proxy}\n`,
          );
        for (const r of repaired.refused) process.stdout.write(`refused ${r.host} ${r.name}: ${r.reason}\n`);
        if (repaired.repaired.length === 0 && repaired.refused.length === 0)
          process.stdout.write("Every rewired entry's mux-proxy exists; nothing to repair.\n");
      }
      process.exit(repaired.refused.length > 0 ? 1 : 0);
    }
    const result = await guard(() =>
      rewireHosts({
        ...sel,
        proxy,
        force: args.force,
        dryRun: args["dry-run"],
        configFile: args.config ? resolve(args.config) : undefined,
        transport: transportOf(args.transport),
        share: shareOf(args.share),
        httpListen: args["http-listen"],
      }),
    );
    if (args.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      process.exit(0);
    }
    if (args["dry-run"] && result.config.diff) process.stdout.write(`${result.config.diff.trimEnd()}\n`);
    process.stdout.write(`${describeRewire(result, args["dry-run"] ?? false)}\n`);
    if (!args["dry-run"] && result.config.added.length > 0) {
      process.stdout.write(`Added ${result.config.added.join(", ")} to ${result.config.path}.\n`);
      const reloaded = await reloadIfRunning(result.config.path);
      if (!reloaded)
        process.stdout.write(
          `Hosts start the daemon themselves when they need it (their entries run mux-proxy --config). ` +
            `To start it now: mux serve --config ${result.config.path}; to keep it running from login: mux service install\n`,
        );
      else if (reloaded.error)
        process.stdout.write(`The running daemon refused the reload: ${JSON.stringify(reloaded.error)}\n`);
      else {
        process.stdout.write(`The running daemon picked them up (added: ${String(reloaded.added)}).\n`);
        for (const w of (reloaded.warnings ?? []) as string[]) process.stdout.write(`warning (daemon): ${w}\n`);
      }
    }
    process.exit(0);
  },
});

/** The `restore` subcommand. */
export const restoreCommand = defineCommand({
  meta: { name: "restore", description: "Put rewired host entries back, one by one" },
  args: {
    host: HOST_ARGS.host,
    server: HOST_ARGS.server,
    force: { type: "boolean", description: "Restore entries changed since the rewire too" },
    forget: { type: "boolean", description: "Forget rewired entries the host deleted (and services only they used)" },
    "dry-run": { type: "boolean", description: "Print a unified diff and write nothing" },
  },
  async run({ args }) {
    const result = await guard(() =>
      restoreHosts({
        ctx: hostContext(),
        hosts: list(args.host),
        servers: list(args.server),
        force: args.force,
        forget: args.forget,
        dryRun: args["dry-run"],
      }),
    );
    if (args["dry-run"]) for (const c of result.changes) process.stdout.write(`${c.diff.trimEnd()}\n`);
    for (const r of result.forgotten)
      process.stdout.write(`${args["dry-run"] ? "would forget" : "forgot"} ${r.host} ${r.name}: ${r.reason}\n`);
    for (const r of result.restored)
      process.stdout.write(`${args["dry-run"] ? "would restore" : "restored"} ${r.host} ${r.name} (${r.path})\n`);
    for (const r of result.refused) process.stdout.write(`refused ${r.host} ${r.name}: ${r.reason}\n`);
    if (result.restored.length === 0 && result.refused.length === 0 && result.forgotten.length === 0)
      process.stdout.write("Nothing to restore.\n");
    for (const { config, services } of result.removedServices) {
      process.stdout.write(`removed ${services.join(", ")} from ${config} (no host uses them any more)\n`);
      const reloaded = await reloadIfRunning(config);
      if (reloaded && !reloaded.error) process.stdout.write("The running daemon stopped them.\n");
    }
    process.exit(result.refused.length > 0 ? 1 : 0);
  },
});

/** `mux status --hosts` and `mux rewire --status`. */
export function printStatus(rows: RewireStatusRow[], json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write("No host entry is rewired.\n");
    return;
  }
  for (const r of rows)
    process.stdout.write(
      `${r.host}  ${r.name}  ${r.state}  service ${r.service}${r.share ? ` (share: ${r.share})` : ""}  ${r.url ?? r.socket}  (${r.path})${statusNote(r)}\n`,
    );
}

/** Host selection from flags. */
export function selection(args: { host?: string; server?: string; "include-project"?: boolean; project?: string }): {
  ctx: HostContext;
  hosts?: string[];
  servers?: string[];
  includeProject?: boolean;
} {
  return {
    ctx: hostContext(process.env, { project: args.project }),
    hosts: list(args.host),
    servers: list(args.server),
    includeProject: args["include-project"] ?? false,
  };
}

/** The absolute mux-proxy path written into host entries (see `installed.ts`). */
export function findProxy(explicit?: string): string {
  return findInstalled("mux-proxy", explicit, "MUX_PROXY");
}

/** Human scan output. */
export function renderScan(report: ScanReport): string {
  const out: string[] = [];
  if (report.hosts.length === 0) return "No MCP host config found.\n";
  for (const h of report.hosts) {
    for (const f of h.files) {
      out.push(
        `${h.label}  ${f.path}${f.scope === "user" ? "" : `  (${f.scope})`}${h.urlEntries ? "  [takes URL entries]" : ""}`,
      );
      if (f.error) out.push(`  ! ${f.error}`);
      if (f.assisted) out.push(`  (read only: ${f.assisted})`);
      for (const s of report.servers.filter((x) => x.file === f.path)) {
        const launch = s.command ? `${[s.command, ...(s.args ?? [])].join(" ")}` : "";
        const env = s.env && Object.keys(s.env).length ? `  env ${Object.keys(s.env).join(",")}` : "";
        const scope = s.scope === f.scope && !s.project ? "" : `  (${s.scope}${s.project ? `: ${s.project}` : ""})`;
        const state =
          s.status === "managed"
            ? `rewired → ${s.url ? `URL ${s.url}` : s.socket}`
            : s.status === "foreign"
              ? `foreign proxy ${s.socket ?? ""}`
              : s.status;
        out.push(`  ${s.name}  [${state}]  ${launch}${env}${s.cwd ? `  cwd ${s.cwd}` : ""}${scope}`.trimEnd());
        if (s.forwardedEnv)
          out.push(`      env resolved by the host, forwarded by mux-proxy: ${s.forwardedEnv.join(", ")}`);
        if (s.share) out.push(`      share: ${s.share} (${s.shareReason})`);
        for (const p of s.problems) out.push(`      cannot share: ${p}`);
        if (s.serial && s.status !== "managed")
          out.push(`      shared with max_concurrent_requests = 1 (rewire sets it): ${s.serial}`);
        if (s.needsIncludeProject) out.push("      project-scoped: rewire changes it only with --include-project");
      }
    }
  }
  if (report.shared.length > 0) {
    out.push("", "Same server in several places (one mux service can serve them all):");
    for (const g of report.shared)
      out.push(`  ${g.serviceId}: ${g.entries.map((e) => `${e.host}/${e.name}`).join(", ")}`);
  }
  for (const s of report.shadowed) out.push(`note: ${s.host} ${s.name} is shadowed by a ${s.by}`);
  if (report.projectScoped > 0)
    out.push(
      `note: ${report.projectScoped} project/local-scoped entr${report.projectScoped > 1 ? "ies" : "y"} (the default scope of \`claude mcp add\` and \`gemini mcp add\`) shown above; mux rewire --include-project [--project DIR] shares them too`,
    );
  for (const w of report.warnings) out.push(`warning: ${w}`);
  return `${out.join("\n")}\n`;
}

// --- internal ---

function statusNote(r: RewireStatusRow): string {
  if (r.state === "missing")
    return "\n    the host deleted this entry since the rewire: mux restore --forget clears the record";
  if (r.state === "file-missing") return "\n    the host file is gone: mux restore --forget clears the record";
  if (r.state === "changed") return "\n    changed since the rewire: mux restore refuses it unless --force";
  if (r.proxyMissing) return `\n    mux-proxy ${r.proxy} no longer exists: run mux rewire --repair`;
  return "";
}

function shareOf(value: string | undefined): SharePolicy | undefined {
  if (value === undefined || (SHARE_POLICIES as readonly string[]).includes(value)) return value as SharePolicy;
  return fail(`--share must be ${SHARE_POLICIES.join(", ")}, got ${value}`);
}

function transportOf(value: string | undefined): "stdio" | "http" | undefined {
  if (value === undefined || value === "stdio" || value === "http") return value;
  return fail(`--transport must be stdio or http, got ${value}`);
}

function list(value: string | undefined): string[] | undefined {
  const items = value
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return items?.length ? items : undefined;
}

/** Run `fn`; a thrown error becomes a one-line message and exit 1. */
async function guard<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
}
