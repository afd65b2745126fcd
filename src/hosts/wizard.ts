/**
 * The `mux wizard` flow, separate from its prompts so tests inject answers: (1) pick servers
 * found in host configs and running processes, with mux health; (2) pick hosts to rewire,
 * with their state; (3) summary, then Save all / Mux config only / Copy to clipboard / Back /
 * Exit. `dryRun` shows diffs instead of writing.
 * @module
 */

import { createTwoFilesPatch } from "diff";
import { checkHealth } from "../health/health.ts";
import { HOSTS, type HostContext, type HostId } from "./hosts.ts";
import { addServices, defaultMuxConfig, renderConfig } from "./mux-config.ts";
import { type RunningServer, runningServers, runsLaunch } from "./processes.ts";
import { type RewireResult, rewireHosts } from "./rewire.ts";
import { type ScannedServer, type ScanReport, scanHosts } from "./scan.ts";
import { type ServiceSpec, serviceSpec } from "./service-spec.ts";
import { URL_ENTRIES } from "./shapes.ts";

/** One choice of a prompt. */
export interface WizardChoice {
  name: string;
  value: string;
  checked?: boolean;
}

/** The two prompts the flow needs (Inquirer prompts in the CLI, scripted in tests). */
export interface WizardPrompts {
  checkbox(options: { message: string; choices: WizardChoice[] }): Promise<string[]>;
  select(options: { message: string; choices: WizardChoice[] }): Promise<string>;
}

export interface WizardOptions {
  ctx: HostContext;
  /** Absolute `mux-proxy` path for rewired entries. */
  proxy: string;
  prompts: WizardPrompts;
  /** Where the flow writes its text (the CLI passes stderr). */
  print: (text: string) => void;
  dryRun?: boolean;
  stateDir?: string;
  configFile?: string;
  /** Running MCP processes (default: read from the system). */
  processes?: () => RunningServer[];
  /** Health of a mux socket: true/false, or undefined when nothing listens there. */
  health?: (socket: string) => Promise<boolean | undefined>;
  /** Copy text; returns the tool used, or undefined when none is available. */
  clipboard?: (text: string) => Promise<string | undefined>;
  /**
   * How hosts reach the servers: `stdio` (default: entries run mux-proxy), `http` (URL entries
   * where hosts take them), or `ask` (a question after step 2 when a chosen host takes URLs).
   */
  transport?: "stdio" | "http" | "ask";
  /** Told when the hosts got URL entries: the daemon must then run from login. */
  onHttp?: (configFile: string) => Promise<void>;
}

export type WizardOutcome = "saved" | "config-only" | "copied" | "exit" | "nothing";

/** Run the three steps until the user saves, copies or exits. */
export async function runWizard(options: WizardOptions): Promise<WizardOutcome> {
  const { prompts, print } = options;
  const configFile = options.configFile ?? defaultMuxConfig(options.ctx.env);
  const scanned = scanHosts({ ctx: options.ctx, stateDir: options.stateDir });
  // The wizard rewires user-level entries, like `rewire` without --include-project.
  const report = { ...scanned, servers: scanned.servers.filter((s) => !s.needsIncludeProject) };
  const procs = options.processes?.() ?? runningServers();
  const detected = detectedOnly(report, procs, options.ctx);
  const groups = serviceGroups(report);
  if (groups.length === 0 && detected.length === 0) {
    print("No MCP servers found in host configs or running processes.");
    return "nothing";
  }
  const health = options.health ?? defaultHealth;
  // Step 1: servers.
  let chosen: string[] = [];
  while (chosen.length === 0) {
    const choices: WizardChoice[] = [];
    for (const g of groups) {
      const state = await health(g.spec.socket);
      const badge = state === undefined ? "" : state ? "  [mux: healthy]" : "  [mux: not answering]";
      const copies = procs.filter((p) => runsLaunch(p, g.spec.cmd, g.spec.args)).length;
      const running = copies > 0 ? `  [running: ${copies} process${copies > 1 ? "es" : ""}]` : "";
      const where = g.servers.map((s) => `${s.host}${s.status === "managed" ? " (rewired)" : ""}`).join(", ");
      choices.push({
        name: `${g.spec.name}  ${[g.spec.cmd, ...g.spec.args].join(" ")}  [${where}]${badge}${running}  share: ${g.spec.share} (${g.spec.shareReason})`,
        value: g.spec.id,
        checked: g.servers.some((s) => s.status === "upstream"),
      });
    }
    for (const d of detected)
      choices.push({
        name: `${d.spec.name}  ${d.argv.join(" ")}  [running, pid ${d.pid}; no host config]  share: ${d.spec.share} (${d.spec.shareReason})`,
        value: d.spec.id,
      });
    chosen = await prompts.checkbox({ message: "Step 1/3: servers to share through mcp-mux", choices });
    if (chosen.length === 0) print("Select at least one server (space toggles).");
  }
  const specs = [...groups.map((g) => g.spec), ...detected.map((d) => d.spec)].filter((s) => chosen.includes(s.id));
  for (;;) {
    // Step 2: hosts.
    const hostChoices: WizardChoice[] = [];
    for (const h of HOSTS) {
      const mine = report.servers.filter((s) => s.host === h.id && s.serviceId && chosen.includes(s.serviceId));
      if (mine.length === 0) continue;
      const todo = mine.filter((s) => s.status === "upstream").length;
      const done = mine.filter((s) => s.status === "managed").length;
      hostChoices.push({
        name: `${h.label}: ${todo} to rewire, ${done} already rewired`,
        value: h.id,
        checked: todo > 0,
      });
    }
    const hosts =
      hostChoices.length === 0
        ? []
        : ((await prompts.checkbox({ message: "Step 2/3: hosts to rewire", choices: hostChoices })) as HostId[]);
    let transport: "stdio" | "http" = options.transport === "http" ? "http" : "stdio";
    if (options.transport === "ask" && hosts.some((h) => URL_ENTRIES[h])) {
      transport = (await prompts.select({
        message: "How should these hosts reach the shared servers?",
        choices: [
          { name: "mux-proxy (stdio): starts the daemon by itself when a host needs it", value: "stdio" },
          {
            name: "URL (Streamable HTTP): no proxy process; the daemon runs from login (mux service install)",
            value: "http",
          },
        ],
      })) as "stdio" | "http";
    }
    // Step 3: summary.
    const plan =
      hosts.length === 0
        ? undefined
        : await rewireHosts({
            ...base(options, configFile),
            hosts,
            serviceIds: chosen,
            dryRun: true,
            transport: options.transport === undefined ? undefined : transport,
          });
    print(summary(specs, configFile, plan));
    const action = await prompts.select({
      message: "Step 3/3: what now?",
      choices: [
        {
          name: options.dryRun ? "Save all (dry run: show the diffs)" : "Save all: mux config and host rewires",
          value: "save",
        },
        { name: "Mux config only", value: "config" },
        { name: "Copy the mux config to the clipboard", value: "copy" },
        { name: "Back", value: "back" },
        { name: "Exit without saving", value: "exit" },
      ],
    });
    if (action === "back") continue;
    if (action === "exit") return "exit";
    if (action === "copy") {
      const text = renderConfig(configFile, specs);
      const tool = await (options.clipboard ?? copyToClipboard)(text);
      print(
        tool
          ? `Copied the mux config (${specs.length} services) with ${tool}.`
          : `No clipboard tool found; here it is:\n${text}`,
      );
      return "copied";
    }
    const cfg = addServices(configFile, specs, { dryRun: options.dryRun });
    if (options.dryRun)
      print(
        cfg.added.length
          ? createTwoFilesPatch(configFile, configFile, cfg.before, cfg.text).trimEnd()
          : `${configFile}: no change`,
      );
    else
      print(cfg.added.length ? `Added ${cfg.added.join(", ")} to ${configFile}.` : `${configFile} already has them.`);
    if (action === "config") return "config-only";
    if (hosts.length > 0) {
      const result = await rewireHosts({
        ...base(options, configFile),
        hosts,
        serviceIds: chosen,
        dryRun: options.dryRun,
        // Entries rewired the other way are switched only when the transport was a choice.
        transport: options.transport === undefined ? undefined : transport,
        // Added just above: recorded as the rewire's, so `mux restore` takes them out again.
        addedServices: cfg.added,
      });
      print(describeRewire(result, options.dryRun ?? false));
      if (result.httpBase && !options.dryRun) {
        await options.onHttp?.(configFile);
        return "saved";
      }
    }
    print(
      `Hosts start the daemon themselves when they need it. To start it now: mux serve --config ${configFile}; at login: mux service install`,
    );
    return "saved";
  }
}

/** One text block describing a rewire result (shared by the CLI and the wizard). */
export function describeRewire(result: RewireResult, dryRun: boolean): string {
  const out: string[] = [];
  for (const c of result.changes) {
    if (dryRun) out.push(c.diff.trimEnd());
    else
      for (const e of c.entries)
        out.push(
          `${e.switched ? "switched" : "rewired"} ${c.host} ${e.name} → ${e.url ? `URL ${e.url}` : `service ${e.service} (${e.socket})`}${e.share ? `, share: ${e.share} (${e.shareReason})` : ""}`,
        );
  }
  for (const u of result.unchanged) out.push(`unchanged ${u.host} ${u.name}: ${u.reason}`);
  for (const s of result.skipped) out.push(`skipped ${s.host} ${s.name}: ${s.reason}`);
  for (const w of result.warnings) out.push(`warning: ${w}`);
  for (const i of result.instructions) out.push(`by hand: ${i}`);
  if (!dryRun && result.reload.length > 0) out.push("Reload:", ...result.reload.map((r) => `  ${r}`));
  if (out.length === 0) out.push("Nothing to rewire.");
  return out.join("\n");
}

/** Copy with pbcopy, wl-copy or xclip; undefined when none works. */
export async function copyToClipboard(text: string): Promise<string | undefined> {
  const tools = [["pbcopy"], ["wl-copy"], ["xclip", "-selection", "clipboard"]];
  for (const argv of tools) {
    if (!Bun.which(argv[0] as string)) continue;
    try {
      const proc = Bun.spawn(argv, { stdin: "pipe", stdout: "ignore", stderr: "ignore" });
      proc.stdin.write(text);
      await proc.stdin.end();
      if ((await proc.exited) === 0) return argv[0];
    } catch {
      // Try the next tool.
    }
  }
  return undefined;
}

// --- internal ---

function base(options: WizardOptions, configFile: string) {
  return { ctx: options.ctx, proxy: options.proxy, stateDir: options.stateDir, configFile };
}

function serviceGroups(report: ScanReport): { spec: ServiceSpec; servers: ScannedServer[] }[] {
  return report.specs.map((spec) => ({ spec, servers: report.servers.filter((s) => s.serviceId === spec.id) }));
}

function detectedOnly(
  report: ScanReport,
  procs: RunningServer[],
  ctx: HostContext,
): { pid: number; argv: string[]; spec: ServiceSpec }[] {
  const out: { pid: number; argv: string[]; spec: ServiceSpec }[] = [];
  for (const p of procs) {
    // A host's own child is in that host's config (maybe a scope the wizard leaves out), not an orphan.
    if (p.host || report.specs.some((s) => runsLaunch(p, s.cmd, s.args))) continue;
    const [cmd, ...args] = p.argv;
    if (!cmd) continue;
    const pkg = args.find((a) => a.includes("mcp") || a.includes("server")) ?? cmd;
    const name = (pkg.split("/").pop() ?? "server").replace(/^server-/, "");
    const { spec } = serviceSpec(
      name,
      { command: cmd, args, env: {}, hostEnv: [], secretKeys: [], envRefs: [] },
      {
        env: ctx.env,
        base: ctx.home,
        force: false,
      },
    );
    if (spec && !out.some((o) => o.spec.id === spec.id)) out.push({ pid: p.pid, argv: p.argv, spec });
  }
  return out;
}

function summary(specs: ServiceSpec[], configFile: string, plan: RewireResult | undefined): string {
  const lines = [`Mux config ${configFile} will serve:`];
  for (const s of specs)
    lines.push(
      `  ${s.name}: ${[s.cmd, ...s.args].join(" ")} on ${s.socket}`,
      `    share: ${s.share} (${s.shareReason})`,
    );
  if (plan) {
    lines.push("Host entries to rewire:");
    for (const c of plan.changes) for (const e of c.entries) lines.push(`  ${c.host} ${e.name} (${c.path})`);
    for (const s of plan.skipped) lines.push(`  skipped ${s.host} ${s.name}: ${s.reason}`);
    for (const i of plan.instructions) lines.push(`  by hand: ${i}`);
  } else lines.push("No host will be rewired.");
  return lines.join("\n");
}

async function defaultHealth(socket: string): Promise<boolean | undefined> {
  const result = await checkHealth({ socket, timeoutMs: 1000 });
  if (result.state === "no-socket") return undefined;
  return result.ok;
}
