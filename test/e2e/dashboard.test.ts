/**
 * The dashboard in a real browser: headless Chromium (Debian's package, driven by
 * playwright-core; never a browser download) opens the page of a compiled `mux serve --config`
 * daemon with two SDK clients, and sees both host names and live counters that change. It
 * also checks the token rules of its endpoints, on its own listener and on the HTTP front.
 * `UPDATE_SCREENSHOT=1` writes the README's docs/dashboard.png.
 */

import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { controlSocketPath } from "../../src/config/paths.ts";
import { BUN, FAKE_SERVER, MUX_BIN, ROOT, sdkClient, testScope, waitFor } from "../helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const scope = testScope();
const procs: ReturnType<typeof Bun.spawn>[] = [];
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => {});
  for (const p of procs.splice(0)) {
    p.kill("SIGTERM");
    await p.exited;
  }
});

let browserReason: string | undefined;
beforeAll(() => {
  if (existsSync(CHROMIUM)) return;
  if (process.getuid?.() === 0) {
    const r = Bun.spawnSync(["apt-get", "install", "-y", "chromium"], { stdout: "ignore", stderr: "pipe" });
    if (r.exitCode !== 0)
      Bun.spawnSync(["sh", "-c", "apt-get update && apt-get install -y chromium"], {
        stdout: "ignore",
        stderr: "ignore",
      });
  }
  if (!existsSync(CHROMIUM)) {
    browserReason = `no ${CHROMIUM} (install Debian's chromium package); the browser test is skipped`;
    console.log(browserReason);
  }
});

/** A config daemon (fake server) in a private home; its env for the CLI. */
async function daemon(
  extra: Record<string, unknown>,
): Promise<{ config: string; socket: string; env: Record<string, string> }> {
  const dir = scope.dir();
  const env = {
    ...(process.env as Record<string, string>),
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, "config"),
    MUX_RUNTIME_DIR: join(dir, "run"),
    NO_COLOR: "1",
  };
  mkdirSync(join(dir, "run"), { recursive: true, mode: 0o700 });
  const socket = join(dir, "fake.sock");
  const config = join(dir, "mux.json");
  writeFileSync(config, JSON.stringify({ servers: { fake: { cmd: BUN, args: [FAKE_SERVER], socket } }, ...extra }));
  const p = Bun.spawn([MUX_BIN, "serve", "--config", config], { stdout: "ignore", stderr: "pipe", env });
  procs.push(p);
  const control = controlSocketPath(config, env);
  await waitFor(() => existsSync(socket) && existsSync(control), 10_000, "the service and control sockets");
  return { config, socket, env };
}

async function link(config: string, env: Record<string, string>): Promise<string> {
  let out = "";
  await waitFor(
    async () => {
      const p = Bun.spawn([MUX_BIN, "dashboard", "--config", config], { stdout: "pipe", stderr: "pipe", env });
      out = (await new Response(p.stdout).text()).trim();
      return (await p.exited) === 0;
    },
    10_000,
    "mux dashboard",
  );
  return out;
}

/** The page's document as page functions see it (the tests compile without DOM types). */
interface Doc {
  querySelector(s: string): { textContent: string | null; getAttribute(name: string): string | null } | null;
  querySelectorAll(s: string): Iterable<{ textContent: string | null }> & { length: number };
}

async function client(socket: string, name: string): Promise<Client> {
  const c = await sdkClient(socket, { name });
  clients.push(c);
  return c;
}

describe("dashboard", () => {
  test("a real browser shows both host names and live counters that change", async () => {
    if (browserReason) {
      console.log(`skipped: ${browserReason}`);
      return;
    }
    const { config, socket, env } = await daemon({ dashboard: "127.0.0.1:0" });
    const url = await link(config, env);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dashboard#token=[A-Za-z0-9%_-]+$/);
    const claude = await client(socket, "claude-code");
    const cursor = await client(socket, "cursor");
    await claude.callTool({ name: "echo", arguments: { n: 1 } });
    await cursor.callTool({ name: "echo", arguments: { n: 2 } });

    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
      ],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
      await page.goto(url);
      // The token leaves the address bar at once.
      expect(page.url()).not.toContain("token");
      const hosts = page.locator(".client .host");
      await hosts.filter({ hasText: "claude-code" }).first().waitFor({ timeout: 15_000 });
      await hosts.filter({ hasText: "cursor" }).first().waitFor({ timeout: 15_000 });
      const requests = page.locator('[data-service="fake"] .requests');
      const before = Number(await requests.textContent());
      expect(before).toBeGreaterThanOrEqual(2);
      // Both calls are in the traffic table, with their hosts.
      await page.locator("#traffic tr", { hasText: "claude-code" }).first().waitFor({ timeout: 15_000 });
      await page.locator("#traffic tr", { hasText: "cursor" }).first().waitFor({ timeout: 15_000 });

      for (let i = 0; i < 5; i++) {
        await claude.callTool({ name: "echo", arguments: { i } });
        await cursor.callTool({ name: "slow", arguments: { ms: 30 } });
      }
      // Live: the counter moves without a reload (server-sent updates).
      await page.waitForFunction(
        (n) =>
          Number(
            (globalThis as unknown as { document: Doc }).document.querySelector('[data-service="fake"] .requests')
              ?.textContent,
          ) >= n,
        before + 10,
        { timeout: 15_000 },
      );
      // The new calls arrive in the traffic table as they happen, with their outcome.
      await page.waitForFunction(
        () =>
          [...(globalThis as unknown as { document: Doc }).document.querySelectorAll("#traffic tr")].filter(
            (r) =>
              r.textContent?.includes("cursor") && r.textContent.includes("tools/call") && r.textContent.includes("ok"),
          ).length >= 6,
        null,
        { timeout: 15_000 },
      );
      // Filters: only cursor's rows.
      await page.fill("#f-client", "cursor");
      const rows = await page.locator("#traffic tr").allTextContents();
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((r) => r.includes("cursor"))).toBe(true);
      await page.fill("#f-client", "");
      // Some seconds of traffic, so the charts have a line to show.
      let calling = true;
      const load = (async () => {
        for (let i = 0; calling; i++) {
          await claude.callTool({ name: "echo", arguments: { i } });
          await cursor.callTool({ name: "slow", arguments: { ms: 5 + (i % 7) * 5 } });
        }
      })();
      await page.waitForFunction(
        () =>
          Number(
            (globalThis as unknown as { document: Doc }).document
              .querySelector("svg[data-points]")
              ?.getAttribute("data-points"),
          ) >= 6,
        null,
        { timeout: 20_000 },
      );
      calling = false;
      await load;
      const shot =
        process.env.UPDATE_SCREENSHOT === "1" ? join(ROOT, "docs/dashboard.png") : join(scope.dir(), "dashboard.png");
      await page.screenshot({ path: shot, fullPage: true });
      expect(existsSync(shot)).toBe(true);

      // Without the token the page says so, and shows no data.
      const bare = await browser.newPage();
      await bare.goto(url.replace(/#.*$/, ""));
      await bare.locator("#msg", { hasText: "needs the daemon's token" }).waitFor({ timeout: 15_000 });
      expect(await bare.locator(".client").count()).toBe(0);
    } finally {
      await browser.close();
    }
  }, 60_000);

  test("token rules: the page is open, its data needs the token; a foreign Host or Origin is refused", async () => {
    const { config, env } = await daemon({ dashboard: "127.0.0.1:0" });
    const full = await link(config, env);
    const base = full.replace(/#.*$/, "");
    const token = decodeURIComponent(full.replace(/^.*#token=/, ""));
    const page = await fetch(base);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).not.toContain(token);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org)/);
    const state = `${base}/api/state`;
    expect((await fetch(state)).status).toBe(401);
    expect((await fetch(state, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    const ok = await fetch(state, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { services: { service: string }[] };
    expect(body.services.map((s) => s.service)).toEqual(["fake"]);
    const rebinding = await fetch(state, { headers: { authorization: `Bearer ${token}`, host: "evil.example:80" } });
    expect(rebinding.status).toBe(403);
    const origin = await fetch(state, { headers: { authorization: `Bearer ${token}`, origin: "http://evil.example" } });
    expect(origin.status).toBe(403);
  });

  test("the HTTP front serves it at /dashboard with the front's token", async () => {
    const { config, env } = await daemon({ http: "127.0.0.1:0" });
    const full = await link(config, env);
    expect(full).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dashboard#token=/);
    const base = full.replace(/#.*$/, "");
    const token = decodeURIComponent(full.replace(/^.*#token=/, ""));
    expect((await fetch(`${base}/api/state`)).status).toBe(401);
    const events = await fetch(`${base}/api/events`, { headers: { authorization: `Bearer ${token}` } });
    expect(events.status).toBe(200);
    expect(events.headers.get("content-type")).toContain("text/event-stream");
    const reader = (events.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while (!text.includes("data: ")) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    expect(text).toContain('"service":"fake"');
  });

  test("a daemon without a dashboard says so (exit 2); no daemon (exit 1)", async () => {
    const { config, env } = await daemon({});
    const p = Bun.spawn([MUX_BIN, "dashboard", "--config", config], { stdout: "pipe", stderr: "pipe", env });
    const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    expect(code).toBe(2);
    expect(err).toContain("serves no dashboard");
    const other = join(scope.dir(), "other.json");
    writeFileSync(other, JSON.stringify({ servers: {} }));
    const none = Bun.spawn([MUX_BIN, "dashboard", "--config", other], { stdout: "pipe", stderr: "pipe", env });
    const [noneErr, noneCode] = await Promise.all([new Response(none.stderr).text(), none.exited]);
    expect(noneCode).toBe(1);
    expect(noneErr).toContain("no daemon is running");
  });
});
