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
}

/** Why a launch cannot become a shared service, and whether `--force` may override it. */
export interface SpecProblem {
  message: string;
  forceable: boolean;
}

export interface SpecOptions {
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
  const secret = Object.entries(launch.env).filter(([, v]) => HOST_ONLY.some(([re]) => re.test(v)));
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
  return { spec, problems };
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
