/**
 * Field fixes of issue 21/20 on real host files in temporary homes: Codex URL entries in each
 * of Codex's shapes, nothing left in the mux config for an entry that was not written, switching
 * transports, compact one-line JSON, and the HTTP token kept from other users' eyes.
 */

import { afterAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { renderScan } from "../../src/cli/hosts.ts";
import { loadConfig } from "../../src/config/load.ts";
import { defaultTokenFile } from "../../src/config/paths.ts";
import { restoreHosts, rewireHosts, rewireStatus } from "../../src/hosts/rewire.ts";
import { scanHosts } from "../../src/hosts/scan.ts";
import { readState } from "../../src/hosts/state.ts";
import { describeRewire } from "../../src/hosts/wizard.ts";
import { FIXTURE_DIR, fixtureHome, HOST_FIXTURES, type HostFixture, PROXY } from "./fixtures.ts";

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

function home(fixtures: readonly HostFixture[] = []) {
  const h = fixtureHome(fixtures);
  homes.push(h.home);
  return { ...h, opts: { ctx: h.ctx, stateDir: h.stateDir, proxy: PROXY, configFile: h.configFile } };
}

/** Write `text` as a host file under the home (folders made). */
function put(path: string, text: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

const services = (configFile: string) => {
  try {
    return Object.keys(loadConfig(configFile).services).sort();
  } catch {
    return [];
  }
};

// Codex's three ways of writing a server (and a table with sub-tables, and dotted keys under
// the `[mcp_servers]` table); each must become a URL entry with the token header.
const CODEX_SHAPES: Record<string, { text: string; names: string[] }> = {
  "tables and inline tables": {
    names: ["memory", "time", "fetch"],
    text: `model = "o3"

[mcp_servers.memory]
command = "npx" # launcher
args = ["-y", "@modelcontextprotocol/server-memory"]
startup_timeout_sec = 20

[mcp_servers.memory.env]
MEMORY_FILE_PATH = "/home/u/memory.jsonl"

[mcp_servers.memory.tools.read_graph]
approval_mode = "approve"

[mcp_servers.time]
command = "mcp-server-time"

[mcp_servers]
fetch = { command = "uvx", args = ["mcp-server-fetch"], enabled = false }

[profiles.fast]
model = "o4-mini"
`,
  },
  "dotted keys at the root": {
    names: ["git", "time"],
    text: `model = "o3"
mcp_servers.git.command = "uvx"
mcp_servers.git.args = ["mcp-server-git"]
mcp_servers.git.tool_timeout_sec = 30
mcp_servers.time.command = "mcp-server-time"

[profiles.default]
model = "o3"
`,
  },
  "dotted keys in the mcp_servers table": {
    names: ["git"],
    text: `[mcp_servers]
git.command = "uvx"
git.args = ["mcp-server-git"]
git.enabled = true
`,
  },
};

for (const [shape, { text, names }] of Object.entries(CODEX_SHAPES))
  test(`Codex ${shape}: URL entries with the token header, read back as written, restored byte for byte`, async () => {
    const h = home();
    const path = put(join(h.home, ".codex", "config.toml"), text);
    // git is per workspace by default, and a user entry has no project to put in a URL: global here.
    const result = await rewireHosts({ ...h.opts, transport: "http", share: "global" });
    expect(result.skipped).toEqual([]);
    expect(result.changes[0]?.entries.map((e) => e.name).sort()).toEqual([...names].sort());
    const token = readFileSync(defaultTokenFile(h.ctx.env), "utf8").trim();
    const data = parseToml(readFileSync(path, "utf8")) as { mcp_servers: Record<string, Record<string, unknown>> };
    for (const e of result.changes[0]?.entries ?? []) {
      const entry = data.mcp_servers[e.name] as Record<string, unknown>;
      expect(entry.url).toBe(`${result.httpBase}/${e.service}`);
      expect(e.url).toBe(entry.url as string);
      expect(entry.http_headers).toEqual({ Authorization: `Bearer ${token}` });
      for (const k of ["command", "args", "env"]) expect(k in entry).toBe(false);
    }
    // Policy keys and sub-tables that are not launch keys stay.
    if (names.includes("memory")) {
      expect(data.mcp_servers.memory?.startup_timeout_sec).toBe(20);
      expect(data.mcp_servers.memory?.tools).toEqual({ read_graph: { approval_mode: "approve" } });
      expect(data.mcp_servers.fetch?.enabled).toBe(false);
    }
    expect(services(h.configFile)).toEqual(
      [...new Set(result.changes[0]?.entries.map((e) => e.service as string))].sort(),
    );
    // Restore: the original bytes, and the services the rewire added are gone.
    const restored = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
    expect(restored.refused).toEqual([]);
    expect(readFileSync(path, "utf8")).toBe(text);
    expect(services(h.configFile)).toEqual([]);
  });

test("an entry that was not written leaves neither its service nor the HTTP front in the mux config", async () => {
  const f = HOST_FIXTURES.find((x) => x.host === "cursor") as HostFixture;
  for (const transport of ["stdio", "http"] as const) {
    const h = home([f]);
    const path = h.pathOf(f);
    const original = readFileSync(path, "utf8");
    // The host writes its file at the worst moment, every time: nothing can be written.
    const host = (p: string) => Bun.spawnSync(["sh", "-c", 'printf " " >> "$1"', "sh", p]);
    const result = await rewireHosts({ ...h.opts, transport, beforeReplace: host });
    expect(result.changes).toEqual([]);
    expect(result.skipped.map((s) => s.reason).join()).toContain("kept changing");
    expect(result.config.added).toEqual([]);
    expect(result.httpBase).toBeUndefined();
    // The host's writes are all there; our edit is not.
    expect(readFileSync(path, "utf8")).toBe(`${original}   `);
    // The mux config this run would have created is not there at all.
    expect(existsSync(h.configFile)).toBe(false);
    expect(readState(h.stateDir).records).toEqual([]);
  }
  // A config that was there keeps its exact bytes, in each format.
  for (const [ext, text] of [
    ["json", '{\n  "idle_exit_ms": 60000,\n  "servers": {}\n}\n'],
    ["yaml", "# mine\nidle_exit_ms: 60000\n"],
    ["toml", "# mine\nidle_exit_ms = 60000\n"],
  ] as const) {
    const h = home([f]);
    const configFile = put(join(h.home, `mux.${ext}`), text);
    const host = (p: string) => Bun.spawnSync(["sh", "-c", 'printf " " >> "$1"', "sh", p]);
    const result = await rewireHosts({ ...h.opts, configFile, transport: "http", beforeReplace: host });
    expect(result.changes).toEqual([]);
    expect(readFileSync(configFile, "utf8")).toBe(text);
  }
});

test("a host writing once during the rewire: the retry writes, and the host's change is kept", async () => {
  const f = HOST_FIXTURES.find((x) => x.host === "cursor") as HostFixture;
  const h = home([f]);
  const path = h.pathOf(f);
  let writes = 0;
  const host = (p: string) => {
    if (writes++ === 0) Bun.spawnSync(["sh", "-c", 'printf "\\n" >> "$1"', "sh", p]);
  };
  const result = await rewireHosts({ ...h.opts, beforeReplace: host });
  expect(writes).toBe(2);
  expect(result.changes).toHaveLength(1);
  expect(readFileSync(path, "utf8")).toEndWith("}\n\n");
  expect(readFileSync(path, "utf8")).toContain(PROXY);
  await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
  expect(readFileSync(path, "utf8")).toBe(`${readFileSync(join(FIXTURE_DIR, f.fixture), "utf8")}\n`);
});

test("rewire --transport http switches stdio-rewired entries to URL entries (and back); restore gives the original", async () => {
  const f = HOST_FIXTURES.find((x) => x.host === "cursor") as HostFixture;
  const base = home([f]);
  // User entries of per-workspace services keep mux-proxy (see share.test.ts): these two are global.
  const h = { ...base, opts: { ...base.opts, servers: ["memory", "gh"], share: "global" as const } };
  const path = h.pathOf(f);
  const original = readFileSync(path, "utf8");
  const stdio = await rewireHosts(h.opts);
  expect(stdio.changes[0]?.entries.length).toBe(2);
  const toHttp = await rewireHosts({ ...h.opts, transport: "http" });
  expect(toHttp.unchanged).toEqual([]);
  const switched = toHttp.changes[0]?.entries ?? [];
  expect(switched.map((e) => [e.name, e.switched])).toEqual([
    ["memory", true],
    ["gh", true],
  ]);
  // The CLI line shows the URL, not the socket.
  const text = describeRewire(toHttp, false);
  expect(text).toContain(`switched cursor memory → URL ${toHttp.httpBase}/memory`);
  expect(text).not.toContain(".sock");
  const entries = JSON.parse(readFileSync(path, "utf8")).mcpServers;
  expect(entries.memory.url).toBe(`${toHttp.httpBase}/memory`);
  expect(entries.memory.command).toBeUndefined();
  const rows = rewireStatus({ ctx: h.ctx, stateDir: h.stateDir });
  expect(rows.map((r) => [r.state, r.url])).toEqual([
    ["rewired", `${toHttp.httpBase}/memory`],
    ["rewired", `${toHttp.httpBase}/gh`],
  ]);
  // scan shows the URL of a URL entry, not a socket.
  const scanned = renderScan(scanHosts({ ctx: h.ctx, stateDir: h.stateDir }));
  expect(scanned).toContain(`[rewired → URL ${toHttp.httpBase}/memory]`);
  // Asked again: unchanged, saying what it is.
  const again = await rewireHosts({ ...h.opts, transport: "http" });
  expect(again.changes).toEqual([]);
  expect(again.unchanged.map((u) => u.reason)).toEqual([
    "already a URL entry for the mux",
    "already a URL entry for the mux",
  ]);
  // And back to mux-proxy.
  const back = await rewireHosts({ ...h.opts, transport: "stdio" });
  expect(back.changes[0]?.entries.map((e) => [e.name, e.switched])).toEqual([
    ["memory", true],
    ["gh", true],
  ]);
  expect(JSON.parse(readFileSync(path, "utf8")).mcpServers.memory.command).toBe(PROXY);
  await rewireHosts({ ...h.opts, transport: "http" });
  const restored = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
  expect(restored.refused).toEqual([]);
  expect(readFileSync(path, "utf8")).toBe(original);
  expect(services(h.configFile)).toEqual([]);
});

test("a compact one-line JSON entry without args is rewired (stdio and URL) and restored byte for byte", async () => {
  const text = '{"mcpServers":{"mem":{"command":"mcp-server-memory"},"x":{"command":"npx","args":["-y","pkg-mcp"]}}}';
  for (const transport of ["stdio", "http"] as const) {
    const h = home();
    const path = put(join(h.home, ".cursor", "mcp.json"), text);
    const result = await rewireHosts({ ...h.opts, transport });
    expect(result.skipped).toEqual([]);
    expect(result.changes[0]?.entries.map((e) => e.name)).toEqual(["mem", "x"]);
    const rewired = readFileSync(path, "utf8");
    expect(rewired).not.toContain("\n");
    const mem = JSON.parse(rewired).mcpServers.mem;
    if (transport === "stdio")
      expect(mem).toMatchObject({ command: PROXY, args: ["--socket", expect.any(String), "--config", h.configFile] });
    else expect(mem.url).toBe(`${result.httpBase}/mem`);
    await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
    expect(readFileSync(path, "utf8")).toBe(text);
  }
});

test("Gemini settings.json at 0644: after a URL rewire only its user can read the token; restore gives the bytes and mode back", async () => {
  const f = HOST_FIXTURES.find((x) => x.host === "gemini") as HostFixture;
  const h = home([f]);
  const path = h.pathOf(f);
  chmodSync(path, 0o644);
  const original = readFileSync(path, "utf8");
  // A stdio rewire writes no token: the mode stays.
  await rewireHosts(h.opts);
  expect(statSync(path).mode & 0o777).toBe(0o644);
  await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
  const result = await rewireHosts({ ...h.opts, transport: "http" });
  expect(statSync(path).mode & 0o777).toBe(0o600);
  expect(result.warnings.join("\n")).toContain(`${path} was readable by others (mode 644); now 0600`);
  const tokenFile = defaultTokenFile(h.ctx.env);
  expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
  const token = readFileSync(tokenFile, "utf8").trim();
  const rewired = readFileSync(path, "utf8");
  // The token is in the header of each URL entry and nowhere else; never in the diff.
  const entries = Object.values(JSON.parse(rewired.replace(/^\s*\/\/.*$/gm, "")).mcpServers) as Record<
    string,
    unknown
  >[];
  const withUrl = entries.filter((e) => e.url !== undefined);
  expect(withUrl.length).toBeGreaterThan(0);
  for (const e of withUrl) expect(e.headers).toEqual({ Authorization: `Bearer ${token}` });
  expect(rewired.split(token).length - 1).toBe(withUrl.length);
  expect(result.changes[0]?.diff).not.toContain(token);
  expect(result.changes[0]?.diff).toContain("Bearer <token>");
  const restored = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
  expect(restored.refused).toEqual([]);
  expect(readFileSync(path, "utf8")).toBe(original);
  expect(statSync(path).mode & 0o777).toBe(0o644);
});

test('http.auth = "none" in the mux config: URL entries carry no token', async () => {
  const f = HOST_FIXTURES.find((x) => x.host === "gemini") as HostFixture;
  const h = home([f]);
  put(h.configFile, 'http:\n  listen: "127.0.0.1:4100"\n  auth: none\n');
  chmodSync(h.pathOf(f), 0o644);
  const result = await rewireHosts({ ...h.opts, transport: "http" });
  expect(result.httpBase).toBe("http://127.0.0.1:4100/mcp");
  expect(readFileSync(h.pathOf(f), "utf8")).not.toContain("Authorization");
  expect(statSync(h.pathOf(f)).mode & 0o777).toBe(0o644);
});
