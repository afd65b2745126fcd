/**
 * Share policies chosen by rewire, scan and the wizard (issue 22 item 3), on real host files in
 * temporary homes: each classification rule, user-scope entries, the known-global table,
 * `--share`, a `share` already in the mux config, one service for two projects' `.` entries,
 * URL entries carrying their project, and restore taking back what rewire added.
 */

import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { renderScan } from "../../src/cli/hosts.ts";
import { loadConfig } from "../../src/config/load.ts";
import { hostContext } from "../../src/hosts/hosts.ts";
import { restoreHosts, rewireHosts, rewireStatus } from "../../src/hosts/rewire.ts";
import { scanHosts } from "../../src/hosts/scan.ts";
import { describeRewire } from "../../src/hosts/wizard.ts";
import { fixtureHome, PROXY } from "./fixtures.ts";

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

function home() {
  const h = fixtureHome([]);
  homes.push(h.home);
  return { ...h, opts: { ctx: h.ctx, stateDir: h.stateDir, proxy: PROXY, configFile: h.configFile } };
}

function put(path: string, text: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

/** The services of a mux config as the daemon reads them (raw strings: `${workspaceFolder}` kept). */
function rawServices(path: string): Record<string, Record<string, unknown>> {
  const text = readFileSync(path, "utf8");
  const data = Bun.YAML.parse(text) as { servers: Record<string, Record<string, unknown>> };
  return data.servers;
}

// One entry per rule: [name, entry, policy, reason]. VS Code's user file takes cwd and ${workspaceFolder}.
const RULES: [string, Record<string, unknown>, string, string][] = [
  ["dot", { command: "mcp-server-filesystem", args: ["."] }, "workspace", 'args contain "."'],
  ["dotdot", { command: "mcp-server-filesystem", args: [".."] }, "workspace", 'args contain ".."'],
  ["rel", { command: "node", args: ["./tools/server.js"] }, "workspace", 'args contain "./tools/server.js"'],
  ["up", { command: "node", args: ["../shared/server.js"] }, "workspace", 'args contain "../shared/server.js"'],
  ["sub", { command: "python3", args: ["scripts/mcp.py"] }, "workspace", 'args contain "scripts/mcp.py"'],
  [
    "opt",
    { command: "uvx", args: ["mcp-server-sqlite", "--db-path=data/db.sqlite"] },
    "workspace",
    'args contain "--db-path=data/db.sqlite"',
  ],
  [
    "wsf",
    { command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", `\${workspaceFolder}`] },
    "workspace",
    `args use \${workspaceFolder}`,
  ],
  ["wsr", { command: "serena", args: ["--project", `\${workspaceRoot}/x`] }, "workspace", `args use \${workspaceRoot}`],
  [
    "envws",
    { command: "code-index", env: { PROJECT_ROOT: `\${workspaceFolder}` } },
    "workspace",
    `env PROJECT_ROOT uses \${workspaceFolder}`,
  ],
  ["cwdrel", { command: "my-indexer", cwd: "sub" }, "workspace", 'cwd "sub" is relative'],
  [
    "memws",
    {
      command: "npx",
      args: ["-y", "@modelcontextprotocol/server-memory"],
      env: { MEMORY_FILE_PATH: `\${workspaceFolder}/.memory.jsonl` },
    },
    "workspace",
    `env MEMORY_FILE_PATH uses \${workspaceFolder}`,
  ],
  [
    "memory",
    { command: "npx", args: ["-y", "@modelcontextprotocol/server-memory"] },
    "global",
    "server-memory keeps one graph: known global",
  ],
  [
    "memabs",
    {
      command: "npx",
      args: ["-y", "@modelcontextprotocol/server-memory@2026.8.31"],
      env: { MEMORY_FILE_PATH: "/home/u/m.jsonl" },
    },
    "global",
    "server-memory keeps one graph: known global",
  ],
  [
    "memrel",
    { command: "mcp-server-memory", env: { MEMORY_FILE_PATH: "memory.jsonl" } },
    "global",
    "server-memory keeps one graph: known global",
  ],
  [
    "think",
    { command: "npx", args: ["-y", "@modelcontextprotocol/server-sequential-thinking"] },
    "global",
    "sequential-thinking keeps its history in memory: known global",
  ],
  [
    "time",
    { command: "uvx", args: ["mcp-server-time", "--local-timezone=Europe/Paris"] },
    "global",
    "time reads the clock only: known global",
  ],
  [
    "fetch",
    { command: "docker", args: ["run", "-i", "--rm", "mcp/fetch"] },
    "global",
    "fetch reads URLs only: known global",
  ],
  [
    "c7",
    { command: "npx", args: ["-y", "@upstash/context7-mcp@latest"] },
    "global",
    "context7 looks documentation up remotely: known global",
  ],
  [
    "every",
    { command: "npx", args: ["-y", "@modelcontextprotocol/server-everything"] },
    "global",
    "server-everything is a test server that reads only its own package: known global",
  ],
  [
    "github",
    { command: "docker", args: ["run", "-i", "--rm", "-e", "GITHUB_TOKEN", "ghcr.io/github/github-mcp-server"] },
    "global",
    "github talks to the GitHub API with one token: known global",
  ],
  ["git", { command: "uvx", args: ["mcp-server-git"] }, "workspace", "unknown server: per project to be safe"],
  [
    "npxrepo",
    { command: "npx", args: ["-y", "someone/some-mcp"] },
    "workspace",
    "unknown server: per project to be safe",
  ],
];

describe("classification", () => {
  test("each rule: scan shows the policy and why; rewire writes it, keeps the paths as written, refuses none", async () => {
    const h = home();
    const servers = Object.fromEntries(RULES.map(([name, entry]) => [name, { type: "stdio", ...entry }]));
    const file = put(join(h.home, ".config", "Code", "User", "mcp.json"), JSON.stringify({ servers }, null, 2));
    const report = scanHosts({ ctx: h.ctx, stateDir: h.stateDir });
    const got = RULES.map(([name]) => {
      const s = report.servers.find((x) => x.name === name);
      return [name, s?.share, s?.shareReason, s?.problems];
    });
    expect(got).toEqual(RULES.map(([name, , policy, reason]) => [name, policy, reason, []]));
    // Plain scan: one line per entry.
    const plain = renderScan(report);
    expect(plain).toContain('      share: workspace (args contain ".")');
    expect(plain).toContain("      share: global (server-memory keeps one graph: known global)");
    expect(plain).toContain("      share: workspace (unknown server: per project to be safe)");

    const result = await rewireHosts(h.opts);
    expect(result.skipped).toEqual([]);
    expect(result.changes[0]?.entries.map((e) => [e.name, e.share])).toEqual(RULES.map(([n, , p]) => [n, p]));
    expect(describeRewire(result, false)).toContain("rewired vscode dot → service dot (");
    expect(describeRewire(result, false)).toContain(', share: workspace (args contain ".")');
    const raw = rawServices(h.configFile);
    for (const [name, , policy] of RULES) expect([name, raw[name]?.share]).toEqual([name, policy]);
    // Paths stay as written: each project's child resolves them in its own folder.
    expect(raw.dot?.args).toEqual(["."]);
    expect(raw.rel?.args).toEqual(["./tools/server.js"]);
    expect(raw.wsf?.args).toEqual(["-y", "@modelcontextprotocol/server-filesystem", `\${workspaceFolder}`]);
    expect(raw.wsr?.args).toEqual(["--project", `\${workspaceFolder}/x`]);
    expect(raw.envws?.env).toEqual({ PROJECT_ROOT: `\${workspaceFolder}` });
    expect(raw.cwdrel?.cwd).toBe("sub");
    expect(readFileSync(h.configFile, "utf8")).not.toContain(h.home);
    // The daemon reads what rewire wrote.
    const config = loadConfig(h.configFile, { env: h.ctx.env });
    expect(config.services.dot?.share).toBe("workspace");
    expect(config.services.memory?.share).toBe("global");
    // Restore takes every entry back and every service (with its share) out of the config.
    const before = JSON.stringify({ servers }, null, 2);
    const restored = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
    expect(restored.refused).toEqual([]);
    expect(readFileSync(file, "utf8")).toBe(before);
    expect(restored.removedServices.flatMap((r) => r.services).sort()).toEqual(RULES.map(([n]) => n).sort());
    expect(readFileSync(h.configFile, "utf8")).not.toContain("share");
  });

  test("a hostile launch (many long relative paths) gets a short reason: three shown, the rest counted", () => {
    const h = home();
    const args = Array.from({ length: 50 }, (_, i) => `./${"x".repeat(5000)}${i}`);
    put(join(h.home, ".cursor", "mcp.json"), JSON.stringify({ mcpServers: { big: { command: "node", args } } }));
    const s = scanHosts({ ctx: h.ctx, stateDir: h.stateDir }).servers.find((x) => x.name === "big");
    expect(s?.share).toBe("workspace");
    expect(s?.shareReason).toEndWith(" and 47 more");
    expect(s?.shareReason?.length).toBeLessThan(300);
  });

  test("a user-scope Claude Code entry (claude mcp add --scope user git uvx mcp-server-git) is per workspace; server-memory is global", async () => {
    const h = home();
    put(
      join(h.home, ".claude.json"),
      JSON.stringify({
        numStartups: 3,
        mcpServers: {
          git: { type: "stdio", command: "uvx", args: ["mcp-server-git"], env: {} },
          memory: { type: "stdio", command: "npx", args: ["-y", "@modelcontextprotocol/server-memory"], env: {} },
        },
      }),
    );
    const result = await rewireHosts(h.opts);
    expect(result.changes[0]?.entries.map((e) => [e.name, e.share, e.shareReason])).toEqual([
      ["git", "workspace", "unknown server: per project to be safe"],
      ["memory", "global", "server-memory keeps one graph: known global"],
    ]);
    const services = loadConfig(h.configFile, { env: h.ctx.env }).services;
    expect(services.git).toMatchObject({ cmd: "uvx", args: ["mcp-server-git"], share: "workspace" });
    expect(services.memory).toMatchObject({ share: "global", maxConcurrentRequests: 1 });
  });
});

describe("--share and the config's own choice", () => {
  test("--share global pins a project entry to its folder (with a warning); --share client and workspace override too", async () => {
    const h = home();
    const project = h.ctx.project;
    put(
      join(project, ".mcp.json"),
      JSON.stringify({ mcpServers: { fs: { command: "mcp-server-filesystem", args: [".", "./docs"] } } }),
    );
    const global = await rewireHosts({ ...h.opts, includeProject: true, share: "global", dryRun: true });
    expect(global.changes[0]?.entries[0]).toMatchObject({ name: "fs", share: "global", shareReason: "--share global" });
    expect(global.warnings.join("\n")).toContain(
      `claude-code fs: share = "global" (--share global) although args contain ".", args contain "./docs": ${project} is written in for the project folder`,
    );
    expect(global.config.diff).toContain(`- ${project}\n`);
    expect(global.config.diff).toContain(`- ${join(project, "docs")}\n`);

    const client = await rewireHosts({ ...h.opts, includeProject: true, share: "client" });
    expect(client.changes[0]?.entries[0]).toMatchObject({ share: "client", shareReason: "--share client" });
    expect(loadConfig(h.configFile, { env: h.ctx.env }).services.fs).toMatchObject({
      share: "client",
      args: [project, join(project, "docs")],
    });
    await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });

    // Workspace on a known-global server: no pinning, nothing to warn about.
    put(
      join(h.home, ".cursor", "mcp.json"),
      JSON.stringify({
        mcpServers: { memory: { command: "npx", args: ["-y", "@modelcontextprotocol/server-memory"] } },
      }),
    );
    const ws = await rewireHosts({ ...h.opts, hosts: ["cursor"], share: "workspace" });
    expect(ws.changes[0]?.entries[0]).toMatchObject({ name: "memory", share: "workspace" });
    expect(ws.warnings.join("\n")).not.toContain("written in for the project folder");
    expect(loadConfig(h.configFile, { env: h.ctx.env }).services.memory?.share).toBe("workspace");
  });

  test("a share the user set in the mux config is kept, never overwritten; a service without one is not edited either", async () => {
    const h = home();
    const cursor = put(
      join(h.home, ".cursor", "mcp.json"),
      JSON.stringify({
        mcpServers: {
          fs: { command: "mcp-server-filesystem", args: ["."] },
          git: { command: "uvx", args: ["mcp-server-git"] },
        },
      }),
    );
    const plan = await rewireHosts({ ...h.opts, dryRun: true });
    const socket = (n: string) => plan.changes[0]?.entries.find((e) => e.name === n)?.socket as string;
    const mine = `# mine\nservers:\n  my-fs:\n    socket: ${socket("fs")}\n    cmd: mcp-server-filesystem\n    args: ["."]\n    share: global\n  my-git:\n    socket: ${socket("git")}\n    cmd: uvx\n    args: [mcp-server-git]\n`;
    put(h.configFile, mine);
    const result = await rewireHosts({ ...h.opts, share: "workspace" });
    expect(result.config.added).toEqual([]);
    expect(readFileSync(h.configFile, "utf8")).toBe(mine);
    expect(result.changes[0]?.entries.map((e) => [e.name, e.service, e.share, e.shareReason])).toEqual([
      ["fs", "my-fs", "global", "set in the mux config"],
      ["git", "my-git", "global", "the mux config sets none"],
    ]);
    const warnings = result.warnings.join("\n");
    expect(warnings).toContain(
      `service my-fs keeps share = "global" from ${h.configFile} (rewire would write "workspace": --share workspace)`,
    );
    expect(warnings).toContain(
      `service my-git in ${h.configFile} has no share setting, so one child serves every project`,
    );
    // Restore leaves the user's services alone.
    const restored = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
    expect(restored.removedServices).toEqual([]);
    expect(readFileSync(h.configFile, "utf8")).toBe(mine);
    expect(JSON.parse(readFileSync(cursor, "utf8")).mcpServers.fs.command).toBe("mcp-server-filesystem");
  });
});

test("two projects' `fs: mcp-server-filesystem .` are one service (same id, `.` kept) with share = workspace; restore removes it", async () => {
  const h = home();
  const entry = '{\n  "mcpServers": {\n    "fs": { "command": "mcp-server-filesystem", "args": ["."] }\n  }\n}\n';
  const projects = ["projA", "projB"].map((p) => join(h.home, p));
  for (const p of projects) put(join(p, ".mcp.json"), entry);
  const sockets: string[] = [];
  const added: string[][] = [];
  for (const p of projects) {
    const ctx = hostContext(h.ctx.env, { platform: "linux", project: p, systemRoot: join(h.home, "sys") });
    const result = await rewireHosts({ ...h.opts, ctx, includeProject: true });
    expect(result.skipped).toEqual([]);
    expect(result.changes[0]?.entries[0]).toMatchObject({ name: "fs", service: "fs", share: "workspace" });
    sockets.push(result.changes[0]?.entries[0]?.socket as string);
    added.push(result.config.added);
    const scanned = scanHosts({ ctx, stateDir: h.stateDir, includeProject: true }).servers.find((s) => s.name === "fs");
    expect(scanned).toMatchObject({ status: "managed", share: "workspace", shareReason: 'args contain "."' });
  }
  expect(sockets[0]).toBe(sockets[1] as string);
  expect(added).toEqual([["fs"], []]);
  // rewire --status (and mux status --hosts) show the service's share as the config sets it.
  expect(rewireStatus({ ctx: h.ctx, stateDir: h.stateDir }).map((r) => [r.path, r.service, r.share])).toEqual(
    projects.map((p) => [join(p, ".mcp.json"), "fs", "workspace"]),
  );
  const raw = rawServices(h.configFile);
  expect(Object.keys(raw)).toEqual(["fs"]);
  expect(raw.fs).toMatchObject({ cmd: "mcp-server-filesystem", args: ["."], share: "workspace" });
  expect(readFileSync(h.configFile, "utf8")).not.toContain("proj");
  // Restoring one project keeps the service the other still uses; the second takes it out.
  const first = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir, hosts: ["claude-code"], servers: ["fs"] });
  expect(first.restored).toHaveLength(2);
  expect(first.removedServices).toEqual([{ config: h.configFile, services: ["fs"] }]);
  for (const p of projects) expect(readFileSync(join(p, ".mcp.json"), "utf8")).toBe(entry);
  expect(rawServices(h.configFile) ?? {}).toEqual({});
});

test("--transport http: a project entry of a workspace service carries its project in the URL; a user entry keeps mux-proxy", async () => {
  const h = home();
  const project = join(h.home, "my proj");
  const ctx = hostContext(h.ctx.env, { platform: "linux", project, systemRoot: join(h.home, "sys") });
  put(
    join(project, ".mcp.json"),
    JSON.stringify({ mcpServers: { fs: { command: "mcp-server-filesystem", args: ["."] } } }),
  );
  const user = put(
    join(h.home, ".claude.json"),
    JSON.stringify({
      mcpServers: {
        git: { command: "uvx", args: ["mcp-server-git"] },
        time: { command: "uvx", args: ["mcp-server-time"] },
      },
    }),
  );
  const result = await rewireHosts({ ...h.opts, ctx, includeProject: true, transport: "http" });
  const entries = result.changes.flatMap((c) => c.entries);
  const fs = entries.find((e) => e.name === "fs");
  expect(fs?.url).toBe(`${result.httpBase}/fs?workspace=${encodeURIComponent(project)}`);
  expect(JSON.parse(readFileSync(join(project, ".mcp.json"), "utf8")).mcpServers.fs.url).toBe(fs?.url as string);
  expect(entries.find((e) => e.name === "time")?.url).toBe(`${result.httpBase}/time`);
  expect(entries.find((e) => e.name === "git")?.url).toBeUndefined();
  expect(JSON.parse(readFileSync(user, "utf8")).mcpServers.git.command).toBe(PROXY);
  expect(result.warnings.join("\n")).toContain(
    'claude-code git: share = "workspace" and a user entry has no project folder to put in a URL; it runs mux-proxy',
  );
});
