/**
 * Sharing per workspace (issue: a server that depends on its project gets one child per
 * project), through the compiled daemon and real mux-proxy processes started in project
 * folders: server-filesystem with "." in two projects, a fixture that reports its cwd and the
 * roots it was given, server-memory shared across projects, symlinks, git worktrees, the
 * cap, the grace period, hostile folders, and a project deleted under its child.
 */

import { describe, expect, test } from "bun:test";
import { chownSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ListRootsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import {
  BUN,
  FAKE_SERVER,
  type Json,
  MEMORY_BIN,
  MUX_BIN,
  PROXY_BIN,
  ROOT,
  testScope,
  textOf,
  waitFor,
} from "../helpers.ts";

const scope = testScope("bin");
const FILESYSTEM_BIN = join(ROOT, "node_modules/.bin/mcp-server-filesystem");

/** `mux serve` for one service; resolves once its socket is up. */
async function serve(socket: string, flags: string[], cmd: string, args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn({
    cmd: [MUX_BIN, "serve", "--socket", socket, ...flags, "--log-level", "debug", "--cmd", cmd, "--", ...args],
    env: { ...process.env, ...env },
    stderr: "pipe",
  });
  let err = "";
  void (async () => {
    for await (const c of proc.stderr) err += new TextDecoder().decode(c);
  })();
  scope.defer(async () => {
    proc.kill();
    await proc.exited;
  });
  await waitFor(() => /listening on/.test(err) || proc.exitCode !== null, 15_000, "the daemon");
  return { proc, stderr: () => err };
}

/** An SDK client whose mux-proxy runs in `cwd` (as a host started in that folder would run it). */
async function clientIn(
  socket: string,
  cwd: string,
  options: { roots?: string[]; env?: Record<string, string>; name?: string } = {},
): Promise<Client> {
  const client = new Client(
    { name: options.name ?? "host", version: "1" },
    { capabilities: options.roots ? { roots: { listChanged: true } } : {} },
  );
  if (options.roots) {
    const roots = options.roots.map((uri) => ({ uri }));
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots }));
  }
  const transport = new StdioClientTransport({
    command: PROXY_BIN,
    args: ["--socket", socket],
    cwd,
    env: { ...(process.env as Record<string, string>), ...options.env },
    stderr: "pipe",
  });
  await client.connect(transport);
  scope.defer(() => client.close());
  return client;
}

const whoami = async (c: Client): Promise<Json> =>
  JSON.parse(textOf(await c.callTool({ name: "whoami", arguments: {} }))) as Json;

function projects(): { a: string; b: string; root: string } {
  const root = scope.dir();
  const a = join(root, "projA");
  const b = join(root, "projB");
  for (const p of [a, b]) mkdirSync(p);
  writeFileSync(join(a, "only-in-a.txt"), "a");
  writeFileSync(join(b, "only-in-b.txt"), "b");
  return { a, b, root };
}

describe("share = workspace", () => {
  test("server-filesystem with '.' in two projects: each host sees its own project; two hosts in one project share one process", async () => {
    const { a, b, root } = projects();
    const socket = join(root, "fs.sock");
    await serve(socket, ["--share", "workspace"], FILESYSTEM_BIN, ["."]);
    const inA = await clientIn(socket, a);
    const inA2 = await clientIn(socket, a);
    const inB = await clientIn(socket, b);
    const allowed = async (c: Client) => textOf(await c.callTool({ name: "list_allowed_directories", arguments: {} }));
    expect(await allowed(inA)).toContain(a);
    expect(await allowed(inA)).not.toContain(b);
    expect(await allowed(inB)).toContain(b);
    expect(await allowed(inB)).not.toContain(a);
    const listing = textOf(await inA2.callTool({ name: "list_directory", arguments: { path: a } }));
    expect(listing).toContain("only-in-a.txt");
    const denied = await inB.callTool({ name: "list_directory", arguments: { path: a } });
    expect(JSON.stringify(denied)).toMatch(/denied|outside|not allowed/i);
    const status = JSON.parse(
      Bun.spawnSync([MUX_BIN, "status", "--socket", socket, "--json"], { stdout: "pipe" }).stdout.toString(),
    ) as Json;
    const rows = status.workspaces as Json[];
    expect(rows.map((w) => w.dir).sort()).toEqual([a, b].sort());
    expect(rows.find((w) => w.dir === a)?.clients).toBe(2);
    expect(rows.find((w) => w.dir === b)?.clients).toBe(1);
    expect(new Set(rows.map((w) => w.pid)).size).toBe(2);
    const table = Bun.spawnSync([MUX_BIN, "status", "--socket", socket], { stdout: "pipe" }).stdout.toString();
    expect(table).toContain(`@ ${a}: ready`);
  }, 60_000);

  test("the child runs in the workspace and its roots/list is answered from that workspace's clients only", async () => {
    const { a, b, root } = projects();
    const socket = join(root, "f.sock");
    await serve(socket, ["--share", "workspace"], BUN, [FAKE_SERVER]);
    const inA = await clientIn(socket, a, { roots: [`file://${a}`] });
    const inB = await clientIn(socket, b, { roots: [`file://${b}`] });
    const wa = await whoami(inA);
    const wb = await whoami(inB);
    expect(wa.cwd).toBe(a);
    expect(wb.cwd).toBe(b);
    expect(wa.pid).not.toBe(wb.pid);
    const rootsA = textOf(await inA.callTool({ name: "roots", arguments: {} }));
    expect(rootsA).toContain(`file://${a}`);
    expect(rootsA).not.toContain(`file://${b}`);
  });

  test("a user-scope entry started from two project folders gets two children; a symlinked spelling shares the real folder's", async () => {
    const { a, b, root } = projects();
    const link = join(root, "link-to-a");
    symlinkSync(a, link);
    const socket = join(root, "u.sock");
    await serve(socket, ["--share", "workspace"], BUN, [FAKE_SERVER]);
    const pa = (await whoami(await clientIn(socket, a))).pid;
    const pb = (await whoami(await clientIn(socket, b))).pid;
    const viaLink = await whoami(await clientIn(socket, link));
    expect(pa).not.toBe(pb);
    expect(viaLink.pid).toBe(pa);
    expect(viaLink.cwd).toBe(a);
  });

  test("git worktrees: one child each by default; with workspace_key = git-root a subfolder shares its repository's", async () => {
    const root = scope.dir();
    const repo = join(root, "repo");
    mkdirSync(join(repo, "pkg", "sub"), { recursive: true });
    const git = (args: string[], cwd: string) =>
      Bun.spawnSync(["git", "-c", "user.email=t@t", "-c", "user.name=t", ...args], { cwd, stderr: "pipe" });
    git(["init", "-q"], repo);
    writeFileSync(join(repo, "f"), "x");
    git(["add", "."], repo);
    git(["commit", "-qm", "x"], repo);
    const wt = join(root, "wt");
    expect(git(["worktree", "add", "-q", wt], repo).exitCode).toBe(0);
    const s1 = join(root, "p.sock");
    await serve(s1, ["--share", "workspace"], BUN, [FAKE_SERVER]);
    const inRepo = await whoami(await clientIn(s1, repo));
    const inWt = await whoami(await clientIn(s1, wt));
    const inSub = await whoami(await clientIn(s1, join(repo, "pkg", "sub")));
    expect(new Set([inRepo.pid, inWt.pid, inSub.pid]).size).toBe(3);
    const s2 = join(root, "g.sock");
    await serve(s2, ["--share", "workspace", "--workspace-key", "git-root"], BUN, [FAKE_SERVER]);
    const gRepo = await whoami(await clientIn(s2, repo));
    const gSub = await whoami(await clientIn(s2, join(repo, "pkg", "sub")));
    const gWt = await whoami(await clientIn(s2, wt));
    expect(gSub.pid).toBe(gRepo.pid);
    expect(gSub.cwd).toBe(repo);
    expect(gWt.pid).not.toBe(gRepo.pid); // a linked worktree is its own checkout
    expect(gWt.cwd).toBe(wt);
  });

  test("HOME or / is no workspace: CLAUDE_PROJECT_DIR is used, else a private empty folder (never HOME)", async () => {
    const { a, root } = projects();
    const home = join(root, "home");
    mkdirSync(home);
    const socket = join(root, "h.sock");
    await serve(socket, ["--share", "workspace"], BUN, [FAKE_SERVER], { HOME: home });
    const viaEnv = await whoami(await clientIn(socket, home, { env: { HOME: home, CLAUDE_PROJECT_DIR: a } }));
    expect(viaEnv.cwd).toBe(a);
    const none = await whoami(await clientIn(socket, "/", { env: { HOME: home } }));
    expect(none.cwd).not.toBe("/");
    expect(none.cwd).not.toBe(home);
    expect(String(none.cwd)).toContain("mux-no-workspace-");
    const none2 = await whoami(await clientIn(socket, home, { env: { HOME: home } }));
    expect(none2.pid).toBe(none.pid);
  });

  test("server-memory (share = global) is one process for both projects", async () => {
    const { a, b, root } = projects();
    const socket = join(root, "m.sock");
    await serve(socket, ["--share", "global"], MEMORY_BIN, [], { MEMORY_FILE_PATH: join(root, "memory.jsonl") });
    const inA = await clientIn(socket, a);
    const inB = await clientIn(socket, b);
    await inA.callTool({
      name: "create_entities",
      arguments: { entities: [{ name: "shared-fact", entityType: "test", observations: ["from A"] }] },
    });
    const graph = textOf(await inB.callTool({ name: "read_graph", arguments: {} }));
    expect(graph).toContain("shared-fact");
    const status = JSON.parse(
      Bun.spawnSync([MUX_BIN, "status", "--socket", socket, "--json"], { stdout: "pipe" }).stdout.toString(),
    ) as Json;
    expect(status.childPids as number[]).toHaveLength(1);
    expect(status.workspaces).toEqual([]);
  });

  test("max_workspaces: a third project gets -32038 with the reason; after the grace period a freed slot serves it", async () => {
    const root = scope.dir();
    const dirs = ["p1", "p2", "p3"].map((n) => join(root, n));
    for (const d of dirs) mkdirSync(d);
    const socket = join(root, "c.sock");
    const t = await serve(
      socket,
      ["--share", "workspace", "--max-workspaces", "2", "--workspace-grace-ms", "300"],
      BUN,
      [FAKE_SERVER],
    );
    const c1 = await clientIn(socket, dirs[0] as string);
    await clientIn(socket, dirs[1] as string);
    const refused = await clientIn(socket, dirs[2] as string).then(
      () => "connected",
      (e: Error) => e.message,
    );
    expect(refused).toContain("max_workspaces = 2");
    const pid1 = (await whoami(c1)).pid as number;
    await c1.close();
    await waitFor(() => t.stderr().includes(`stopping the child in ${dirs[0]}`), 10_000, "the grace period to end");
    const gone = () => {
      try {
        process.kill(pid1, 0);
        return false;
      } catch {
        return true;
      }
    };
    await waitFor(gone, 10_000, "the stopped child to exit");
    const third = await whoami(await clientIn(socket, dirs[2] as string));
    expect(third.cwd).toBe(dirs[2]);
  });

  test("hostile folders get a clear error for that client only; the others carry on", async () => {
    const { a, root } = projects();
    const socket = join(root, "x.sock");
    await serve(socket, ["--share", "workspace"], BUN, [FAKE_SERVER]);
    const good = await clientIn(socket, a);
    const file = join(root, "a-file");
    writeFileSync(file, "x");
    const theirs = join(root, "theirs");
    mkdirSync(theirs);
    chownSync(theirs, 65534, 65534);
    const cases: [string, string][] = [
      [join(root, "missing"), "does not exist"],
      [file, "is not a directory"],
      [theirs, "belongs to another user"],
      [`${a}/\u0007bell`, "contains control characters"],
      [`/${"x".repeat(5000)}`, "is longer than 4096"],
      ["relative/dir", "is not an absolute path"],
    ];
    for (const [cwd, why] of cases) {
      const raw = await scope.raw(socket);
      raw.send({ jsonrpc: "2.0", method: "mcp-mux/hello", params: { workspace: { cwd } } });
      raw.request("i", "initialize", {
        protocolVersion: "2025-11-25",
        capabilities: {},
        clientInfo: { name: "x", version: "1" },
      });
      const answer = await raw.response("i");
      expect({ cwd: cwd.slice(0, 40), message: String((answer.error as Json | undefined)?.message) }).toMatchObject({
        message: expect.stringContaining(why),
      });
      expect((answer.error as Json).code).toBe(-32039);
    }
    expect((await whoami(good)).cwd).toBe(a);
  });

  test("a project deleted while its child runs: that child's clients get errors, the other project carries on", async () => {
    const { a, b, root } = projects();
    const socket = join(root, "d.sock");
    await serve(socket, ["--share", "workspace", "--restart-backoff-ms", "50", "--max-restarts", "2"], BUN, [
      FAKE_SERVER,
    ]);
    const inA = await clientIn(socket, a);
    const inB = await clientIn(socket, b);
    await whoami(inA);
    rmSync(a, { recursive: true, force: true });
    await inA.callTool({ name: "crash", arguments: {} }).catch(() => undefined);
    const after = await inA.callTool({ name: "whoami", arguments: {} }).then(
      (r) => JSON.stringify(r),
      (e: Error) => e.message,
    );
    expect(after).toMatch(/failed|exited|cannot|no such|ENOENT/i);
    expect((await whoami(inB)).cwd).toBe(b);
  }, 60_000);

  test("an HTTP entry names its workspace with ?workspace=; a bad one is refused for that session only", async () => {
    const { a, b, root } = projects();
    const socket = join(root, "w.sock");
    const t = await serve(socket, ["--share", "workspace", "--http", "127.0.0.1:0", "--http-no-auth"], BUN, [
      FAKE_SERVER,
    ]);
    await waitFor(() => /Streamable HTTP: (\S+)/.test(t.stderr()), 10_000, "the HTTP front");
    const url = /Streamable HTTP: (\S+)/.exec(t.stderr())?.[1] as string;
    const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
    const http = new Client({ name: "url-host", version: "1" });
    await http.connect(new StreamableHTTPClientTransport(new URL(`${url}?workspace=${encodeURIComponent(b)}`)));
    scope.defer(() => http.close());
    expect((await whoami(http)).cwd).toBe(b);
    const bad = new Client({ name: "bad", version: "1" });
    const refused = await bad
      .connect(new StreamableHTTPClientTransport(new URL(`${url}?workspace=${encodeURIComponent(join(root, "nope"))}`)))
      .then(
        () => "connected",
        (e: Error) => e.message,
      );
    expect(refused).toContain("does not exist");
    expect((await whoami(await clientIn(socket, a))).cwd).toBe(a);
  });
});
