/** The wizard flow with scripted prompts: every step and every summary action. */

import { afterAll, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { loadConfig } from "../../src/config/load.ts";
import { restoreHosts, rewireStatus } from "../../src/hosts/rewire.ts";
import { runWizard, type WizardChoice, type WizardPrompts } from "../../src/hosts/wizard.ts";
import { fixtureHome, HOST_FIXTURES, type HostFixture, PROXY } from "./fixtures.ts";

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const pick = (...hosts: string[]) => HOST_FIXTURES.filter((f) => hosts.includes(f.host) && !("project" in f));

/** Prompts answered from a script; every question and its choices are recorded. */
function scripted(answers: ((choices: WizardChoice[]) => string | string[])[]) {
  const asked: { message: string; choices: WizardChoice[] }[] = [];
  const next = (o: { message: string; choices: WizardChoice[] }) => {
    asked.push(o);
    const answer = answers.shift();
    if (!answer) throw new Error(`unexpected prompt: ${o.message}`);
    return answer(o.choices);
  };
  const prompts: WizardPrompts = {
    checkbox: async (o) => next(o) as string[],
    select: async (o) => next(o) as string,
  };
  return { prompts, asked };
}

const checked = (choices: WizardChoice[]) => choices.filter((c) => c.checked).map((c) => c.value);

function setup(fixtures: readonly HostFixture[]) {
  const h = fixtureHome(fixtures);
  homes.push(h.home);
  const printed: string[] = [];
  const base = {
    ctx: h.ctx,
    proxy: PROXY,
    stateDir: h.stateDir,
    configFile: h.configFile,
    print: (t: string) => printed.push(t),
    processes: () => [
      { pid: 4242, argv: ["node", "/home/u/.npm/_npx/1/node_modules/.bin/mcp-server-memory"] },
      { pid: 4343, argv: ["uvx", "mcp-server-git", "--repository", "/home/u/repo"] },
    ],
    health: async () => undefined,
  };
  return { h, printed, base };
}

test("Save all: servers from hosts (defaults), hosts with their state, then config and rewires are written", async () => {
  const { h, printed, base } = setup(pick("claude-desktop", "cursor"));
  const { prompts, asked } = scripted([checked, checked, () => "save"]);
  expect(await runWizard({ ...base, prompts })).toBe("saved");
  // Step 1 lists host servers with where they are and running copies, and the orphan process.
  const step1 = asked[0]?.choices.map((c) => c.name).join("\n") ?? "";
  expect(asked[0]?.message).toContain("Step 1/3");
  expect(step1).toContain("memory  npx -y @modelcontextprotocol/server-memory  [claude-desktop, cursor]");
  expect(step1).toContain("[running: 1 process]");
  // Each server's share policy and why (issue 22).
  expect(step1).toContain("share: global (server-memory keeps one graph: known global)");
  expect(step1).toContain(`share: workspace (args use \${workspaceFolder})`);
  expect(printed.join("\n")).toContain("    share: workspace (unknown server: per project to be safe)");
  expect(step1).toContain("mcp-server-git --repository /home/u/repo  [running, pid 4343; no host config]");
  expect(asked[0]?.choices.find((c) => c.name.includes("pid 4343"))?.checked).toBeFalsy();
  expect(asked[1]?.choices.map((c) => c.name)).toEqual([
    "Claude Desktop: 2 to rewire, 0 already rewired",
    "Cursor: 3 to rewire, 0 already rewired",
  ]);
  expect(asked[2]?.choices.map((c) => c.value)).toEqual(["save", "config", "copy", "back", "exit"]);
  expect(printed.join("\n")).toContain("Host entries to rewire:");
  const rows = rewireStatus({ ctx: h.ctx, stateDir: h.stateDir });
  expect(rows.map((r) => `${r.host}/${r.name}`).sort()).toEqual([
    "claude-desktop/memory",
    "claude-desktop/time",
    "cursor/files",
    "cursor/gh",
    "cursor/memory",
  ]);
  expect(Object.keys(loadConfig(h.configFile).services).sort()).toEqual(["files", "gh", "memory", "time"]);
  // Run again: rewired servers are listed but not pre-selected; hosts show them as rewired.
  const all = (c: WizardChoice[]) => c.map((x) => x.value);
  const again = scripted([all, all, () => "exit"]);
  expect(await runWizard({ ...base, prompts: again.prompts })).toBe("exit");
  expect(checked(again.asked[0]?.choices ?? [])).toEqual([]);
  expect(again.asked[1]?.choices.map((c) => c.name)).toEqual([
    "Claude Desktop: 0 to rewire, 2 already rewired",
    "Cursor: 0 to rewire, 3 already rewired",
  ]);
});

test("Back returns to the host step; Mux config only leaves host files alone", async () => {
  const { h, base } = setup(pick("claude-desktop"));
  const file = h.pathOf(pick("claude-desktop")[0] as HostFixture);
  const before = readFileSync(file, "utf8");
  const { prompts, asked } = scripted([
    (c) => c.filter((x) => x.name.startsWith("memory")).map((x) => x.value),
    checked,
    () => "back",
    () => [],
    () => "config",
  ]);
  expect(await runWizard({ ...base, prompts })).toBe("config-only");
  expect(asked.map((a) => a.message.slice(0, 9))).toEqual([
    "Step 1/3:",
    "Step 2/3:",
    "Step 3/3:",
    "Step 2/3:",
    "Step 3/3:",
  ]);
  expect(readFileSync(file, "utf8")).toBe(before);
  expect(Object.keys(loadConfig(h.configFile).services)).toEqual(["memory"]);
});

test("Copy to clipboard hands over the config text; with no clipboard tool it prints it", async () => {
  const { h, printed, base } = setup(pick("cursor"));
  let copied = "";
  const copy = scripted([checked, checked, () => "copy"]);
  const outcome = await runWizard({
    ...base,
    prompts: copy.prompts,
    clipboard: async (text) => {
      copied = text;
      return "wl-copy";
    },
  });
  expect(outcome).toBe("copied");
  expect(copied).toContain("servers:");
  expect(copied).toContain("@modelcontextprotocol/server-memory");
  expect(printed.join("\n")).toContain("with wl-copy");
  const none = scripted([checked, checked, () => "copy"]);
  await runWizard({ ...base, prompts: none.prompts, clipboard: async () => undefined });
  expect(printed.join("\n")).toContain("No clipboard tool found; here it is:\nservers:");
  expect(existsSync(h.configFile)).toBe(false);
});

test("--dry-run: Save all prints the diffs and writes nothing; an empty selection is asked again", async () => {
  const { h, printed, base } = setup(pick("codex"));
  const file = h.pathOf(pick("codex")[0] as HostFixture);
  const before = readFileSync(file, "utf8");
  const { prompts, asked } = scripted([() => [], checked, checked, () => "save"]);
  expect(await runWizard({ ...base, prompts, dryRun: true })).toBe("saved");
  expect(asked[1]?.message).toContain("Step 1/3");
  expect(printed.join("\n")).toContain("Select at least one server");
  expect(printed.join("\n")).toContain(`+++ ${file}`);
  expect(printed.join("\n")).toContain(`+++ ${h.configFile}`);
  expect(readFileSync(file, "utf8")).toBe(before);
  expect(existsSync(h.configFile)).toBe(false);
  expect(existsSync(h.stateDir)).toBe(false);
});

test("nothing found: says so", async () => {
  const { printed, base } = setup([]);
  const { prompts } = scripted([]);
  expect(await runWizard({ ...base, prompts, processes: () => [] })).toBe("nothing");
  expect(printed[0]).toContain("No MCP servers found");
});

test("step 1 shows the health of a mux already serving a server", async () => {
  const { base } = setup(pick("cursor"));
  const { prompts, asked } = scripted([checked, () => [], () => "exit"]);
  const health = async (socket: string) =>
    socket.includes("s-2a0bd3f6") ? true : socket.includes("s-7e822ad9") ? false : undefined;
  await runWizard({ ...base, prompts, health });
  const names = asked[0]?.choices.map((c) => c.name) ?? [];
  expect(names.find((n) => n.startsWith("memory"))).toContain("[mux: healthy]");
  expect(names.find((n) => n.startsWith("gh"))).toContain("[mux: not answering]");
});

test("asked, the wizard writes URL entries for hosts that take them and offers the login service", async () => {
  const { h, printed, base } = setup(pick("claude-desktop", "cursor"));
  const { prompts, asked } = scripted([checked, checked, () => "http", () => "save"]);
  const offered: string[] = [];
  const outcome = await runWizard({
    ...base,
    prompts,
    transport: "ask",
    onHttp: async (config) => {
      offered.push(config);
    },
  });
  expect(outcome).toBe("saved");
  expect(asked[2]?.message).toContain("How should these hosts reach the shared servers?");
  expect(offered).toEqual([h.configFile]);
  const cursor = JSON.parse(readFileSync(h.pathOf(pick("cursor")[0] as HostFixture), "utf8")).mcpServers;
  expect(Object.values(cursor).some((e) => typeof (e as { url?: string }).url === "string")).toBe(true);
  expect(printed.join("\n")).toContain("mux service install");
});

test("restore after the wizard takes the wizard's services out of the mux config again (stdio and URL)", async () => {
  for (const transport of ["stdio", "http"] as const) {
    const { h, base } = setup(pick("claude-desktop", "cursor"));
    const originals = pick("claude-desktop", "cursor").map((f) => readFileSync(h.pathOf(f), "utf8"));
    const { prompts } = scripted([checked, checked, () => transport, () => "save"]);
    expect(await runWizard({ ...base, prompts, transport: "ask", onHttp: async () => {} })).toBe("saved");
    expect(Object.keys(loadConfig(h.configFile).services).sort()).toEqual(["files", "gh", "memory", "time"]);
    const restored = await restoreHosts({ ctx: h.ctx, stateDir: h.stateDir });
    expect(restored.refused).toEqual([]);
    expect(restored.removedServices.flatMap((r) => r.services).sort()).toEqual(["files", "gh", "memory", "time"]);
    expect(Object.keys(loadConfig(h.configFile).services)).toEqual([]);
    expect(pick("claude-desktop", "cursor").map((f) => readFileSync(h.pathOf(f), "utf8"))).toEqual(originals);
  }
});
