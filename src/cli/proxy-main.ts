/**
 * The `mux-proxy` executable's entry: a dependency-free argv parse (no citty, no consola) so
 * an idle proxy stays small; `mux proxy` reuses `proxyMain`.
 * @module
 */

import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { controlSocketPath, daemonFiles } from "../config/paths.ts";
import { suggest } from "../config/suggest.ts";
import { isMuxError } from "../errors.ts";
import type { WorkspaceHint } from "../protocol/hello.ts";
import { runProxy } from "../proxy/proxy.ts";
import { VERSION_LINE } from "../version.ts";
import { daemonPath } from "./daemon-path.ts";

const USAGE = `usage: mux-proxy --socket PATH [--config FILE] [--env NAME]... [--no-reconnect]

Bridge stdio to an mcp-mux socket; run it in place of the MCP server command.
  --config FILE   the daemon's config: when nothing listens on the socket, start
                  \`mux serve --config FILE\` (once, whoever else is starting it)
  --env NAME      pass this variable (set by the host, e.g. a secret) to the daemon, which
                  runs clients with the same values on one server process
  --no-reconnect  end when the daemon goes away (default: reconnect and keep the session)
`;

const PROXY_OPTIONS = ["socket", "config", "env", "no-reconnect", "help", "version"];

/** Run the proxy with `argv` (the arguments after the program name); exits the process. */
export async function proxyMain(argv: string[] = process.argv.slice(2)): Promise<never> {
  let socket: string | undefined;
  let config: string | undefined;
  let reconnect = true;
  const forward: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (name: string): string | undefined =>
      a === name ? argv[++i] : a.startsWith(`${name}=`) ? a.slice(name.length + 1) : undefined;
    if (a === "--socket" || a.startsWith("--socket=")) socket = value("--socket");
    else if (a === "--config" || a.startsWith("--config=")) config = value("--config");
    else if (a === "--env" || a.startsWith("--env=")) forward.push(value("--env") ?? "");
    else if (a === "--no-reconnect") reconnect = false;
    else if (a === "--help" || a === "-h") {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (a === "--version") {
      process.stdout.write(`mux-proxy ${VERSION_LINE}\n`);
      process.exit(0);
    } else {
      const name = a.replace(/^--?/, "").split("=")[0] ?? "";
      const hint = a.startsWith("-") ? suggest(name, PROXY_OPTIONS) : undefined;
      return die(`unknown argument ${a}${hint ? ` (did you mean --${hint}?)` : ""}\n${USAGE}`);
    }
  }
  if (!socket) return die(`--socket is required\n${USAGE}`);
  const path = expandHome(socket);
  const env: Record<string, string> = {};
  for (const name of forward) if (name && process.env[name] !== undefined) env[name] = process.env[name] as string;
  let autostart: Parameters<typeof runProxy>[0]["autostart"];
  if (config) {
    const file = resolve(expandHome(config));
    const mux = findMux();
    const files = daemonFiles(file);
    if (mux)
      autostart = {
        command: [...mux, "serve", "--config", file, "--auto-started"],
        logFile: files.log,
        lockFile: files.startLock,
        controlSocket: controlSocketPath(file),
        stopped: { marker: files.stopMarker, restart: `mux serve --config ${file}` },
        // The same PATH whichever host starts it (see daemon-path.ts), not this host's.
        env: { ...process.env, PATH: daemonPath(dirname(mux[0] as string)) },
      };
    else
      process.stderr.write(
        `mux-proxy: cannot find the mux executable to start the daemon (not beside ${process.execPath}, not on PATH; set MUX_BIN); start it with: mux serve --config ${file}\n`,
      );
  }
  let result: Awaited<ReturnType<typeof runProxy>>;
  try {
    result = await runProxy({
      socket: path,
      env,
      autostart,
      reconnect,
      workspace: workspaceHint(),
      hostPid: process.ppid > 1 ? process.ppid : undefined,
      config: config && resolve(expandHome(config)),
    });
  } catch (error) {
    return die(isMuxError(error) ? error.message : String(error));
  }
  if (result.reason === "daemon-closed")
    return die(`the mcp-mux daemon at ${path} closed the connection${result.message ? `: ${result.message}` : ""}`);
  if (result.reason === "daemon-unavailable" || result.reason === "server-changed") process.exit(1);
  process.exit(0);
}

// --- internal ---

/** The `mux` that starts the daemon: `MUX_BIN`, next to this executable, or on PATH. */
function findMux(): string[] | undefined {
  if (process.env.MUX_BIN) return [process.env.MUX_BIN];
  const beside = join(dirname(process.execPath), "mux");
  if (existsSync(beside)) return [beside];
  const found = Bun.which("mux");
  return found ? [found] : undefined;
}

function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? `${process.env.HOME ?? ""}${p.slice(1)}` : p;
}

function die(message: string): never {
  process.stderr.write(`mux-proxy: ${message.trimEnd()}\n`);
  process.exit(1);
}

/** Where the host started this proxy: its folder and the hosts' project variables (the daemon checks them). */
function workspaceHint(): WorkspaceHint {
  const hint: WorkspaceHint = {};
  try {
    hint.cwd = process.cwd();
  } catch {}
  if (process.env.CLAUDE_PROJECT_DIR) hint.projectDir = process.env.CLAUDE_PROJECT_DIR;
  if (process.env.CODEX_WORKSPACE_ROOT) hint.codexRoot = process.env.CODEX_WORKSPACE_ROOT;
  return hint;
}
