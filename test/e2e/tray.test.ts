/**
 * `mux serve --tray` for real: the compiled daemon under Xvfb with a real tray host (trayer),
 * its icon found and clicked with xdotool, the menu's live update and "Quit mux" checked on
 * screenshots; and every way the helper can fail (no display, a wrong one, an unusable cache
 * folder, the helper killed, the daemon killed) ends in one warning and a daemon that serves.
 * The desktop packages are installed with apt-get when missing (CI runs as root); without
 * them the desktop tests are skipped with the reason printed.
 */

import { describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { fakeServer, MUX_BIN, ROOT, testScope, textOf, waitFor } from "../helpers.ts";

const scope = testScope("bin");
const HELPER = join(ROOT, "node_modules/systray2/traybin/tray_linux_release");
const PACKAGES = [
  "xvfb",
  "xdotool",
  "imagemagick",
  "x11-utils",
  "trayer",
  "libayatana-appindicator3-1",
  "libgtk-3-0",
  "dbus",
];
const TOOLS = ["Xvfb", "xdotool", "import", "compare", "convert", "trayer", "dbus-daemon", "xwininfo"];

const desktop = await prepareDesktop();
if (desktop) console.log(`tray desktop tests skipped: ${desktop}`);

/** Start the daemon with a tray; its stderr is collected. */
function serveWithTray(env: Record<string, string | undefined>, extra: string[] = []) {
  const d = scope.dir();
  const socket = join(d, "t.sock");
  const fake = fakeServer(d);
  const proc = Bun.spawn({
    cmd: [MUX_BIN, "serve", "--tray", "--socket", socket, "--cmd", fake.cmd, ...extra, "--", ...(fake.args ?? [])],
    env: { ...baseEnv(), XDG_CACHE_HOME: join(d, "cache"), ...fake.env, ...env },
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
  });
  let stderr = "";
  void (async () => {
    for await (const chunk of proc.stderr) stderr += new TextDecoder().decode(chunk);
  })();
  scope.defer(async () => {
    if (proc.exitCode === null) proc.kill("SIGKILL");
    await proc.exited;
  });
  return { proc, socket, d, stderr: () => stderr };
}

/** A client that initializes and calls echo: the daemon serves. */
async function serves(socket: string): Promise<void> {
  await waitFor(() => existsSync(socket), 10_000, "the socket");
  const c = await scope.raw(socket);
  await c.handshake();
  c.request("e", "tools/call", { name: "echo", arguments: { tray: "no matter" } });
  expect(textOf((await c.response("e")).result)).toContain("no matter");
}

/** How many of our tray warnings (the helper's own "(mux-tray:123)" prefixes are not ours). */
const count = (text: string, _part: "tray:") => text.match(/(?<![\w-])tray: /g)?.length ?? 0;

describe("tray without a desktop", () => {
  test("no display: one warning, and the daemon serves (also with tray = true in a config)", async () => {
    const t = serveWithTray({ DISPLAY: undefined, WAYLAND_DISPLAY: undefined });
    await serves(t.socket);
    await waitFor(() => t.stderr().includes("tray:"), 5000, "the warning");
    expect(t.stderr()).toContain(
      "tray: no display (DISPLAY and WAYLAND_DISPLAY are unset); serving without the status icon",
    );
    expect(count(t.stderr(), "tray:")).toBe(1);
    expect(existsSync(join(t.d, "cache", "mcp-mux", "tray"))).toBe(false); // nothing extracted

    const d = scope.dir();
    const fake = fakeServer(d);
    const config = join(d, "mux.yaml");
    writeFileSync(
      config,
      `tray: true\nservers:\n  a:\n    socket: ${join(d, "a.sock")}\n    cmd: ${fake.cmd}\n    args: [${fake.args?.[0]}]\n`,
    );
    const proc = Bun.spawn({
      cmd: [MUX_BIN, "serve", "--config", config],
      env: { ...baseEnv(), DISPLAY: undefined, WAYLAND_DISPLAY: undefined },
      stderr: "pipe",
    });
    scope.defer(async () => {
      proc.kill("SIGTERM");
      await proc.exited;
    });
    await serves(join(d, "a.sock"));
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(await new Response(proc.stderr).text()).toContain("tray: no display");
  });

  test("an unusable cache folder or a display that does not exist: one warning, and the daemon serves", async () => {
    const d = scope.dir();
    writeFileSync(join(d, "not-a-folder"), "");
    const cache = serveWithTray({ DISPLAY: ":0", XDG_CACHE_HOME: join(d, "not-a-folder") });
    await serves(cache.socket);
    await waitFor(() => cache.stderr().includes("tray:"), 5000, "the warning");
    expect(cache.stderr()).toContain("tray: cannot use the cache folder");
    expect(count(cache.stderr(), "tray:")).toBe(1);

    const wrong = serveWithTray({ DISPLAY: ":987" });
    await serves(wrong.socket);
    await waitFor(() => wrong.stderr().includes("tray:"), 10_000, "the warning");
    // Missing libraries or no X server at :987: either way the helper's own words are quoted.
    expect(wrong.stderr()).toMatch(/tray: the icon helper exited with code \d+: .+; serving without the status icon/);
    expect(count(wrong.stderr(), "tray:")).toBe(1);
    await serves(wrong.socket);
    // The copy written for that start (a fresh private folder) is gone once the helper ran.
    expect(readdirSync(join(wrong.d, "cache", "mcp-mux", "tray"))).toEqual([]);
  });
});

describe.skipIf(desktop !== undefined)("tray on a desktop (Xvfb, trayer)", () => {
  test("the icon shows, its menu updates live when a client connects, and Quit mux stops the daemon like SIGTERM", async () => {
    const x = await startDesktop();
    const t = serveWithTray(x.env, ["--service-name", "memory"]);
    await waitFor(() => existsSync(t.socket), 10_000, "the socket");
    // The icon is drawn, in the colour of a service waiting for its first client (green). The
    // tray host embeds and paints it a moment after the window appears (slower on a first run,
    // when the helper is first extracted), so the geometry is read again until it is drawn.
    const shot = (name: string) => screenshot(x.env, join(x.dir, name));
    let icon = await findIcon(x.env);
    let green = 0;
    await waitFor(
      async () => {
        icon = await findIcon(x.env);
        green = greenPixels(x.env, await shot("icon.png"), icon);
        return green > 100;
      },
      15_000,
      "the icon drawn in green",
    );
    expect(green).toBeGreaterThan(100);
    const helper = helperOf(t.proc.pid);
    expect(helper).toBeGreaterThan(0);

    run(x.env, ["xdotool", "mousemove", String(icon.x + icon.w / 2), String(icon.y + icon.h / 2), "click", "1"]);
    await Bun.sleep(1500);
    const before = await shot("before-1.png");
    await Bun.sleep(1500);
    const still = await shot("before-2.png");
    expect(differentPixels(x.env, before, still)).toBe(0); // nothing changes while nothing happens
    const c = await scope.raw(t.socket);
    await c.handshake();
    await Bun.sleep(2500);
    const after = await shot("after.png");
    expect(differentPixels(x.env, still, after)).toBeGreaterThan(50); // "waiting" → "ready", 0 → 1 connected
    const menu = join(x.dir, "tray-menu.png");
    run(x.env, ["convert", after, "-crop", "420x240+604+0", "+repage", menu]);
    if (process.env.UPDATE_SCREENSHOTS) copyFileSync(menu, join(ROOT, "docs", "tray-menu.png"));

    // The last item is Quit mux (Up wraps to it).
    run(x.env, ["xdotool", "key", "Up", "Return"]);
    await waitFor(() => t.proc.exitCode !== null, 10_000, "the daemon to quit");
    expect(t.proc.exitCode).toBe(0);
    expect(existsSync(t.socket)).toBe(false);
    expect(t.stderr()).toContain("tray Quit: shutting down");
    await waitFor(() => !alive(helper), 10_000, "the helper to end");
  }, 60_000);

  test("the helper killed: one warning and the daemon serves on; the daemon killed: the helper ends", async () => {
    const x = await startDesktop();
    const t = serveWithTray(x.env);
    await findIcon(x.env);
    const helper = await theHelperOf(t.proc.pid);
    process.kill(helper, "SIGKILL");
    await waitFor(() => t.stderr().includes("tray:"), 5000, "the warning");
    expect(t.stderr()).toContain("tray: the icon helper was killed (SIGKILL); serving without the status icon");
    await serves(t.socket);
    expect(count(t.stderr(), "tray:")).toBe(1);

    const u = serveWithTray(x.env);
    const orphan = await theHelperOf(u.proc.pid);
    u.proc.kill("SIGKILL");
    await waitFor(() => !alive(orphan), 15_000, "the helper to notice its daemon is gone");
  }, 60_000);
});

// --- the desktop ---

function baseEnv(): Record<string, string | undefined> {
  const { NO_COLOR: _n, FORCE_COLOR: _f, ...env } = process.env;
  return { ...env, NO_COLOR: "1" };
}

/** Undefined when the desktop tests can run; else why not. Installs what is missing when root. */
async function prepareDesktop(): Promise<string | undefined> {
  if (process.platform !== "linux" || process.arch !== "x64")
    return `the tray helper is Linux x86-64 here (this is ${process.platform}/${process.arch})`;
  const missing = () => [
    ...TOOLS.filter((t) => !Bun.which(t)),
    ...(Bun.spawnSync(["ldd", HELPER]).stdout.toString().includes("not found") ? ["GTK/appindicator libraries"] : []),
  ];
  if (missing().length === 0) return undefined;
  if (process.getuid?.() !== 0 || !Bun.which("apt-get"))
    return `missing ${missing().join(", ")} and cannot install them (needs root and apt-get: apt-get install ${PACKAGES.join(" ")})`;
  console.log(`tray tests: installing ${PACKAGES.join(" ")} with apt-get`);
  const install = () =>
    Bun.spawnSync(["apt-get", "install", "-y", "--no-install-recommends", ...PACKAGES], {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      stdout: "ignore",
      stderr: "pipe",
    });
  let result = install();
  if (result.exitCode !== 0) {
    Bun.spawnSync(["apt-get", "update"], { stdout: "ignore", stderr: "ignore" });
    result = install();
  }
  const still = missing();
  return still.length === 0
    ? undefined
    : `apt-get could not provide ${still.join(", ")}: ${result.stderr.toString().trim().split("\n").slice(-2).join(" ")}`;
}

/** A private session bus, an X server on a free display, and a tray host on it. */
async function startDesktop(): Promise<{ env: Record<string, string>; dir: string }> {
  const dir = scope.dir();
  const bus = spawnKept(["dbus-daemon", "--session", "--print-address=1", "--nofork"]);
  const address = (await firstLine(bus)).trim();
  const xvfb = spawnKept(["Xvfb", "-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp"]);
  const display = `:${(await firstLine(xvfb)).trim()}`;
  const env = { DISPLAY: display, DBUS_SESSION_BUS_ADDRESS: address, XDG_RUNTIME_DIR: dir };
  mkdirSync(dir, { recursive: true });
  spawnKept(["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "32"], env);
  await waitFor(() => run(env, ["xwininfo", "-root", "-children"]).includes("panel"), 10_000, "trayer");
  return { env, dir };
}

function spawnKept(cmd: string[], env: Record<string, string> = {}): Subprocess<"ignore", "pipe", "ignore"> {
  const proc = Bun.spawn({ cmd, env: { ...process.env, ...env }, stdin: "ignore", stdout: "pipe", stderr: "ignore" });
  scope.defer(async () => {
    proc.kill("SIGKILL");
    await proc.exited;
  });
  return proc;
}

async function firstLine(proc: Subprocess<"ignore", "pipe", "ignore">): Promise<string> {
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return text.split("\n")[0] ?? "";
}

function run(env: Record<string, string>, cmd: string[]): string {
  const r = Bun.spawnSync(cmd, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  return r.stdout.toString() + r.stderr.toString();
}

/** The icon's window (the helper's XEmbed icon in trayer) and where it is. */
async function findIcon(env: Record<string, string>): Promise<{ x: number; y: number; w: number; h: number }> {
  let id = "";
  await waitFor(
    () => {
      id = run(env, ["xdotool", "search", "--classname", "^systray$"]).trim().split("\n")[0] ?? "";
      return /^\d+$/.test(id);
    },
    15_000,
    "the tray icon",
  );
  const info = run(env, ["xwininfo", "-id", id]);
  const num = (label: string) => Number(new RegExp(`${label}:\\s+(-?\\d+)`).exec(info)?.[1] ?? 0);
  return { x: num("Absolute upper-left X"), y: num("Absolute upper-left Y"), w: num("Width"), h: num("Height") };
}

async function screenshot(env: Record<string, string>, file: string): Promise<string> {
  run(env, ["import", "-window", "root", file]);
  return file;
}

/** Pixels of the icon's green inside its window. */
function greenPixels(
  env: Record<string, string>,
  file: string,
  at: { x: number; y: number; w: number; h: number },
): number {
  const txt = run(env, ["convert", file, "-crop", `${at.w}x${at.h}+${at.x}+${at.y}`, "txt:-"]);
  return txt.split("\n").filter((l) => {
    const m = /#([0-9A-F]{2})([0-9A-F]{2})([0-9A-F]{2})/i.exec(l);
    if (!m) return false;
    const [r, g, b] = [m[1], m[2], m[3]].map((h) => Number.parseInt(h as string, 16)) as [number, number, number];
    return g > 120 && g > r + 40 && g > b + 40;
  }).length;
}

function differentPixels(env: Record<string, string>, a: string, b: string): number {
  const out = run(env, ["compare", "-metric", "AE", a, b, "null:"]);
  return Number(/^[\d.e+]+/.exec(out.trim())?.[0] ?? Number.NaN);
}

/** The daemon's tray helper (its child running mux-tray), or 0. */
/** The daemon's tray helper, 0 when there is none (never pass 0 to `process.kill`: the whole group). */
function helperOf(daemon: number): number {
  const out = Bun.spawnSync(["pgrep", "-P", String(daemon), "-f", "mux-tray"])
    .stdout.toString()
    .trim();
  return Number(out.split("\n")[0] || 0);
}

/** The helper, once it is there (a test failure, never pid 0, when it does not come). */
async function theHelperOf(daemon: number): Promise<number> {
  await waitFor(() => helperOf(daemon) > 0, 10_000, "the tray helper");
  const pid = helperOf(daemon);
  if (!(pid > 0)) throw new Error("the tray helper is gone");
  return pid;
}

function alive(pid: number): boolean {
  if (!(pid > 0)) throw new Error(`not a process id: ${pid}`);
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
