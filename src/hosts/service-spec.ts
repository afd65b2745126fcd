/**
 * From a host's launch to a mux service: translate host-side variables into the mux
 * config's `${VAR}` form, refuse what only the host can resolve (inputs, secrets, env files,
 * workspace folders), and derive the service id and its short socket path from the launch.
 * @module
 */

import { createHash } from "node:crypto";
import { isAbsolute, join, resolve } from "node:path";
import { runtimeDir } from "../config/paths.ts";
import type { Launch } from "./shapes.ts";

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
}

/** Why a launch cannot become a shared service, and whether `--force` may override it. */
export interface SpecProblem {
  message: string;
  forceable: boolean;
}

export interface SpecOptions {
  /** The environment rewire runs in (what decides which variables a daemon can resolve). */
  env: Record<string, string | undefined>;
  /** Directory that stands in for `${workspaceFolder}` and relative paths under `--force`. */
  base: string;
  force: boolean;
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
const WORKSPACE = /\$\{(workspaceFolder|workspaceRoot|workspaceFolderBasename|cwd|fileDirname|relativeFile)\}/g;

/** Build the service for `launch`, or the problems that stop it from being shared. */
export function serviceSpec(
  name: string,
  launch: Launch,
  options: SpecOptions,
): { spec?: ServiceSpec; problems: SpecProblem[] } {
  const problems: SpecProblem[] = [];
  for (const h of launch.hostEnv)
    problems.push({
      message: `its environment includes ${h.startsWith("remote:") ? `remote variable ${h.slice(7)}` : h}, which only the host can resolve`,
      forceable: false,
    });
  // Values only the host can resolve are forwarded by the proxy at connect time: then every
  // env key of the entry stays with the host and is forwarded, so the entry keeps working as is.
  // A variable the daemon cannot resolve counts too: the host expanded it from its own
  // environment, which a daemon (auto-started with a small environment) does not share.
  const hostVars = Object.entries(launch.env).flatMap(([k, v]) =>
    referencedVars(v)
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
  const tr = (value: string, what: string): string => {
    for (const [re, label] of HOST_ONLY)
      if (re.test(value))
        problems.push({ message: `${what} uses ${label}, which the shared daemon cannot read`, forceable: false });
    const out = value
      .replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, "$${$1}")
      .replace(/(^|[^$])\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, "$1$${$2}")
      .replace(/\$\{userHome\}/g, "$${HOME}")
      .replace(/\$\{pathSeparator\}/g, "/");
    const local = out.replace(WORKSPACE, (_m, v: string) => (v === "workspaceFolderBasename" ? "" : options.base));
    if (local !== out)
      problems.push({ message: `${what} depends on the workspace folder (per project)`, forceable: true });
    return local;
  };
  let cmd = tr(launch.command, "the command");
  const args = launch.args.map((a, i) => tr(a, `argument ${i + 1}`));
  // In the command, arguments or cwd a host variable cannot travel: the daemon would pass it empty.
  for (const [value, what] of [
    [cmd, "the command"],
    ...args.map((a, i) => [a, `argument ${i + 1}`]),
    ...(launch.cwd === undefined ? [] : [[launch.cwd, "cwd"]]),
  ] as [string, string][]) {
    for (const x of referencedVars(value))
      if (!daemonResolves(x, options.env))
        problems.push({
          message: `${what} uses $${x}, which the daemon cannot resolve (it is not set here, or an auto-started daemon does not inherit it); it would be empty`,
          forceable: true,
        });
  }
  const env: Record<string, string> =
    forward.length > 0 ? {} : Object.fromEntries(Object.entries(launch.env).map(([k, v]) => [k, tr(v, `env ${k}`)]));
  if (forward.length === 0) for (const ref of launch.envRefs) if (env[ref] === undefined) env[ref] = `\${${ref}}`;
  let cwd = launch.cwd === undefined ? undefined : tr(launch.cwd, "cwd");
  const relative = (p: string) => p.startsWith("./") || p.startsWith("../");
  if (cmd.includes("/") && !isAbsolute(cmd) && !cmd.startsWith("$") && !cmd.startsWith("~")) {
    problems.push({ message: `the command ${cmd} is a relative path (per project)`, forceable: true });
    cmd = resolve(options.base, cmd);
  }
  args.forEach((a, i) => {
    if (!relative(a)) return;
    problems.push({ message: `argument ${a} is a relative path (per project)`, forceable: true });
    args[i] = resolve(options.base, a);
  });
  if (cwd !== undefined && !isAbsolute(cwd) && !cwd.startsWith("$") && !cwd.startsWith("~")) {
    problems.push({ message: `cwd ${cwd} is relative (per project)`, forceable: true });
    cwd = resolve(options.base, cwd);
  }
  const blocking = problems.filter((p) => !p.forceable || !options.force);
  if (blocking.length > 0) return { problems };
  const forwardMarks = Object.fromEntries(forward.map((k) => [k, "\u0000forwarded"]));
  const id = serviceId(cmd, args, { ...env, ...forwardMarks }, cwd);
  const spec: ServiceSpec = {
    forward,
    id,
    name: safeName(name),
    cmd,
    args,
    env,
    socket: join(runtimeDir(options.env), `s-${id}.sock`),
  };
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

/** A service name usable as a config key and in a socket file name. */
export function safeName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "");
  return s || "server";
}
