/**
 * From a host's launch to a mux service: translate host-side variables into the mux
 * config's `${VAR}` form (every spelling of the project folder into `${workspaceFolder}`),
 * refuse what only the host can resolve (inputs, secrets, env files, the editor's open file),
 * choose the share policy (see `share-policy.ts`), and derive the service id and its short
 * socket path from the launch.
 * @module
 */

import { createHash } from "node:crypto";
import { basename, isAbsolute, join, resolve } from "node:path";
import { runtimeDir } from "../config/paths.ts";
import type { SharePolicy } from "../mux/options.ts";
import type { Launch } from "./shapes.ts";
import { classifyShare, relativePathArg } from "./share-policy.ts";

/** A mux service for one upstream server. */
export interface ServiceSpec {
  /** 8 hex characters of sha256(command, args, env, cwd). Same launch ⇒ same id. */
  id: string;
  /** Suggested service name (the host entry's name, made safe). */
  name: string;
  cmd: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  socket: string;
  /**
   * Env names the host resolves (secrets, inputs): the entry keeps them and its proxy forwards
   * them (`--env NAME`); the daemon runs one child per distinct set of values.
   */
  forward: string[];
  /**
   * Variables the host expands from its own environment that a daemon would not have
   * (why `forward` is not empty when no secret asked for it); rewire warns about them.
   */
  hostVars?: string[];
  /**
   * Why the server should see one request at a time (a known server that loses data when
   * requests overlap): rewire writes `max_concurrent_requests: 1` for it.
   */
  serial?: string;
  /** How clients share the server: rewire writes it as the service's `share`. */
  share: SharePolicy;
  /** Why (`args contain "."`, `server-memory keeps one graph: known global`, `--share global`). */
  shareReason: string;
  /**
   * `--share global|client` on a launch that points into the project: its project folder
   * (`base`) was written in instead (these are the reasons); rewire warns.
   */
  pinned?: string[];
}

/** Why a launch cannot become a shared service, and whether `--force` may override it. */
export interface SpecProblem {
  message: string;
  forceable: boolean;
}

export interface SpecOptions {
  /** The environment rewire runs in (what decides which variables a daemon can resolve). */
  env: Record<string, string | undefined>;
  /**
   * The entry's project folder: stands in for `${workspaceFolder}` and relative paths when the
   * policy is not `workspace` (and for a relative command or editor variables under `--force`).
   */
  base: string;
  force: boolean;
  /** `rewire --share`: this policy instead of the classification. */
  share?: SharePolicy;
}

const HOST_ONLY: [RegExp, string][] = [
  [/\$\{input:[^}]*\}/, "a VS Code input variable (input:…) kept in VS Code's secret storage"],
  [/\$\{\{[^}]*\}\}/, "a Continue secret ({{ secrets.… }})"],
  [/\$?\{file:[^}]*\}/, "a file reference ({file:…})"],
  [/\$\{command:[^}]*\}/, "a command variable (command:…)"],
];
/** Servers known to lose data when requests overlap, and why. */
const SERIAL_SERVERS: [RegExp, string][] = [
  [
    /(^|[/@])(mcp-)?server-memory(@[^/\s]*)?(\/|$)/,
    "server-memory loads, changes and saves its whole file per request, so overlapping writes are lost",
  ],
];
/** What an auto-started daemon inherits (see proxy/autostart.ts). */
const DAEMON_ENV = /^(HOME|USER|LOGNAME|SHELL|PATH|LANG|LANGUAGE|TZ|TMPDIR|LC_[A-Z_]+|XDG_[A-Z_]+|MUX_[A-Z_]+)$/;
/** The project folder as the daemon fills it in (a `share = "workspace"` child's own folder). */
export const WORKSPACE_FOLDER = `\${workspaceFolder}`;
/** Host spellings of the project folder: VS Code/Cursor's, the older `workspaceRoot`, Claude Code's env. */
const WORKSPACE_VAR =
  /\$\{(workspaceFolder|workspaceRoot|cwd|CLAUDE_PROJECT_DIR|PWD)\}|\$(CLAUDE_PROJECT_DIR|PWD)(?![A-Za-z0-9_])/g;
/** Editor variables with no daemon equivalent (a folder's name, the open file). */
const EDITOR_VAR =
  /\$\{(workspaceFolderBasename|workspaceFolder:[^}]*|fileWorkspaceFolder|fileDirname|relativeFileDirname|relativeFile|fileBasename|file)\}/g;

/** Build the service for `launch`, or the problems that stop it from being shared. */
export function serviceSpec(
  name: string,
  launch: Launch,
  options: SpecOptions,
): { spec?: ServiceSpec; problems: SpecProblem[] } {
  const problems: SpecProblem[] = [];
  /** Why the launch depends on the project folder (`args contain "."`). */
  const signals: string[] = [];
  const signal = (s: string) => {
    if (!signals.includes(s)) signals.push(s);
  };
  for (const h of launch.hostEnv)
    problems.push({
      message: `its environment includes ${h.startsWith("remote:") ? `remote variable ${h.slice(7)}` : h}, which only the host can resolve`,
      forceable: false,
    });
  // Values only the host can resolve are forwarded by the proxy at connect time: then every
  // env key of the entry stays with the host and is forwarded, so the entry keeps working as is.
  // A variable the daemon cannot resolve counts too: the host expanded it from its own
  // environment, which a daemon (auto-started with a small environment) does not share.
  // The project folder's spellings are not among them: the daemon fills `${workspaceFolder}` in.
  const hostVars = Object.entries(launch.env).flatMap(([k, v]) =>
    referencedVars(v.replace(WORKSPACE_VAR, ""))
      .filter((x) => !daemonResolves(x, options.env))
      .map((x) => ({ key: k, name: x })),
  );
  const secret = Object.entries(launch.env).filter(
    ([k, v]) => HOST_ONLY.some(([re]) => re.test(v)) || hostVars.some((h) => h.key === k),
  );
  const forward =
    secret.length > 0 || launch.secretKeys.length > 0
      ? [...new Set([...Object.keys(launch.env), ...launch.secretKeys, ...launch.envRefs])].sort()
      : [];
  const tr = (value: string, what: string, plural?: string): string => {
    for (const [re, label] of HOST_ONLY)
      if (re.test(value))
        problems.push({ message: `${what} uses ${label}, which the shared daemon cannot read`, forceable: false });
    const out = value
      .replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, "$${$1}")
      .replace(/(^|[^$])\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, "$1$${$2}")
      .replace(/\$\{userHome\}/g, "$${HOME}")
      .replace(/\$\{pathSeparator\}/g, "/");
    // Every host spelling of the project folder becomes the one the daemon fills in.
    const ws = out.replace(WORKSPACE_VAR, (m) => {
      signal(`${plural ?? what} use${plural ? "" : "s"} ${braced(m)}`);
      return WORKSPACE_FOLDER;
    });
    const local = ws.replace(EDITOR_VAR, (_m, v: string) =>
      v === "workspaceFolderBasename" ? basename(options.base) : options.base,
    );
    if (local !== ws)
      problems.push({
        message: `${what} uses the editor's open folder name or file (${[...ws.matchAll(EDITOR_VAR)].map((m) => m[0]).join(", ")}), which the daemon cannot know`,
        forceable: true,
      });
    return local;
  };
  let cmd = tr(launch.command, "the command");
  const args = launch.args.map((a, i) => tr(a, `argument ${i + 1}`, "args"));
  const env: Record<string, string> =
    forward.length > 0 ? {} : Object.fromEntries(Object.entries(launch.env).map(([k, v]) => [k, tr(v, `env ${k}`)]));
  // Forwarded env is expanded by the host (in its project): it still ties the server to it.
  if (forward.length > 0)
    for (const [k, v] of Object.entries(launch.env))
      for (const m of v.matchAll(WORKSPACE_VAR)) signal(`env ${k} uses ${braced(m[0])}`);
  if (forward.length === 0) for (const ref of launch.envRefs) if (env[ref] === undefined) env[ref] = `\${${ref}}`;
  let cwd = launch.cwd === undefined ? undefined : tr(launch.cwd, "cwd");
  for (const a of args) if (relativePathArg(a)) signal(`args contain ${JSON.stringify(a)}`);
  const relativeCwd = (c: string | undefined): c is string =>
    c !== undefined && !isAbsolute(c) && !c.startsWith("$") && !c.startsWith("~");
  if (relativeCwd(cwd)) signal(`cwd ${JSON.stringify(cwd)} is relative`);
  const choice = classifyShare([cmd, ...args], signals, options.share);
  let pinned: string[] | undefined;
  if (choice.policy !== "workspace" && signals.length > 0) {
    // One child for every project (or per client, started by the daemon): the project folder
    // is where rewire was told it is, as `--force` did before share policies.
    pinned = signals;
    const pin = (v: string) => v.replaceAll(WORKSPACE_FOLDER, options.base);
    args.forEach((a, i) => {
      const p = pin(a);
      const eq = /^(--?[A-Za-z0-9][\w.-]*=)(.*)$/.exec(p);
      args[i] = !relativePathArg(p)
        ? p
        : eq
          ? `${eq[1]}${resolve(options.base, eq[2] as string)}`
          : resolve(options.base, p);
    });
    for (const k of Object.keys(env)) env[k] = pin(env[k] as string);
    if (cwd !== undefined) cwd = pin(cwd);
    if (relativeCwd(cwd)) cwd = resolve(options.base, cwd);
  }
  if (cmd.includes(WORKSPACE_FOLDER)) {
    problems.push({
      message: "the command uses the workspace folder, which the daemon fills in only in args, env and cwd",
      forceable: true,
    });
    cmd = cmd.replaceAll(WORKSPACE_FOLDER, options.base);
  }
  // In the command, arguments or cwd a host variable cannot travel: the daemon would pass it empty.
  for (const [value, what] of [
    [cmd, "the command"],
    ...args.map((a, i) => [a, `argument ${i + 1}`]),
    ...(cwd === undefined ? [] : [[cwd, "cwd"]]),
  ] as [string, string][]) {
    for (const x of referencedVars(value.replaceAll(WORKSPACE_FOLDER, "")))
      if (!daemonResolves(x, options.env))
        problems.push({
          message: `${what} uses $${x}, which the daemon cannot resolve (it is not set here, or an auto-started daemon does not inherit it); it would be empty`,
          forceable: true,
        });
  }
  if (cmd.includes("/") && !isAbsolute(cmd) && !cmd.startsWith("$") && !cmd.startsWith("~")) {
    problems.push({ message: `the command ${cmd} is a relative path (per project)`, forceable: true });
    cmd = resolve(options.base, cmd);
  }
  const blocking = problems.filter((p) => !p.forceable || !options.force);
  if (blocking.length > 0) return { problems };
  const forwardMarks = Object.fromEntries(forward.map((k) => [k, "\u0000forwarded"]));
  // No project path in the id: `.` and `${workspaceFolder}` stay as written, so one launch in
  // any number of projects is one service (whose workspace children the daemon keeps apart).
  const id = serviceId(cmd, args, { ...env, ...forwardMarks }, cwd);
  const spec: ServiceSpec = {
    forward,
    id,
    name: safeName(name),
    cmd,
    args,
    env,
    socket: join(runtimeDir(options.env), `s-${id}.sock`),
    share: choice.policy,
    shareReason: choice.reason,
  };
  if (pinned) spec.pinned = pinned;
  if (cwd !== undefined) spec.cwd = cwd;
  if (hostVars.length > 0) spec.hostVars = [...new Set(hostVars.map((h) => h.name))].sort();
  const serial = SERIAL_SERVERS.find(([re]) => [cmd, ...args].some((a) => re.test(a)));
  if (serial) spec.serial = serial[1];
  return { spec, problems };
}

/**
 * Variables a daemon resolves by itself: set where rewire runs and passed on to an
 * auto-started daemon (its environment allow-list), or with a default (`${X:-d}`).
 */
export function daemonResolves(name: string, env: Record<string, string | undefined>): boolean {
  return env[name] !== undefined && DAEMON_ENV.test(name);
}

/** `$X`, `${X}` and `${X:-d}` names in a value (defaulted ones left out: they always resolve). */
export function referencedVars(value: string): string[] {
  const out: string[] = [];
  for (const m of value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g)) {
    if (m[2] !== undefined) continue;
    out.push((m[1] ?? m[3]) as string);
  }
  return [...new Set(out)];
}

/** The id of a launch: 8 hex characters of sha256 over command, args, sorted env and cwd. */
export function serviceId(cmd: string, args: string[], env: Record<string, string>, cwd?: string): string {
  const sorted = Object.keys(env)
    .sort()
    .map((k) => [k, env[k]]);
  return createHash("sha256")
    .update(JSON.stringify([cmd, args, sorted, cwd ?? null]))
    .digest("hex")
    .slice(0, 8);
}

/** `$PWD` as `${PWD}` (how reasons name a variable). */
function braced(v: string): string {
  return v.startsWith("${") ? v : `\${${v.slice(1)}}`;
}

/** A service name usable as a config key and in a socket file name. */
export function safeName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "");
  return s || "server";
}
