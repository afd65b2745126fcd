/** The embeddable library: several muxes in one process, AbortSignal, services from objects. */

import { expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { connectRpc } from "../src/client/rpc.ts";
import { checkHealth, parseConfig, type StatusSnapshot, startDaemon, startMux, startServices } from "../src/index.ts";
import { BUN, FAKE_SERVER, fakeServer, RawClient, silentLogger, testScope, textOf } from "./helpers.ts";

const scope = testScope("lib");

test("several muxes run in one process without interfering", async () => {
  const d = scope.dir();
  const muxes = await Promise.all(
    ["a", "b", "c"].map((name) =>
      startMux({ socket: join(d, `${name}.sock`), ...fakeServer(d), serviceName: name, logger: silentLogger }),
    ),
  );
  for (const m of muxes) scope.defer(() => m.close());
  const pids = await Promise.all(
    muxes.map(async (m) => {
      const c = await scope.raw(m.socket);
      await c.handshake();
      c.request(1, "tools/call", { name: "whoami" });
      return JSON.parse(textOf((await c.response(1)).result)).pid as number;
    }),
  );
  expect(new Set(pids).size).toBe(3);
  await muxes[1]?.close();
  expect(existsSync(join(d, "b.sock"))).toBe(false);
  expect((await checkHealth({ socket: join(d, "a.sock") })).ok).toBe(true);
  expect((await checkHealth({ socket: join(d, "c.sock") })).ok).toBe(true);
  expect(muxes.map((m) => m.status().state)).toEqual(["ready", "stopped", "ready"]);
});

test("aborting the signal closes the mux like close()", async () => {
  const d = scope.dir();
  const controller = new AbortController();
  const mux = await startMux({
    socket: join(d, "s.sock"),
    ...fakeServer(d),
    signal: controller.signal,
    logger: silentLogger,
  });
  const c = await RawClient.connect(mux.socket);
  await c.handshake();
  controller.abort();
  await mux.closed;
  expect(existsSync(mux.socket)).toBe(false);
  expect(mux.status().state).toBe("stopped");
});

test("startServices runs a config given as plain objects and reloads it", async () => {
  const d = scope.dir();
  const entry = (name: string) => ({ socket: join(d, `${name}.sock`), cmd: BUN, args: [FAKE_SERVER] });
  const config = parseConfig({ servers: { one: entry("one"), two: entry("two") } });
  const services = await startServices(config, { logger: () => silentLogger });
  scope.defer(() => services.close());
  expect([...services.services.keys()].sort()).toEqual(["one", "two"]);
  const result = await services.reload(parseConfig({ servers: { one: entry("one"), three: entry("three") } }));
  expect(result).toEqual({ added: ["three"], removed: ["two"], restarted: [], unchanged: ["one"], failed: {} });
  expect(services.status().map((s) => s.service)).toEqual(["one", "three"]);
});

test("startDaemon runs what mux serve --config runs: one daemon per config, HTTP with the default token file, control status and reload, close, idle exit", async () => {
  const d = scope.dir();
  const env = { ...process.env, MUX_RUNTIME_DIR: join(d, "run"), XDG_CONFIG_HOME: join(d, "cfg") };
  const file = join(d, "mux.toml");
  const entry = (name: string) =>
    `[servers.${name}]\nsocket = "${join(d, `${name}.sock`)}"\ncmd = "${BUN}"\nargs = ["${FAKE_SERVER}"]\nclient_stall_timeout_ms = 4321\n`;
  const quiet = { logger: silentLogger, serviceLogger: () => silentLogger, httpLogger: silentLogger, env };
  writeFileSync(file, `http = { listen = "127.0.0.1:0" }\n${entry("one")}`);
  const daemon = await startDaemon(file, quiet);
  scope.defer(() => daemon.close());
  expect([...daemon.services.keys()]).toEqual(["one"]);
  expect((daemon.status().services[0] as StatusSnapshot).settings.clientStallTimeoutMs).toBe(4321);

  // One daemon per config: a second one is refused while this one runs.
  await expect(startDaemon(file, quiet)).rejects.toMatchObject({ code: "DAEMON_RUNNING" });

  // Private by default: the token is in the per-user default file, created 0600.
  const tokenFile = join(d, "cfg", "mcp-mux", "http-token");
  expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
  const token = readFileSync(tokenFile, "utf8").trim();
  const url = new URL(`${daemon.httpUrl}/one`);
  const refused = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
  });
  expect(refused.status).toBe(401);
  const client = new Client({ name: "lib", version: "1" }, { capabilities: {} });
  await client.connect(
    new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${token}` } } }),
  );
  const who = await client.callTool({ name: "whoami" });
  expect(JSON.parse(textOf(who)).pid).toBe((daemon.status().services[0] as StatusSnapshot).childPid);
  await client.close();

  // The control socket answers status and reload, as `mux status/reload --config` use it.
  const control = await connectRpc(daemon.controlSocket as string);
  expect((await control.request("mcp-mux/status")).result).toMatchObject({ config: file, muxPid: process.pid });
  writeFileSync(file, `http = { listen = "127.0.0.1:0" }\n${entry("one")}${entry("two")}`);
  expect((await control.request("mcp-mux/reload")).result).toMatchObject({ added: ["two"], unchanged: ["one"] });
  expect([...daemon.services.keys()].sort()).toEqual(["one", "two"]);
  control.close();

  // An invalid file is rejected and everything keeps running.
  writeFileSync(file, "servers = 1\n");
  await expect(daemon.reload()).rejects.toThrow('"servers" table');
  expect(daemon.services.size).toBe(2);

  await daemon.close();
  await daemon.closed;
  expect([join(d, "one.sock"), join(d, "two.sock"), daemon.controlSocket as string].filter(existsSync)).toEqual([]);

  // Closed, it let go of the config: a new daemon runs it, and closes itself once idle.
  writeFileSync(file, entry("one"));
  const idled: number[] = [];
  const again = await startDaemon(file, { ...quiet, daemon: { idleExitMs: 300 }, onIdle: (ms) => idled.push(ms) });
  scope.defer(() => again.close());
  expect(again.httpUrl).toBeUndefined();
  await again.closed;
  expect(idled).toEqual([300]);
  expect(existsSync(join(d, "one.sock"))).toBe(false);
});
