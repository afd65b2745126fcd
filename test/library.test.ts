/** The embeddable library: several muxes in one process, AbortSignal, services from objects. */

import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { checkHealth, parseConfig, startMux, startServices } from "../src/index.ts";
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
