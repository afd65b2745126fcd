/**
 * Host integration end to end with the compiled `mux`: rewire two hosts' configs, start the
 * daemon on the generated config, let official SDK clients launch the rewired commands and
 * share one real server-memory, then restore both files byte for byte. Plus `mux wizard`
 * driven through a real pseudo-terminal.
 */

import { expect, test } from "bun:test";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { loadConfig } from "../../src/config/load.ts";
import { BUN, FAKE_SERVER, MEMORY_BIN, MUX_BIN, PROXY_BIN, testScope, textOf, waitFor } from "../helpers.ts";

const scope = testScope("bin");

function homeEnv(home: string): Record<string, string> {
  return {
    HOME: home,
    XDG_RUNTIME_DIR: join(home, "run"),
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    NO_COLOR: "1",
    // The build under test lives in this clone; installed copies are what rewire picks otherwise.
    MUX_PROXY: PROXY_BIN,
  };
}

async function mux(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn({ cmd: [MUX_BIN, ...args], env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

function writeHostFiles(home: string, memoryFile: string): { desktop: string; cursor: string } {
  const entry = { command: MEMORY_BIN, args: [], env: { MEMORY_FILE_PATH: memoryFile } };
  const desktop = join(home, ".config", "Claude", "claude_desktop_config.json");
  const cursor = join(home, ".cursor", "mcp.json");
  mkdirSync(join(home, ".config", "Claude"), { recursive: true });
  mkdirSync(join(home, ".cursor"), { recursive: true });
  writeFileSync(desktop, `${JSON.stringify({ mcpServers: { memory: entry }, preferences: { x: 1 } }, null, 2)}\n`);
  writeFileSync(cursor, `{\n  "mcpServers": {\n    "kg": ${JSON.stringify(entry)}\n  }\n}\n`);
  return { desktop, cursor };
}

async function launch(hostFile: string, name: string, env: Record<string, string>): Promise<Client> {
  const entry = JSON.parse(readFileSync(hostFile, "utf8")).mcpServers[name] as { command: string; args: string[] };
  expect(entry.command).toBe(join(MUX_BIN, "..", "mux-proxy"));
  const client = new Client({ name: `host-${name}`, version: "1.0.0" }, { capabilities: {} });
  // Exactly what the host does: spawn the entry's command and args, no shell.
  await client.connect(new StdioClientTransport({ command: entry.command, args: entry.args, env, stderr: "pipe" }));
  scope.defer(() => client.close());
  return client;
}

test("scan → rewire → two hosts share one real server through the mux → restore", async () => {
  const home = scope.dir();
  const env = homeEnv(home);
  const files = writeHostFiles(home, join(home, "memory.jsonl"));
  const originals = { desktop: readFileSync(files.desktop, "utf8"), cursor: readFileSync(files.cursor, "utf8") };

  const scan = await mux(["scan", "--json"], env);
  expect(scan.code).toBe(0);
  const report = JSON.parse(scan.stdout);
  expect(report.shared).toHaveLength(1);
  expect(report.shared[0].entries.map((e: { name: string }) => e.name).sort()).toEqual(["kg", "memory"]);

  const dry = await mux(["rewire", "--dry-run"], env);
  expect(dry.code).toBe(0);
  expect(dry.stdout).toContain(`+++ ${files.desktop}`);
  expect(readFileSync(files.desktop, "utf8")).toBe(originals.desktop);

  const rewire = await mux(["rewire"], env);
  expect(rewire.code).toBe(0);
  expect(rewire.stdout).toContain("rewired claude-desktop memory");
  expect(rewire.stdout).toContain("rewired cursor kg");
  const config = join(home, ".config", "mcp-mux", "config.yaml");
  // server-memory loses overlapping writes: rewire has the hosts take turns, and says so.
  expect(rewire.stdout).toContain(
    "service memory: max_concurrent_requests = 1 (server-memory loads, changes and saves",
  );
  expect(loadConfig(config, { env }).services.memory?.maxConcurrentRequests).toBe(1);
  expect(rewire.stdout).toContain(`mux serve --config ${config}`);
  expect((await mux(["rewire"], env)).stdout).toContain("unchanged");
  const status = await mux(["status", "--hosts"], env);
  expect(status.stdout).toContain("claude-desktop  memory  rewired");

  const daemon = Bun.spawn({ cmd: [MUX_BIN, "serve", "--config", config], env, stdout: "ignore", stderr: "pipe" });
  scope.defer(async () => {
    daemon.kill("SIGTERM");
    await daemon.exited;
  });
  const socket = (JSON.parse(readFileSync(files.desktop, "utf8")).mcpServers.memory.args as string[])[1] as string;
  await waitFor(() => existsSync(socket), 10_000, "mux socket");

  const a = await launch(files.desktop, "memory", env);
  const b = await launch(files.cursor, "kg", env);
  await a.callTool({
    name: "create_entities",
    arguments: { entities: [{ name: "mux", entityType: "tool", observations: ["shared"] }] },
  });
  const graph = await b.callTool({ name: "read_graph", arguments: {} });
  expect(textOf(graph)).toContain('"mux"');
  const health = await mux(["health", "--socket", socket], env);
  expect(health.code).toBe(0);

  // A host added while the daemon runs: rewire adds the service and the daemon reloads live.
  const junie = join(home, ".junie", "mcp", "mcp.json");
  mkdirSync(join(home, ".junie", "mcp"), { recursive: true });
  const fake = { command: BUN, args: [FAKE_SERVER], env: { FAKE_RECORD: join(home, "fake.jsonl") } };
  writeFileSync(junie, `${JSON.stringify({ mcpServers: { fake } }, null, 2)}\n`);
  const live = await mux(["rewire", "--host", "junie"], env);
  expect(live.code).toBe(0);
  expect(live.stdout).toContain("The running daemon picked them up (added: fake)");
  const c = await launch(junie, "fake", env);
  expect((await c.listTools()).tools.length).toBeGreaterThan(0);

  const restore = await mux(["restore"], env);
  expect(restore.code).toBe(0);
  // The services rewire added are removed from the config and stopped in the running daemon.
  expect(restore.stdout).toContain(`removed memory, fake from ${config}`);
  expect(restore.stdout).toContain("The running daemon stopped them.");
  await waitFor(() => !existsSync(socket), 10_000, "the memory service to stop");
  expect(readFileSync(files.desktop, "utf8")).toBe(originals.desktop);
  expect(readFileSync(files.cursor, "utf8")).toBe(originals.cursor);
  expect(readFileSync(junie, "utf8")).toBe(`${JSON.stringify({ mcpServers: { fake } }, null, 2)}\n`);
  expect((await mux(["rewire", "--status"], env)).stdout).toContain("No host entry is rewired");
}, 60_000);

test("mux wizard in a pseudo-terminal: three steps, dry run shows the diff and writes nothing", async () => {
  const home = scope.dir();
  const env = { ...homeEnv(home), TERM: "xterm-256color" };
  const files = writeHostFiles(home, join(home, "memory.jsonl"));
  const before = readFileSync(files.desktop, "utf8");
  let screen = "";
  const proc = Bun.spawn([MUX_BIN, "wizard", "--dry-run"], {
    env,
    terminal: {
      cols: 200,
      rows: 50,
      data(_t, data) {
        screen += new TextDecoder().decode(data);
      },
    },
  });
  scope.defer(() => proc.kill());
  const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, "g");
  const plain = () => screen.replace(ansi, "");
  const step = async (marker: string, keys: string) => {
    await waitFor(() => plain().includes(marker), 15_000, marker);
    await Bun.sleep(150);
    proc.terminal?.write(keys);
  };
  await step("Step 1/3", "\r");
  await step("Step 2/3", "\r");
  // Cursor takes URL entries: the wizard asks how hosts reach the servers (Enter: mux-proxy).
  await step("How should these hosts reach the shared servers?", "\r");
  await step("Step 3/3", "\r");
  expect(await proc.exited).toBe(0);
  const out = plain();
  expect(out).toContain("memory");
  expect(out).toContain(`+++ ${files.desktop}`);
  expect(out).toContain("mux-proxy");
  expect(readFileSync(files.desktop, "utf8")).toBe(before);
  expect(existsSync(join(home, ".config", "mcp-mux", "config.yaml"))).toBe(false);
}, 60_000);

test("mux scan prints hosts and shared servers; --write-config writes any of the three formats", async () => {
  const home = scope.dir();
  const env = homeEnv(home);
  writeHostFiles(home, join(home, "memory.jsonl"));
  const human = await mux(["scan"], env);
  expect(human.code).toBe(0);
  expect(human.stdout).toContain("Claude Desktop");
  expect(human.stdout).toContain("memory  [upstream]");
  expect(human.stdout).toContain("claude-desktop/memory, cursor/kg");
  expect(human.stdout).toContain("shared with max_concurrent_requests = 1 (rewire sets it): server-memory");
  const services: string[][] = [];
  for (const ext of ["json", "yaml", "toml"]) {
    const file = join(home, `mux.${ext}`);
    const result = await mux(["scan", "--write-config", file], env);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`mux serve --config ${file}`);
    const config = loadConfig(file, { env });
    services.push(Object.keys(config.services));
    expect(config.services.memory?.cmd).toBe(MEMORY_BIN);
    expect(config.services.memory?.env).toEqual({ MEMORY_FILE_PATH: join(home, "memory.jsonl") });
    // Writing again adds nothing.
    expect((await mux(["scan", "--write-config", file], env)).stderr).toContain("already has every found server");
  }
  expect(services).toEqual([["memory"], ["memory"], ["memory"]]);
  const unknown = await mux(["rewire", "--host", "notepad"], env);
  expect(unknown.code).not.toBe(0);
  expect(unknown.stderr).toContain("unknown host notepad");
});

test("mux scan shows each entry's share policy and why (plain and --json); mux rewire --share overrides it", async () => {
  const home = scope.dir();
  const env = homeEnv(home);
  const { cursor } = writeHostFiles(home, join(home, "memory.jsonl"));
  const project = join(home, "projA");
  mkdirSync(project);
  writeFileSync(
    join(project, ".mcp.json"),
    JSON.stringify({ mcpServers: { fs: { command: "mcp-server-filesystem", args: ["."] } } }),
  );
  writeFileSync(
    join(home, ".claude.json"),
    JSON.stringify({ mcpServers: { git: { type: "stdio", command: "uvx", args: ["mcp-server-git"], env: {} } } }),
  );
  const flags = ["--project", project];
  const plain = await mux(["scan", ...flags], env);
  expect(plain.code).toBe(0);
  expect(plain.stdout).toContain('      share: workspace (args contain ".")');
  expect(plain.stdout).toContain("      share: global (server-memory keeps one graph: known global)");
  expect(plain.stdout).toContain("      share: workspace (unknown server: per project to be safe)");
  const json = JSON.parse((await mux(["scan", "--json", ...flags], env)).stdout) as {
    servers: { name: string; share?: string; shareReason?: string }[];
  };
  expect(json.servers.map((s) => [s.name, s.share, s.shareReason]).sort()).toEqual([
    ["fs", "workspace", 'args contain "."'],
    ["git", "workspace", "unknown server: per project to be safe"],
    ["kg", "global", "server-memory keeps one graph: known global"],
    ["memory", "global", "server-memory keeps one graph: known global"],
  ]);
  // The project's `.` entry is rewired (no longer refused), its `.` kept for the child's own folder.
  const rewired = await mux(["rewire", "--include-project", ...flags], env);
  expect(rewired.code).toBe(0);
  expect(rewired.stdout).toContain("rewired claude-code fs → service fs (");
  expect(rewired.stdout).toContain(', share: workspace (args contain ".")');
  const config = loadConfig(join(home, ".config", "mcp-mux", "config.yaml"), { env });
  expect(config.services.fs).toMatchObject({ args: ["."], share: "workspace" });
  expect((await mux(["rewire", "--status"], env)).stdout).toContain(
    "claude-code  fs  rewired  service fs (share: workspace)",
  );
  expect(config.services.git?.share).toBe("workspace");
  expect(config.services.memory?.share).toBe("global");
  // --share: checked, then applied to new services.
  const bad = await mux(["rewire", "--share", "everyone"], env);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain("--share must be global, workspace, client, got everyone");
  expect(readFileSync(cursor, "utf8")).toContain("mux-proxy");
  await mux(["restore"], env);
  const client = await mux(["rewire", "--share", "client", "--json"], env);
  expect(client.code).toBe(0);
  const result = JSON.parse(client.stdout) as { changes: { entries: { name: string; share: string }[] }[] };
  expect(result.changes.flatMap((c) => c.entries.map((e) => [e.name, e.share])).sort()).toEqual([
    ["git", "client"],
    ["kg", "client"],
    ["memory", "client"],
  ]);
});

test("rewired entries point at the installed mux-proxy and start the daemon themselves; a moved install is repaired", async () => {
  const home = scope.dir();
  const { MUX_PROXY: _explicit, ...env } = homeEnv(home);
  const files = writeHostFiles(home, join(home, "memory.jsonl"));
  const original = readFileSync(files.desktop, "utf8");

  // Only the clone's own build: rewire refuses to point hosts into a clone.
  const refused = await mux(["rewire", "--host", "claude-desktop"], env);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain("only a build inside a clone");
  // The refusal names the flag that takes the path anyway.
  expect(refused.stderr).toContain(`--proxy ${join(MUX_BIN, "..", "mux-proxy")}`);
  const service = await mux(["service", "install", "--print"], env);
  expect(service.code).toBe(1);
  expect(service.stderr).toContain(`mux service install --mux ${MUX_BIN}`);
  expect(readFileSync(files.desktop, "utf8")).toBe(original);

  // Installed copies in ~/.local/bin, as install.sh puts them.
  const bin = join(home, ".local", "bin");
  mkdirSync(bin, { recursive: true });
  for (const exe of ["mux", "mux-proxy"]) {
    copyFileSync(join(MUX_BIN, "..", exe), join(bin, exe));
    chmodSync(join(bin, exe), 0o755);
  }
  const rewire = await mux(["rewire", "--host", "claude-desktop"], env);
  expect(rewire.code).toBe(0);
  const config = join(home, ".config", "mcp-mux", "config.yaml");
  const entry = JSON.parse(readFileSync(files.desktop, "utf8")).mcpServers.memory as {
    command: string;
    args: string[];
  };
  expect(entry.command).toBe(join(bin, "mux-proxy"));
  expect(entry.args.slice(2)).toEqual(["--config", config]);

  // No daemon runs: the host's launch starts it.
  const host = async (): Promise<Client> => {
    const e = JSON.parse(readFileSync(files.desktop, "utf8")).mcpServers.memory as { command: string; args: string[] };
    const client = new Client({ name: "host", version: "1.0.0" }, { capabilities: {} });
    await client.connect(new StdioClientTransport({ command: e.command, args: e.args, env, stderr: "pipe" }));
    scope.defer(() => client.close());
    return client;
  };
  const a = await host();
  expect((await a.listTools()).tools.map((t) => t.name)).toContain("read_graph");
  await a.close();
  scope.defer(async () => {
    const daemon = Bun.spawnSync(["pgrep", "-f", `serve --config ${config}`])
      .stdout.toString()
      .trim();
    for (const pid of daemon.split("\n").filter(Boolean)) process.kill(Number(pid), "SIGTERM");
  });

  // The install moves: status says so, --repair re-points the entry, restore still works.
  const moved = join(home, "opt", "bin");
  mkdirSync(moved, { recursive: true });
  for (const exe of ["mux", "mux-proxy"]) renameSync(join(bin, exe), join(moved, exe));
  const status = await mux(["rewire", "--status"], env);
  expect(status.stdout).toContain(`mux-proxy ${join(bin, "mux-proxy")} no longer exists`);
  const repair = await mux(["rewire", "--repair", "--proxy", join(moved, "mux-proxy")], env);
  expect(repair.code).toBe(0);
  expect(repair.stdout).toContain(
    `re-pointed claude-desktop memory: ${join(bin, "mux-proxy")} → ${join(moved, "mux-proxy")}`,
  );
  const b = await host();
  expect((await b.listTools()).tools.length).toBeGreaterThan(0);
  const restore = await mux(["restore"], env);
  expect(restore.code).toBe(0);
  expect(readFileSync(files.desktop, "utf8")).toBe(original);
}, 60_000);

test("rewire --transport http: URL entries where hosts take them, one daemon serving both kinds of entries", async () => {
  const home = scope.dir();
  const env = homeEnv(home);
  const files = writeHostFiles(home, join(home, "memory.jsonl"));
  const originals = { desktop: readFileSync(files.desktop, "utf8"), cursor: readFileSync(files.cursor, "utf8") };
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);

  const scan = JSON.parse((await mux(["scan", "--json"], env)).stdout) as {
    hosts: { id: string; urlEntries: boolean }[];
  };
  expect(scan.hosts.find((h) => h.id === "cursor")?.urlEntries).toBe(true);
  expect(scan.hosts.find((h) => h.id === "claude-desktop")?.urlEntries).toBe(false);

  const rewire = await mux(["rewire", "--transport", "http", "--http-listen", `127.0.0.1:${port}`], env);
  expect(rewire.code).toBe(0);
  expect(rewire.stdout).toContain("mux service install");
  expect(rewire.stdout).toContain("claude-desktop take no URL entries");
  // The URL is what the line shows; the entry carries the HTTP token (created 0600) as a header.
  expect(rewire.stdout).toContain(`rewired cursor kg → URL http://127.0.0.1:${port}/mcp/memory`);
  const tokenFile = join(home, ".config", "mcp-mux", "http-token");
  expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
  const token = readFileSync(tokenFile, "utf8").trim();
  expect(rewire.stdout).not.toContain(token);
  const cursorEntry = JSON.parse(readFileSync(files.cursor, "utf8")).mcpServers.kg as Record<string, unknown>;
  expect(cursorEntry).toEqual({
    url: `http://127.0.0.1:${port}/mcp/memory`,
    headers: { Authorization: `Bearer ${token}` },
  });
  const config = join(home, ".config", "mcp-mux", "config.yaml");
  expect(readFileSync(config, "utf8")).toContain(`http: 127.0.0.1:${port}`);

  const daemon = Bun.spawn({ cmd: [MUX_BIN, "serve", "--config", config], env, stdout: "ignore", stderr: "pipe" });
  scope.defer(async () => {
    daemon.kill("SIGTERM");
    await daemon.exited;
  });
  const viaUrl = new Client({ name: "cursor", version: "1" }, { capabilities: {} });
  await waitFor(
    async () => {
      try {
        await viaUrl.connect(
          new StreamableHTTPClientTransport(new URL(cursorEntry.url as string), {
            requestInit: { headers: cursorEntry.headers as Record<string, string> },
          }),
        );
        return true;
      } catch {
        return false;
      }
    },
    10_000,
    "the HTTP front",
  );
  scope.defer(() => viaUrl.close());
  await viaUrl.callTool({
    name: "create_entities",
    arguments: { entities: [{ name: "over-http", entityType: "test", observations: ["url entry"] }] },
  });
  const viaProxy = await launch(files.desktop, "memory", env);
  expect(textOf(await viaProxy.callTool({ name: "read_graph", arguments: {} }))).toContain("over-http");

  expect((await mux(["restore"], env)).code).toBe(0);
  expect(readFileSync(files.desktop, "utf8")).toBe(originals.desktop);
  expect(readFileSync(files.cursor, "utf8")).toBe(originals.cursor);
}, 60_000);

test("an entry the host deleted: restore says so and exits 1; restore --forget clears it and the running daemon stops its service", async () => {
  const home = scope.dir();
  const env = homeEnv(home);
  const files = writeHostFiles(home, join(home, "memory.jsonl"));
  expect((await mux(["rewire", "--host", "cursor"], env)).code).toBe(0);
  const config = join(home, ".config", "mcp-mux", "config.yaml");
  const socket = (JSON.parse(readFileSync(files.cursor, "utf8")).mcpServers.kg.args as string[])[1] as string;
  const daemon = Bun.spawn({ cmd: [MUX_BIN, "serve", "--config", config], env, stdout: "ignore", stderr: "pipe" });
  scope.defer(async () => {
    daemon.kill("SIGTERM");
    await daemon.exited;
  });
  await waitFor(() => existsSync(socket), 10_000, "the service socket");
  // What `claude mcp remove` or a user does: the entry disappears from the host file.
  writeFileSync(files.cursor, '{\n  "mcpServers": {}\n}\n');
  const status = await mux(["rewire", "--status"], env);
  expect(status.stdout).toContain("cursor  kg  missing");
  expect(status.stdout).toContain("mux restore --forget");
  const refused = await mux(["restore"], env);
  expect(refused.code).toBe(1);
  expect(refused.stdout).toContain("deleted from the file");
  const forgot = await mux(["restore", "--forget"], env);
  expect(forgot.code).toBe(0);
  expect(forgot.stdout).toContain("forgot cursor kg");
  expect(forgot.stdout).toContain(`removed kg from ${config}`);
  await waitFor(() => !existsSync(socket), 10_000, "the daemon to stop the service");
  expect((await mux(["rewire", "--status"], env)).stdout).toContain("No host entry is rewired");
  expect(readFileSync(files.cursor, "utf8")).toBe('{\n  "mcpServers": {}\n}\n');
}, 60_000);

test("a variable only the host expands ($MEMPATH in Gemini) travels from the host; the daemon reports what it cannot resolve", async () => {
  const home = scope.dir();
  const env = homeEnv(home);
  const settings = join(home, ".gemini", "settings.json");
  mkdirSync(join(home, ".gemini"), { recursive: true });
  const entry = { command: MEMORY_BIN, args: [], env: { MEMORY_FILE_PATH: "$MEMPATH" } };
  writeFileSync(settings, `${JSON.stringify({ mcpServers: { memory: entry } }, null, 2)}\n`);
  // Rewire runs where MEMPATH is not set (it lives in the shell Gemini starts from).
  const rewire = await mux(["rewire", "--host", "gemini"], env);
  expect(rewire.code).toBe(0);
  expect(rewire.stdout).toContain("$MEMPATH is expanded by the host from its own environment");
  expect(rewire.stdout).toContain("forwards MEMORY_FILE_PATH (mux-proxy --env)");
  const rewired = JSON.parse(readFileSync(settings, "utf8")).mcpServers.memory as {
    command: string;
    args: string[];
    env: Record<string, string>;
  };
  expect(rewired.args).toContain("--env");
  expect(rewired.args[rewired.args.indexOf("--env") + 1]).toBe("MEMORY_FILE_PATH");
  expect(rewired.env).toEqual({ MEMORY_FILE_PATH: "$MEMPATH" });
  const config = join(home, ".config", "mcp-mux", "config.yaml");
  expect(readFileSync(config, "utf8")).not.toContain("MEMPATH");

  // Gemini expands $MEMPATH from its environment and launches the entry; the daemon auto-starts.
  const mempath = join(home, "gemini-memory.jsonl");
  const client = new Client({ name: "gemini", version: "1.0.0" }, { capabilities: {} });
  await client.connect(
    new StdioClientTransport({
      command: rewired.command,
      args: rewired.args,
      env: { ...env, MEMORY_FILE_PATH: mempath },
      stderr: "pipe",
    }),
  );
  scope.defer(async () => {
    await client.close();
    for (const pid of Bun.spawnSync(["pgrep", "-f", `serve --config ${config}`])
      .stdout.toString()
      .split("\n"))
      if (pid.trim()) process.kill(Number(pid), "SIGTERM");
  });
  await client.callTool({
    name: "create_entities",
    arguments: { entities: [{ name: "gemini", entityType: "host", observations: ["expanded"] }] },
  });
  await waitFor(() => existsSync(mempath), 10_000, "server-memory to write where the host's $MEMPATH points");
  expect(readFileSync(mempath, "utf8")).toContain('"gemini"');

  // A config that references a variable the daemon does not have: serve and reload say so.
  const own = join(home, "own.yaml");
  const sock = join(home, "run", "own.sock");
  writeFileSync(
    own,
    `servers:\n  mem:\n    cmd: ${MEMORY_BIN}\n    socket: ${sock}\n    env:\n      MEMORY_FILE_PATH: \${MEMPATH}\n`,
  );
  const daemon = Bun.spawn({ cmd: [MUX_BIN, "serve", "--config", own], env, stdout: "ignore", stderr: "pipe" });
  scope.defer(async () => {
    daemon.kill("SIGTERM");
    await daemon.exited;
  });
  await waitFor(() => existsSync(sock), 10_000, "the service socket");
  writeFileSync(
    own,
    `${readFileSync(own, "utf8")}  other:\n    cmd: ${MEMORY_BIN}\n    args: ["$DATA_DIR/x"]\n    socket: ${sock}2\n`,
  );
  const reload = await mux(["reload", "--config", own], env);
  expect(reload.code).toBe(0);
  expect(reload.stderr).toContain(
    `warning: service "other": $DATA_DIR is not set in the daemon's environment, so argument 1 gets it empty`,
  );
  daemon.kill("SIGTERM");
  const log = await new Response(daemon.stderr).text();
  expect(log).toContain(
    `service "mem": $MEMPATH is not set in the daemon's environment, so env MEMORY_FILE_PATH gets it empty`,
  );
  expect(log).toContain(`service "other": $DATA_DIR is not set`);
}, 60_000);

test("entries in the hosts' default scopes (claude mcp add: local, gemini mcp add: project) are shown by scan and rewired with --include-project", async () => {
  const home = scope.dir();
  const env = homeEnv(home);
  const project = join(home, "work", "app");
  mkdirSync(join(project, ".gemini"), { recursive: true });
  const entry = { type: "stdio", command: MEMORY_BIN, args: [], env: {} };
  // What `claude mcp add memory -- …` writes (local scope: this project, in ~/.claude.json).
  const claude = join(home, ".claude.json");
  writeFileSync(
    claude,
    `${JSON.stringify({ numStartups: 3, projects: { [project]: { allowedTools: [], mcpServers: { memory: entry } } } }, null, 2)}\n`,
  );
  // What `gemini mcp add kg …` writes (project scope: <project>/.gemini/settings.json).
  const gemini = join(project, ".gemini", "settings.json");
  writeFileSync(gemini, `${JSON.stringify({ mcpServers: { kg: { command: MEMORY_BIN, args: [] } } }, null, 2)}\n`);
  const before = { claude: readFileSync(claude, "utf8"), gemini: readFileSync(gemini, "utf8") };

  const scan = await mux(["scan", "--project", project], env);
  expect(scan.code).toBe(0);
  expect(scan.stdout).toContain(`memory  [upstream]  ${MEMORY_BIN}  (local: ${project})`);
  expect(scan.stdout).toContain(`${gemini}  (project)`);
  expect(scan.stdout).toContain("project-scoped: rewire changes it only with --include-project");
  expect(scan.stdout).toContain("note: 2 project/local-scoped entries");
  expect(scan.stdout).toContain("mux rewire --include-project");
  const json = JSON.parse((await mux(["scan", "--json", "--project", project], env)).stdout);
  expect(json.projectScoped).toBe(2);

  const plain = await mux(["rewire", "--project", project], env);
  expect(plain.code).toBe(0);
  expect(readFileSync(claude, "utf8")).toBe(before.claude);
  expect(readFileSync(gemini, "utf8")).toBe(before.gemini);
  const included = await mux(["rewire", "--include-project", "--project", project], env);
  expect(included.code).toBe(0);
  expect(included.stdout).toContain("rewired claude-code memory");
  expect(included.stdout).toContain("rewired gemini kg");
  const rewired = JSON.parse(readFileSync(claude, "utf8")).projects[project].mcpServers.memory;
  expect(rewired.command).toBe(PROXY_BIN);
  expect((await mux(["restore"], env)).code).toBe(0);
  expect(readFileSync(claude, "utf8")).toBe(before.claude);
  expect(readFileSync(gemini, "utf8")).toBe(before.gemini);
}, 60_000);

test("two projects' `fs: mcp-server-filesystem .` entries, rewired from each project: each host sees its own project, never HOME", async () => {
  const home = scope.dir();
  const path = `${join(import.meta.dir, "..", "..", "node_modules", ".bin")}:${process.env.PATH}`;
  // The auto-started daemon's PATH is its own (stable whichever host starts it): give it the server's folder.
  const env = { ...homeEnv(home), PATH: path, MUX_DAEMON_PATH: path };
  const projects = ["projA", "projB"].map((p) => join(home, p));
  for (const p of projects) {
    mkdirSync(p);
    writeFileSync(join(p, `only-in-${p.slice(-1)}.txt`), "x");
    writeFileSync(
      join(p, ".mcp.json"),
      '{\n  "mcpServers": {\n    "fs": { "command": "mcp-server-filesystem", "args": ["."] }\n  }\n}\n',
    );
    const r = await mux(["rewire", "--include-project", "--project", p], env);
    expect({ code: r.code, out: r.stdout }).toMatchObject({
      code: 0,
      out: expect.stringContaining("share: workspace"),
    });
  }
  const hosts: Client[] = [];
  for (const p of projects) {
    const entry = JSON.parse(readFileSync(join(p, ".mcp.json"), "utf8")).mcpServers.fs as {
      command: string;
      args: string[];
    };
    const client = new Client({ name: "claude-code", version: "1" }, { capabilities: {} });
    // As the host does: spawn the entry in the project folder it was opened in.
    await client.connect(
      new StdioClientTransport({ command: entry.command, args: entry.args, env, cwd: p, stderr: "pipe" }),
    );
    scope.defer(() => client.close());
    hosts.push(client);
  }
  const allowed = async (c: Client) => textOf(await c.callTool({ name: "list_allowed_directories", arguments: {} }));
  const [a, b] = projects as [string, string];
  expect(await allowed(hosts[0] as Client)).toContain(a);
  expect(await allowed(hosts[0] as Client)).not.toContain(b);
  expect(await allowed(hosts[1] as Client)).toContain(b);
  for (const c of hosts) expect(await allowed(c)).not.toMatch(new RegExp(`${home}\\s*$`, "m"));
  await mux(["stop"], env).catch(() => undefined);
}, 90_000);
