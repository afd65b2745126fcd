/**
 * scan / rewire / restore on real fixture files of every host in a temporary home: exact
 * expected results (comments and formatting kept), idempotence, byte-identical restore,
 * refusal after a user edit, dry runs that write nothing, backups and state modes.
 */

import { afterAll, describe, expect, test } from "bun:test";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { applyEdits, modify } from "jsonc-parser";
import { parseDocument } from "yaml";
import { loadConfig } from "../../src/config/load.ts";
import { defaultHttpListen, defaultTokenFile } from "../../src/config/paths.ts";
import { HOSTS } from "../../src/hosts/hosts.ts";
import { FORMATS } from "../../src/hosts/inventory.ts";
import { addServices, removeServices } from "../../src/hosts/mux-config.ts";
import { restoreHosts, rewireHosts, rewireStatus } from "../../src/hosts/rewire.ts";
import { scanHosts } from "../../src/hosts/scan.ts";
import { URL_ENTRIES } from "../../src/hosts/shapes.ts";
import { KEEP_BACKUPS, replaceIfUnchanged } from "../../src/hosts/state.ts";
import { FIXTURE_DIR, fixtureHome, HOST_FIXTURES, type HostFixture, PROXY } from "./fixtures.ts";

const EXPECTED = join(FIXTURE_DIR, "expected");
const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

function home(fixtures?: readonly HostFixture[], env?: Record<string, string>) {
  const h = fixtureHome(fixtures, env);
  homes.push(h.home);
  return h;
}

const fixture = (name: string) => readFileSync(join(FIXTURE_DIR, name), "utf8");
const userFixtures = HOST_FIXTURES.filter((f) => !("project" in f));

describe("scan", () => {
  test("finds every host, classifies entries, and groups the same server across hosts", () => {
    const h = home();
    const report = scanHosts({ ctx: h.ctx, stateDir: h.stateDir, includeProject: true });
    expect(report.hosts.map((x) => x.id as string).sort()).toEqual(
      [...new Set(HOST_FIXTURES.map((f) => f.host as string))].sort(),
    );
    const find = (host: string, name: string) => report.servers.find((s) => s.host === host && s.name === name);
    expect(find("claude-desktop", "memory")).toMatchObject({
      status: "upstream",
      command: "npx",
      args: ["-y", "@modelcontextprotocol/server-memory"],
      env: { MEMORY_FILE_PATH: "/home/u/memory.jsonl" },
    });
    expect(find("claude-code", "api")?.status).toBe("remote");
    expect(find("claude-code", "sqlite")?.scope).toBe("local");
    expect(find("zed", "postgres-ext")?.status).toBe("other");
    expect(find("zed", "time")?.command).toBe("uvx"); // old `command: {path}` shape
    expect(find("goose", "developer")?.status).toBe("other");
    expect(find("opencode", "memory")?.args).toEqual(["-y", "@modelcontextprotocol/server-memory"]);
    expect(find("gemini", "memory")?.cwd).toBe("/home/u");
    // Secrets only the host can resolve stay with the host and are forwarded by the proxy.
    expect(find("vscode", "github")).toMatchObject({ problems: [], forwardedEnv: ["GITHUB_PERSONAL_ACCESS_TOKEN"] });
    expect(find("continue", "secret-api")).toMatchObject({ problems: [], forwardedEnv: ["API_KEY"] });
    expect(find("goose", "github")).toMatchObject({ problems: [], forwardedEnv: ["GITHUB_PERSONAL_ACCESS_TOKEN"] });
    // A project folder in the launch is no refusal: one child per project (share = workspace).
    expect(find("cursor", "files")).toMatchObject({
      problems: [],
      share: "workspace",
      shareReason: `args use \${workspaceFolder}`,
    });
    expect(find("claude-code", "local-tool")).toMatchObject({
      problems: [],
      share: "workspace",
      shareReason: 'args contain "./tools/server.js"',
    });
    expect(find("cursor", "memory")).toMatchObject({
      share: "global",
      shareReason: "server-memory keeps one graph: known global",
    });
    // The same command, args and env in 12 places is one service.
    const memory = report.shared.find((g) => g.entries.some((e) => e.host === "cursor" && e.name === "memory"));
    expect(memory?.entries.map((e) => e.host as string).sort()).toEqual(
      [
        "claude-code",
        "claude-desktop",
        "cline",
        "codex",
        "continue",
        "cursor",
        "goose",
        "jetbrains",
        "opencode",
        "vscode",
        "windsurf",
        "zed",
      ].sort(),
    );
    // Gemini's memory runs in another cwd: a different server.
    expect(find("gemini", "memory")?.serviceId).not.toBe(find("cursor", "memory")?.serviceId);
    expect(report.projectScoped).toBe(0);
    // Without --include-project, project and local entries (where `claude mcp add` and
    // `gemini mcp add` put them by default) are still shown, marked, and left out of the specs.
    const userOnly = scanHosts({ ctx: h.ctx, stateDir: h.stateDir });
    const marked = userOnly.servers.filter((s) => s.needsIncludeProject);
    expect(marked.length).toBeGreaterThan(0);
    expect(marked.every((s) => s.scope !== "user")).toBe(true);
    expect(userOnly.servers.filter((s) => s.scope === "user").every((s) => !s.needsIncludeProject)).toBe(true);
    expect(userOnly.projectScoped).toBe(marked.length);
    expect(userOnly.servers.find((s) => s.host === "claude-code" && s.name === "sqlite")).toMatchObject({
      scope: "local",
      needsIncludeProject: true,
      project: expect.any(String),
    });
    const localOnly = marked.filter(
      (m) => !userOnly.servers.some((u) => !u.needsIncludeProject && u.serviceId === m.serviceId),
    );
    expect(localOnly.length).toBeGreaterThan(0);
    for (const m of localOnly) expect(userOnly.specs.some((x) => x.id === m.serviceId)).toBe(false);
  });
});

describe("rewire and restore, per host file", () => {
  for (const f of userFixtures) {
    test(`${f.host} (${f.fixture})`, async () => {
      const h = home([f]);
      const path = h.pathOf(f);
      const original = readFileSync(path, "utf8");
      const opts = { ctx: h.ctx, stateDir: h.stateDir, proxy: PROXY, configFile: h.configFile };
      const first = await rewireHosts(opts);
      const rewired = readFileSync(path, "utf8");
      const expectedPath = join(EXPECTED, f.fixture);
      // The temporary home in the entries' --config path reads as /home/user in expected files.
      const stable = rewired.replaceAll(h.home, "/home/user");
      if (process.env.UPDATE_EXPECTED) writeFileSync(expectedPath, stable);
      expect(stable).toBe(readFileSync(expectedPath, "utf8"));
      if (f.host === "jetbrains") {
        expect(rewired).toBe(original);
        expect(first.instructions.join()).toContain("Settings | Tools | AI Assistant");
        return;
      }
      expect(first.changes).toHaveLength(1);
      // Backup before the first change: 0600, in the state directory, never next to the file.
      const backups = readdirSync(join(h.stateDir, "backups", f.host));
      expect(backups.length).toBe(2); // timestamped + pristine
      for (const b of backups) {
        expect(statSync(join(h.stateDir, "backups", f.host, b)).mode & 0o777).toBe(0o600);
        expect(readFileSync(join(h.stateDir, "backups", f.host, b), "utf8")).toBe(original);
      }
      expect(statSync(join(h.stateDir, "state.json")).mode & 0o777).toBe(0o600);
      expect(statSync(h.configFile).mode & 0o777).toBe(0o600);
      expect(readdirSync(join(path, "..")).filter((n) => n.includes(".bak") || n.includes(".tmp"))).toEqual([]);
      // Twice changes nothing: same bytes, file not even written.
      const mtime = statSync(path).mtimeMs;
      const second = await rewireHosts(opts);
      expect(second.changes).toHaveLength(0);
      expect(second.unchanged.length).toBe(first.changes[0]?.entries.length ?? -1);
      expect(readFileSync(path, "utf8")).toBe(rewired);
      expect(statSync(path).mtimeMs).toBe(mtime);
      // Scan still reports the real server, via the mux.
      const scan = scanHosts({ ctx: h.ctx, stateDir: h.stateDir });
      const managed = scan.servers.filter((s) => s.status === "managed");
      expect(managed.length).toBe(first.changes[0]?.entries.length ?? -1);
      for (const m of managed) expect(m.command).not.toContain("mux-proxy");
      expect(rewireStatus({ ctx: h.ctx, stateDir: h.stateDir }).every((r) => r.state === "rewired")).toBe(true);
      // Restore: byte-identical to the original.
      const restored = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
      expect(restored.refused).toEqual([]);
      expect(readFileSync(path, "utf8")).toBe(original);
      expect(rewireStatus({ ctx: h.ctx, stateDir: h.stateDir })).toEqual([]);
      // The services the rewire added are gone from the mux config again.
      expect(restored.removedServices.flatMap((r) => r.services).sort()).toEqual(
        (first.changes[0]?.entries.map((e) => e.service as string) ?? [])
          .filter((v, i, a) => a.indexOf(v) === i)
          .sort(),
      );
      expect(Object.keys(loadConfig(h.configFile, { env: h.ctx.env }).services)).toEqual([]);
    });
  }
});

test("the mux config gets one service per distinct server, loadable by mux serve", async () => {
  const h = home(userFixtures);
  const result = await rewireHosts({ ctx: h.ctx, stateDir: h.stateDir, proxy: PROXY, configFile: h.configFile });
  const config = loadConfig(h.configFile, { env: h.ctx.env });
  const sockets = new Set(result.changes.flatMap((c) => c.entries.map((e) => e.socket)));
  expect(
    Object.values(config.services)
      .map((s) => s.socket)
      .sort(),
  ).toEqual([...sockets].sort() as string[]);
  const memory = config.services.memory;
  expect(memory).toMatchObject({ cmd: "npx", args: ["-y", "@modelcontextprotocol/server-memory"] });
  expect(memory?.env).toEqual({ MEMORY_FILE_PATH: "/home/u/memory.jsonl" });
  // Host-side variables become the daemon's own `${VAR}` (here unset, so the default applies).
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal ${VAR} syntax of mux configs
  expect(readFileSync(h.configFile, "utf8")).toContain("${SEARCH_KEY:-none}");
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal ${VAR} syntax of mux configs
  expect(readFileSync(h.configFile, "utf8")).toContain("${GITHUB_TOKEN}");
  expect(config.services.search?.env).toEqual({ SEARCH_KEY: "none" });
  // Same name, different server: a second service, not a clash.
  expect(Object.keys(config.services).some((n) => n.startsWith("memory-"))).toBe(true);
  // Every socket is short: <runtime>/mcp-mux/s-<8 hex>.sock.
  for (const s of sockets) expect(s).toMatch(/\/mcp-mux\/s-[0-9a-f]{8}\.sock$/);
});

test("--dry-run prints diffs and writes nothing", async () => {
  const h = home();
  const before = HOST_FIXTURES.map((f) => [readFileSync(h.pathOf(f), "utf8"), statSync(h.pathOf(f)).mtimeMs]);
  const result = await rewireHosts({
    ctx: h.ctx,
    stateDir: h.stateDir,
    proxy: PROXY,
    configFile: h.configFile,
    dryRun: true,
    includeProject: true,
    force: true,
  });
  expect(result.changes.length).toBeGreaterThan(10);
  for (const c of result.changes) expect(c.diff).toContain(`+++ ${c.path}`);
  expect(result.config.diff).toContain("server-memory");
  HOST_FIXTURES.forEach((f, i) => {
    expect([readFileSync(h.pathOf(f), "utf8"), statSync(h.pathOf(f)).mtimeMs]).toEqual(
      before[i] as (string | number)[],
    );
  });
  expect(existsSync(h.stateDir)).toBe(false);
  expect(existsSync(h.configFile)).toBe(false);
});

test("restore refuses an entry the user changed since, unless --force", async () => {
  const f = HOST_FIXTURES.find((x) => x.host === "cursor") as HostFixture;
  const h = home([f]);
  const path = h.pathOf(f);
  await rewireHosts({ ctx: h.ctx, stateDir: h.stateDir, proxy: PROXY, configFile: h.configFile });
  const edited = readFileSync(path, "utf8").replace('"--socket"', '"--socket", "--verbose"');
  writeFileSync(path, edited);
  const refused = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir, servers: ["memory"] });
  expect(refused.refused.map((r) => [r.name, r.reason])).toEqual([
    ["memory", "the entry was changed since it was rewired; --force restores it anyway"],
  ]);
  expect(readFileSync(path, "utf8")).toBe(edited);
  expect(rewireStatus({ ctx: h.ctx, stateDir: h.stateDir }).find((r) => r.name === "memory")?.state).toBe("changed");
  // The other entry is still restorable on its own.
  const gh = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir, servers: ["gh"] });
  expect(gh.restored.map((r) => r.name)).toEqual(["gh"]);
  const forced = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir, force: true });
  expect(forced.restored.map((r) => r.name).sort()).toEqual(["files", "memory"]);
  expect(readFileSync(path, "utf8")).toBe(fixture(f.fixture));
});

test("restore puts entries back one by one while the host rewrote the rest of the file", async () => {
  const f = HOST_FIXTURES.find((x) => x.host === "claude-code" && x.path === ".claude.json") as HostFixture;
  const h = home([f]);
  const path = h.pathOf(f);
  await rewireHosts({ ctx: h.ctx, stateDir: h.stateDir, proxy: PROXY, configFile: h.configFile });
  // Claude Code rewrites its state file all the time: new keys elsewhere, numStartups bumped.
  const data = JSON.parse(readFileSync(path, "utf8"));
  data.numStartups = 43;
  data.lastSession = "abc";
  writeFileSync(path, JSON.stringify(data, null, 2));
  const result = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
  expect(result.refused).toEqual([]);
  const after = JSON.parse(readFileSync(path, "utf8"));
  const original = JSON.parse(fixture(f.fixture));
  expect(after.mcpServers).toEqual(original.mcpServers);
  expect(after.numStartups).toBe(43);
  expect(after.lastSession).toBe("abc");
});

test("a deleted entry is not re-added; a missing file is reported", async () => {
  const f = HOST_FIXTURES.find((x) => x.host === "junie") as HostFixture;
  const h = home([f]);
  await rewireHosts({ ctx: h.ctx, stateDir: h.stateDir, proxy: PROXY, configFile: h.configFile });
  writeFileSync(h.pathOf(f), '{\n  "mcpServers": {}\n}\n');
  const result = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
  expect(result.refused[0]?.reason).toContain("deleted from the file");
  expect(result.refused[0]?.reason).toContain("mux restore --forget");
  expect(readFileSync(h.pathOf(f), "utf8")).toBe('{\n  "mcpServers": {}\n}\n');
  expect(rewireStatus({ ctx: h.ctx, stateDir: h.stateDir }).map((r) => r.state)).toEqual(["missing"]);
  expect(
    (await rewireHosts({ ctx: h.ctx, stateDir: h.stateDir, proxy: PROXY, configFile: h.configFile })).warnings.join(
      "\n",
    ),
  ).toContain("deleted the entry");
  rmSync(h.pathOf(f));
  const gone = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
  expect(gone.refused[0]?.reason).toContain("file is gone");
  // --forget clears the record and the services only it used; the config keeps the rest.
  const before = Object.keys(loadConfig(h.configFile, { env: h.ctx.env }).services);
  expect(before.length).toBeGreaterThan(0);
  const forgot = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir, forget: true });
  expect(forgot.refused).toEqual([]);
  expect(forgot.forgotten.length).toBeGreaterThan(0);
  expect(rewireStatus({ ctx: h.ctx, stateDir: h.stateDir })).toEqual([]);
  expect(forgot.removedServices[0]?.services.sort()).toEqual(before.sort());
  expect(Object.keys(loadConfig(h.configFile, { env: h.ctx.env }).services)).toEqual([]);
});

test("Codex dotted keys (CODEX_HOME): rewired in place and restored", async () => {
  const h = home([], { CODEX_HOME: "" });
  const dir = join(h.home, "codex-home");
  mkdirSync(dir);
  writeFileSync(join(dir, "config.toml"), fixture("codex-dotted.toml"));
  const ctx = { ...h.ctx, env: { ...h.ctx.env, CODEX_HOME: dir } };
  const opts = { ctx, stateDir: h.stateDir, proxy: PROXY, configFile: h.configFile };
  await rewireHosts(opts);
  const rewired = readFileSync(join(dir, "config.toml"), "utf8").replaceAll(h.home, "/home/user");
  if (process.env.UPDATE_EXPECTED) writeFileSync(join(EXPECTED, "codex-dotted.toml"), rewired);
  expect(rewired).toBe(readFileSync(join(EXPECTED, "codex-dotted.toml"), "utf8"));
  // env_vars pass variables through from the environment: the daemon gets them as ${VAR}.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal ${VAR} syntax of mux configs
  expect(readFileSync(h.configFile, "utf8")).toContain("HTTP_PROXY: ${HTTP_PROXY}");
  expect((await rewireHosts(opts)).changes).toEqual([]);
  await restoreHosts({ ctx, stateDir: h.stateDir });
  expect(readFileSync(join(dir, "config.toml"), "utf8")).toBe(fixture("codex-dotted.toml"));
});

test("BOM and CRLF files keep both; a symlinked config stays a symlink", async () => {
  const f = HOST_FIXTURES.find((x) => x.host === "claude-desktop") as HostFixture;
  const h = home([f]);
  const crlf = `\uFEFF${fixture(f.fixture).replaceAll("\n", "\r\n")}`;
  writeFileSync(h.pathOf(f), crlf);
  const opts = { ctx: h.ctx, stateDir: h.stateDir, proxy: PROXY, configFile: h.configFile };
  await rewireHosts(opts);
  const rewired = readFileSync(h.pathOf(f), "utf8");
  expect(rewired.startsWith("\uFEFF")).toBe(true);
  expect(rewired.replaceAll("\r\n", "")).not.toContain("\n");
  expect(rewired).toContain("mux-proxy");
  await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
  expect(readFileSync(h.pathOf(f), "utf8")).toBe(crlf);

  const cursor = HOST_FIXTURES.find((x) => x.host === "cursor") as HostFixture;
  const h2 = home([]);
  mkdirSync(join(h2.home, "dotfiles"));
  mkdirSync(join(h2.home, ".cursor"));
  writeFileSync(join(h2.home, "dotfiles", "cursor.json"), fixture(cursor.fixture));
  symlinkSync(join(h2.home, "dotfiles", "cursor.json"), h2.pathOf(cursor));
  await rewireHosts({ ctx: h2.ctx, stateDir: h2.stateDir, proxy: PROXY, configFile: h2.configFile });
  expect(lstatSync(h2.pathOf(cursor)).isSymbolicLink()).toBe(true);
  expect(readFileSync(join(h2.home, "dotfiles", "cursor.json"), "utf8")).toContain("mux-proxy");
  await restoreHosts({ ctx: h2.ctx, stateDir: h2.stateDir });
  expect(readFileSync(join(h2.home, "dotfiles", "cursor.json"), "utf8")).toBe(fixture(cursor.fixture));
});

test("project scopes need --include-project; a relative path makes the service per workspace", async () => {
  const f = HOST_FIXTURES.find((x) => "project" in x) as HostFixture;
  const h = home([f]);
  const opts = { ctx: h.ctx, stateDir: h.stateDir, proxy: PROXY, configFile: h.configFile };
  expect((await rewireHosts(opts)).changes).toEqual([]);
  const done = await rewireHosts({ ...opts, includeProject: true });
  expect(done.skipped).toEqual([]);
  expect(done.changes[0]?.entries).toMatchObject([{ name: "local-tool", share: "workspace" }]);
  // The path stays relative: each project's child runs in that project.
  const service = loadConfig(h.configFile, { env: h.ctx.env }).services["local-tool"];
  expect(service).toMatchObject({ args: ["./tools/server.js"], share: "workspace" });
  expect(readFileSync(h.configFile, "utf8")).not.toContain(join(h.home, "proj"));
});

test("never rewires into a loop: proxy entries without a record are foreign and left alone", async () => {
  const h = home([]);
  mkdirSync(join(h.home, ".cursor"));
  const text =
    '{\n  "mcpServers": {\n    "x": { "command": "/usr/local/bin/rmcp-mux-proxy", "args": ["--socket", "/tmp/x.sock"] },\n    "y": { "command": "mux-proxy", "args": ["--socket", "/tmp/y.sock"] }\n  }\n}\n';
  writeFileSync(join(h.home, ".cursor", "mcp.json"), text);
  const result = await rewireHosts({ ctx: h.ctx, stateDir: h.stateDir, proxy: PROXY, configFile: h.configFile });
  expect(result.changes).toEqual([]);
  expect(result.skipped.map((s) => s.name).sort()).toEqual(["x", "y"]);
  expect(readFileSync(join(h.home, ".cursor", "mcp.json"), "utf8")).toBe(text);
  const scan = scanHosts({ ctx: h.ctx, stateDir: h.stateDir });
  expect(scan.servers.map((s) => s.status)).toEqual(["foreign", "foreign"]);
  expect(scan.specs).toEqual([]);
});

test("an unparsable host file is reported and left alone", async () => {
  const h = home([]);
  mkdirSync(join(h.home, ".cursor"));
  writeFileSync(join(h.home, ".cursor", "mcp.json"), '{ "mcpServers": { "a": ');
  const result = await rewireHosts({ ctx: h.ctx, stateDir: h.stateDir, proxy: PROXY, configFile: h.configFile });
  expect(result.skipped[0]?.reason).toContain("cannot parse");
  expect(scanHosts({ ctx: h.ctx, stateDir: h.stateDir }).hosts[0]?.files[0]?.error).toContain("cannot parse");
});

test("a relative mux-proxy path is refused", async () => {
  const h = home([]);
  await expect(rewireHosts({ ctx: h.ctx, stateDir: h.stateDir, proxy: "mux-proxy" })).rejects.toThrow("absolute");
});

test("a file another program changed after it was read is not overwritten (optimistic write)", () => {
  const h = home([]);
  const path = join(h.home, "host.json");
  writeFileSync(path, "A");
  const read = new Uint8Array(readFileSync(path));
  // Changed before the write: refused.
  writeFileSync(path, "B");
  expect(replaceIfUnchanged(path, read, new TextEncoder().encode("C"))).toBe(false);
  expect(readFileSync(path, "utf8")).toBe("B");
  // Changed while the backup was being made: still refused.
  const readB = new Uint8Array(readFileSync(path));
  expect(replaceIfUnchanged(path, readB, new TextEncoder().encode("C"), () => writeFileSync(path, "D"))).toBe(false);
  expect(readFileSync(path, "utf8")).toBe("D");
  // Unchanged: replaced, mode kept.
  chmodSync(path, 0o640);
  const readD = new Uint8Array(readFileSync(path));
  expect(replaceIfUnchanged(path, readD, new TextEncoder().encode("E"))).toBe(true);
  expect(readFileSync(path, "utf8")).toBe("E");
  expect(statSync(path).mode & 0o777).toBe(0o640);
});

test("Claude Code local scope (projects.<path>.mcpServers) with --include-project, restored exactly", async () => {
  const f = HOST_FIXTURES.find((x) => x.host === "claude-code" && x.path === ".claude.json") as HostFixture;
  const h = home([f]);
  const opts = { ctx: h.ctx, stateDir: h.stateDir, proxy: PROXY, configFile: h.configFile };
  await rewireHosts({ ...opts, includeProject: true, servers: ["sqlite"] });
  const data = JSON.parse(readFileSync(h.pathOf(f), "utf8"));
  expect(data.projects["/home/u/proj"].mcpServers.sqlite).toEqual({
    type: "stdio",
    command: PROXY,
    args: ["--socket", expect.stringMatching(/s-[0-9a-f]{8}\.sock$/), "--config", h.configFile],
  });
  expect(data.projects["/home/u/proj"].allowedTools).toEqual([]);
  expect(data.mcpServers.memory.command).toBe("npx");
  const rows = rewireStatus({ ctx: h.ctx, stateDir: h.stateDir });
  expect(rows.map((r) => [r.name, r.state])).toEqual([["sqlite", "rewired"]]);
  await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
  expect(readFileSync(h.pathOf(f), "utf8")).toBe(fixture(f.fixture));
});

test("restore keeps a service the user had before, and services other entries still use", async () => {
  const fixtures = HOST_FIXTURES.filter((x) => x.host === "cursor" || x.host === "windsurf");
  const h = home(fixtures);
  const opts = { ctx: h.ctx, stateDir: h.stateDir, proxy: PROXY, configFile: h.configFile };
  const plan = await rewireHosts({ ...opts, dryRun: true });
  const ghSocket = plan.changes.flatMap((c) => c.entries).find((e) => e.name === "gh")?.socket as string;
  mkdirSync(join(h.configFile, ".."), { recursive: true });
  writeFileSync(h.configFile, `# mine\nservers:\n  my-gh:\n    socket: ${ghSocket}\n    cmd: gh-mcp\n`);
  await rewireHosts(opts);
  expect(Object.keys(loadConfig(h.configFile, { env: h.ctx.env }).services).sort()).toEqual([
    "files",
    "memory",
    "my-gh",
  ]);
  // Cursor's memory goes back, Windsurf's memory still uses the service: it stays.
  const first = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir, hosts: ["cursor"] });
  expect(first.removedServices).toEqual([{ config: h.configFile, services: ["files"] }]);
  expect(Object.keys(loadConfig(h.configFile, { env: h.ctx.env }).services).sort()).toEqual(["memory", "my-gh"]);
  const second = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
  expect(second.removedServices).toEqual([{ config: h.configFile, services: ["memory"] }]);
  expect(readFileSync(h.configFile, "utf8")).toStartWith("# mine\n");
  expect(Object.keys(loadConfig(h.configFile, { env: h.ctx.env }).services)).toEqual(["my-gh"]);
});

test("services are added to and removed from JSON, YAML and TOML configs, keeping the rest", async () => {
  const h = home(HOST_FIXTURES.filter((x) => x.host === "cursor"));
  const specs = scanHosts({ ctx: h.ctx, stateDir: h.stateDir }).specs;
  const keep: Record<string, string> = {
    json: '{\n  "servers": {\n    "keep": { "cmd": "keep-mcp" }\n  }\n}\n',
    yaml: "# keep me\nservers:\n  keep:\n    cmd: keep-mcp\n",
    toml: '# keep me\n[servers.keep]\ncmd = "keep-mcp"\n',
  };
  for (const ext of ["json", "yaml", "toml"]) {
    const path = join(h.home, `mux.${ext}`);
    writeFileSync(path, keep[ext] as string);
    const added = addServices(path, specs);
    expect(added.added.sort()).toEqual(["files", "gh", "memory"]);
    expect(Object.keys(loadConfig(path, { env: h.ctx.env }).services).sort()).toEqual([
      "files",
      "gh",
      "keep",
      "memory",
    ]);
    expect(removeServices(path, ["memory", "gh", "files", "absent"]).sort()).toEqual(["files", "gh", "memory"]);
    expect(Object.keys(loadConfig(path, { env: h.ctx.env }).services)).toEqual(["keep"]);
    if (ext === "toml") expect(readFileSync(path, "utf8")).toBe(keep.toml as string);
    if (ext !== "json") expect(readFileSync(path, "utf8")).toStartWith("# keep me\n");
  }
});

test("Claude Code admin policies that defeat a rewire are reported by scan and rewire", async () => {
  const f = HOST_FIXTURES.find((x) => x.host === "claude-code" && x.path === ".claude.json") as HostFixture;
  const h = home([f]);
  const dir = join(h.home, "sys", "etc", "claude-code");
  mkdirSync(dir, { recursive: true });
  expect(scanHosts({ ctx: h.ctx, stateDir: h.stateDir }).warnings).toEqual([]);
  writeFileSync(
    join(dir, "managed-settings.json"),
    JSON.stringify({ allowedMcpServers: [{ serverCommand: ["npx", "-y", "@modelcontextprotocol/server-memory"] }] }),
  );
  expect(scanHosts({ ctx: h.ctx, stateDir: h.stateDir }).warnings.join()).toContain("allowedMcpServers.serverCommand");
  writeFileSync(join(dir, "managed-mcp.json"), "{}");
  const result = await rewireHosts({ ctx: h.ctx, stateDir: h.stateDir, proxy: PROXY, configFile: h.configFile });
  expect(result.warnings.join("\n")).toContain("blocked unless an admin allows it");
  expect(result.warnings.join("\n")).toContain("rewiring them has no effect");
});

test("atomic writes: a host reading its file throughout 20 rewire/restore cycles never sees a partial file", async () => {
  const f = HOST_FIXTURES.find((x) => x.host === "claude-code" && x.path === ".claude.json") as HostFixture;
  const h = home([f]);
  const path = h.pathOf(f);
  // A real second process, reading and parsing the file as fast as it can (like a host would).
  const reader = Bun.spawn({
    cmd: [
      process.execPath,
      "-e",
      `const fs=require("fs");let reads=0,bad=0;const stop=Date.now()+60000;
       process.stdin.on("data",()=>{console.log(JSON.stringify({reads,bad}));process.exit(0)});
       (function loop(){for(let i=0;i<50;i++){try{JSON.parse(fs.readFileSync(${JSON.stringify(path)},"utf8"));reads++}catch(e){bad++}}
       if(Date.now()<stop)setImmediate(loop)})();`,
    ],
    stdin: "pipe",
    stdout: "pipe",
  });
  const opts = { ctx: h.ctx, stateDir: h.stateDir, proxy: PROXY, configFile: h.configFile };
  for (let i = 0; i < 20; i++) {
    expect((await rewireHosts(opts)).changes).toHaveLength(1);
    expect((await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir })).refused).toEqual([]);
  }
  reader.stdin.write("stop\n");
  await reader.stdin.end();
  const result = JSON.parse(await new Response(reader.stdout).text()) as { reads: number; bad: number };
  expect(result.reads).toBeGreaterThan(0);
  expect(result.bad).toBe(0);
  expect(readFileSync(path, "utf8")).toBe(fixture(f.fixture));
  // 40 writes: the pristine copy is written once, and only the newest timestamped copies stay.
  const folder = join(h.stateDir, "backups", "claude-code");
  const pristine = readdirSync(folder).filter((n) => n.startsWith("pristine-"));
  expect(pristine).toHaveLength(1);
  expect(readFileSync(join(folder, pristine[0] as string), "utf8")).toBe(fixture(f.fixture));
  expect(readdirSync(folder).filter((n) => !n.startsWith("pristine-"))).toHaveLength(KEEP_BACKUPS);
});

describe("rewire --transport http: URL entries in every host that takes them", () => {
  for (const f of userFixtures) {
    test(`${f.host} (${f.fixture})`, async () => {
      const h = home([f]);
      const path = h.pathOf(f);
      const original = readFileSync(path, "utf8");
      const opts = {
        ctx: h.ctx,
        stateDir: h.stateDir,
        proxy: PROXY,
        configFile: h.configFile,
        transport: "http" as const,
      };
      const first = await rewireHosts(opts);
      if (f.host === "jetbrains") {
        expect(readFileSync(path, "utf8")).toBe(original);
        return;
      }
      const spelling = URL_ENTRIES[f.host];
      // No entry could be edited safely: none is left behind as skipped.
      expect(first.skipped.filter((x) => x.reason.includes("could not edit"))).toEqual([]);
      const listen = defaultHttpListen(h.ctx.env);
      const data = loadConfig(h.configFile, { env: h.ctx.env });
      if (!spelling) {
        // A stdio-only host: no HTTP front is added for nobody.
        expect(first.httpBase).toBeUndefined();
        expect(data.daemon.http).toBeUndefined();
      } else {
        expect(first.httpBase).toBe(`http://${listen}/mcp`);
        expect(data.daemon.http?.listen).toBe(listen);
      }
      const token = spelling ? readFileSync(defaultTokenFile(h.ctx.env), "utf8").trim() : "";
      const format = FORMATS[HOSTS.find((x) => x.id === f.host)?.files(h.ctx)[0]?.format ?? "json"];
      const text = readFileSync(path, "utf8");
      const changed = first.changes[0]?.entries ?? [];
      expect(changed.length).toBeGreaterThan(0);
      for (const e of changed) {
        const files = HOSTS.find((x) => x.id === f.host)?.files(h.ctx) ?? [];
        const containers = files.flatMap((file) => file.containers(format.parse(text)).map((c) => c.container));
        const entry = containers.flatMap((c) => format.entries(text, c)).find((x) => x.name === e.name)
          ?.value as Record<string, unknown>;
        if (!spelling) {
          // A stdio-only host keeps a mux-proxy launch.
          expect(entry.command ?? entry.cmd).toBe(PROXY);
          continue;
        }
        if (entry[spelling.url] === undefined) {
          const launch = entry.command ?? entry.cmd;
          expect(launch).toBe(PROXY);
          if (!JSON.stringify(entry.args).includes("--env")) {
            // A user entry of a per-workspace service has no project for a URL: mux-proxy tells its folder.
            expect(e.share).toBe("workspace");
            expect(first.warnings.join("\n")).toContain(`${e.name}: share = "workspace" and a user entry`);
            continue;
          }
          // Variables only the host can resolve cannot travel in a URL entry: mux-proxy --env.
          expect(first.warnings.join("\n")).toContain(`${e.name}: variables only`);
          continue;
        }
        expect(entry[spelling.url]).toBe(`http://${listen}/mcp/${e.service}`);
        expect(e.url).toBe(`http://${listen}/mcp/${e.service}`);
        if (spelling.type) expect(entry.type).toBe(spelling.type);
        // The token travels as the host's Authorization header, never in the diff.
        let headers: unknown = entry;
        for (const k of spelling.headers ?? []) headers = (headers as Record<string, unknown>)[k];
        expect(headers).toEqual({ Authorization: `Bearer ${token}` });
        expect(first.changes[0]?.diff).not.toContain(token);
        for (const k of ["command", "args", "env", "cmd", "envs", "environment"]) expect(k in entry).toBe(false);
      }
      if (!spelling) expect(first.warnings.join("\n")).toContain("take no URL entries");
      else expect(first.warnings.join("\n")).toContain("mux service install");
      // Twice changes nothing; restore brings the file back byte for byte.
      expect((await rewireHosts(opts)).changes).toEqual([]);
      const restored = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
      expect(restored.refused).toEqual([]);
      expect(readFileSync(path, "utf8")).toBe(original);
    });
  }
});

describe("restore after the host changed the neighbours: only the entry's bytes change", () => {
  // Each perturbation is what a host does to its own file between our rewire and restore; it
  // is applied to the rewired file and to the original, and restore must turn the first into
  // the second exactly.
  const json =
    (add: boolean, remove: string) =>
    (text: string): string => {
      let out = text;
      if (add)
        out = applyEdits(
          out,
          modify(
            out,
            ["mcpServers", "extra"],
            { command: "x" },
            { formattingOptions: { insertSpaces: true, tabSize: 2 } },
          ),
        );
      return applyEdits(out, modify(out, ["mcpServers", remove], undefined, {}));
    };
  const yamlList = (text: string): string => {
    const doc = parseDocument(text);
    const list = doc.get("mcpServers") as { items: unknown[] };
    list.items.unshift(doc.createNode({ name: "extra", command: "x" }));
    list.items.splice(list.items.length - 1, 1); // the host dropped its last server
    return doc.toString({ lineWidth: 0 });
  };
  const yamlMap = (text: string): string => {
    const doc = parseDocument(text);
    doc.setIn(["extensions", "extra"], doc.createNode({ cmd: "x", enabled: true, type: "stdio" }));
    doc.deleteIn(["extensions", "developer"]);
    return doc.toString({ lineWidth: 0, indentSeq: false }); // Goose's own style
  };
  /** `codex mcp add extra`: a new table right after the memory table's last statement. */
  const tomlAfter = (text: string): string => {
    const at = text.indexOf('approval_mode = "approve"\n') + 'approval_mode = "approve"\n'.length;
    return `${text.slice(0, at)}\n[mcp_servers.extra]\ncommand = "x"\n${text.slice(at)}`;
  };
  const cases: { host: string; server: string; perturb: (text: string) => string }[] = [
    { host: "cursor", server: "memory", perturb: json(true, "remote") },
    { host: "claude-desktop", server: "memory", perturb: json(true, "remote-docs") },
    { host: "windsurf", server: "memory", perturb: json(false, "hosted") },
    { host: "continue", server: "memory", perturb: yamlList },
    { host: "goose", server: "memory", perturb: yamlMap },
    { host: "codex", server: "memory", perturb: tomlAfter },
  ];
  for (const c of cases) {
    test(`${c.host}: neighbours added, removed and moved`, async () => {
      const f = HOST_FIXTURES.find((x) => x.host === c.host && !("project" in x)) as HostFixture;
      const h = home([f]);
      const path = h.pathOf(f);
      const original = readFileSync(path, "utf8");
      const expected = c.perturb(original);
      expect(expected).not.toBe(original);
      await rewireHosts({
        ctx: h.ctx,
        stateDir: h.stateDir,
        proxy: PROXY,
        configFile: h.configFile,
        servers: [c.server],
      });
      writeFileSync(path, c.perturb(readFileSync(path, "utf8")));
      const restored = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
      expect(restored.refused).toEqual([]);
      expect(readFileSync(path, "utf8")).toBe(expected);
    });
  }
});
