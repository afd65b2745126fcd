/**
 * The HTTP front under attack (issue: nobody else gets in, nothing runs out), through the
 * compiled daemon: private by default, a taken port, status redaction, half-sent requests and
 * descriptor floods, session and isolated-child caps, reload of daemon settings, and the
 * smaller Origin/Host/batch rules.
 */

import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { defaultHttpPort } from "../../src/config/paths.ts";
import { BUN, FAKE_SERVER, type Json, MUX_BIN, testScope, textOf, waitFor } from "../helpers.ts";

const scope = testScope("bin");
const JSON_AND_SSE = { "content-type": "application/json", accept: "application/json, text/event-stream" };
const init = (id: unknown = 1, name = "curl") => ({
  jsonrpc: "2.0",
  id,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name, version: "1" } },
});

/** A `mux serve` process with its stderr collected; `url` once the HTTP front is up. */
async function daemon(
  args: string[],
  env: Record<string, string> = {},
  wait: RegExp = /Streamable HTTP: (\S+)|and (http:\S+)\/\w+/,
) {
  const proc = Bun.spawn({ cmd: [MUX_BIN, "serve", ...args], env: { ...process.env, ...env }, stderr: "pipe" });
  scope.defer(async () => {
    if (proc.exitCode === null) proc.kill("SIGKILL");
    await proc.exited;
  });
  let err = "";
  void (async () => {
    for await (const c of proc.stderr) err += new TextDecoder().decode(c);
  })();
  await waitFor(() => wait.test(err) || proc.exitCode !== null, 15_000, "the daemon");
  const m = wait.exec(err);
  return { proc, url: m?.[1] ?? m?.[2], stderr: () => err };
}

/** A single-service daemon with a token-less loopback HTTP front (and `extra` flags) over the fixture server. */
function front(socket: string, extra: string[] = []) {
  return daemon([
    "--socket",
    socket,
    "--http",
    "127.0.0.1:0",
    "--http-no-auth",
    ...extra,
    "--cmd",
    BUN,
    "--",
    FAKE_SERVER,
  ]);
}

async function httpClient(url: string, name: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name, version: "1" }, { capabilities: {} });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  scope.defer(() => client.close());
  return client;
}

/** Open a session with a raw POST; returns its id. */
async function openSession(url: string, headers: Record<string, string> = {}, name = "curl"): Promise<string> {
  const res = await fetch(url, {
    method: "POST",
    headers: { ...JSON_AND_SSE, ...headers },
    body: JSON.stringify(init(1, name)),
  });
  expect(res.status).toBe(200);
  await res.text();
  const id = res.headers.get("mcp-session-id") as string;
  const done = await fetch(url, {
    method: "POST",
    headers: { ...JSON_AND_SSE, ...headers, "mcp-session-id": id },
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  expect(done.status).toBe(202);
  return id;
}

/** Raw bytes to the front; resolves with what came back before the connection closed (or `ms` passed). */
function rawExchange(port: number, bytes: string, ms = 5000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = "";
    const s = connect(port, "127.0.0.1", () => s.write(bytes));
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ text, closed: false });
    }, ms);
    s.on("data", (d) => {
      text += d.toString();
    });
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
  });
}

const statusOf = (text: string): number => Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0);

describe("private by default", () => {
  test("--http without a token file uses the per-user token file (created 0600) and refuses requests without it", async () => {
    const d = scope.dir();
    const env = { XDG_CONFIG_HOME: join(d, "cfg"), HOME: d };
    const t = await daemon(
      ["--socket", join(d, "p.sock"), "--http", "127.0.0.1:0", "--cmd", BUN, "--", FAKE_SERVER],
      env,
    );
    const tokenFile = join(d, "cfg", "mcp-mux", "http-token");
    expect(existsSync(tokenFile)).toBe(true);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(t.stderr()).toContain(tokenFile);
    const token = readFileSync(tokenFile, "utf8").trim();
    const url = t.url as string;
    const anonymous = await fetch(url, { method: "POST", headers: JSON_AND_SSE, body: JSON.stringify(init()) });
    expect(anonymous.status).toBe(401);
    // Another local user is exactly this: no token. Nothing of the server reaches it.
    expect(await anonymous.text()).not.toContain("fake-server");
    const c = await httpClient(url, "owner", { authorization: `Bearer ${token}` });
    expect(textOf(await c.callTool({ name: "echo", arguments: { v: 1 } }))).toContain('"v":1');
  });

  test("--http-no-auth is refused off loopback; a non-loopback bind needs a token file chosen on purpose", async () => {
    const d = scope.dir();
    const env = { ...process.env, XDG_CONFIG_HOME: join(d, "cfg"), HOME: d };
    for (const extra of [["--http-no-auth"], []]) {
      const r = Bun.spawnSync(
        [
          MUX_BIN,
          "serve",
          "--socket",
          join(d, "o.sock"),
          "--http",
          "0.0.0.0:0",
          ...extra,
          "--cmd",
          BUN,
          "--",
          FAKE_SERVER,
        ],
        { env, stderr: "pipe" },
      );
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr.toString()).toContain("needs a bearer token");
    }
    // Nothing was created in the user's config folder by a refused start.
    expect(existsSync(join(d, "cfg", "mcp-mux", "http-token"))).toBe(false);
  });

  test("the default port differs per user and per config folder, and is stable", () => {
    const a = defaultHttpPort({ HOME: "/home/a", XDG_CONFIG_HOME: "/home/a/.config" });
    const b = defaultHttpPort({ HOME: "/home/b", XDG_CONFIG_HOME: "/home/b/.config" });
    expect(a).not.toBe(b);
    expect(defaultHttpPort({ HOME: "/home/a", XDG_CONFIG_HOME: "/home/a/.config" })).toBe(a);
    for (const p of [a, b]) expect(p >= 20000 && p < 40000).toBe(true);
  });

  test("a port taken by another program is a clear error and the socket services still start", async () => {
    const d = scope.dir();
    const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    scope.defer(() => taken.stop(true));
    const config = join(d, "mux.json");
    const svc = { socket: join(d, "s.sock"), cmd: BUN, args: [FAKE_SERVER] };
    writeFileSync(
      config,
      JSON.stringify({ servers: { s: svc }, http: { listen: `127.0.0.1:${taken.port}`, auth: "none" } }),
    );
    const t = await daemon(["--config", config], {}, /s: listening on/);
    expect(t.proc.exitCode).toBeNull();
    expect(t.stderr()).toContain(`cannot serve HTTP on 127.0.0.1:${taken.port}: the port is in use`);
    const sock = await scope.raw(svc.socket);
    await sock.handshake();
    sock.request("e", "tools/call", { name: "echo", arguments: { ok: true } });
    expect(textOf((await sock.response("e")).result)).toContain('"ok":true');
  });
});

describe("status answers only what the caller may know", () => {
  test("socket and HTTP clients never see argument values; the owner's control socket does", async () => {
    const d = scope.dir();
    const config = join(d, "mux.json");
    const secret = "sk-live-0123456789abcdef";
    writeFileSync(
      config,
      JSON.stringify({
        servers: { s: { socket: join(d, "s.sock"), cmd: BUN, args: [FAKE_SERVER, `--api-key=${secret}`], cwd: d } },
        http: { listen: "127.0.0.1:0", auth: "none" },
      }),
    );
    const t = await daemon(["--config", config]);
    const sock = await scope.raw(join(d, "s.sock"));
    await sock.handshake();
    sock.request("st", "mcp-mux/status");
    const viaSocket = JSON.stringify(await sock.response("st"));
    expect(viaSocket).not.toContain(secret);
    expect(viaSocket).toContain('"redacted":true');

    const base = t.url as string;
    const session = await openSession(`${base}/s`);
    const res = await fetch(`${base}/s`, {
      method: "POST",
      headers: { ...JSON_AND_SSE, "mcp-session-id": session },
      body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "mcp-mux/status" }),
    });
    const viaHttp = await res.text();
    expect(viaHttp).toContain('"redacted":true');
    expect(viaHttp).not.toContain(secret);
    expect(viaHttp).not.toContain(d); // no socket path, cwd or status file
    expect(viaHttp).toContain('"muxPid":0');

    const owner = Bun.spawnSync([MUX_BIN, "status", "--config", config, "--json"], { stdout: "pipe" });
    expect(owner.stdout.toString()).toContain(secret);
  });
});

describe("half-sent requests and descriptor floods", () => {
  test("a body that never finishes gets 408 and its connection closed; headers that never finish are closed too", async () => {
    const d = scope.dir();
    const t = await front(join(d, "b.sock"));
    const port = Number(new URL(t.url as string).port);
    const halfBody = rawExchange(
      port,
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 500\r\n\r\n{"jsonrpc":`,
      30_000,
    );
    const halfHeaders = rawExchange(port, `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`, 30_000);
    const body = await halfBody;
    expect(body.closed).toBe(true);
    expect(statusOf(body.text)).toBe(408);
    expect((await halfHeaders).closed).toBe(true);
  }, 60_000);

  test("under a 256-descriptor limit, 400 half-sent requests do not lock out socket clients, the control socket or a child restart", async () => {
    const d = scope.dir();
    const config = join(d, "mux.json");
    writeFileSync(
      config,
      JSON.stringify({
        servers: { s: { socket: join(d, "s.sock"), cmd: BUN, args: [FAKE_SERVER], restart_backoff_ms: 100 } },
        http: { listen: "127.0.0.1:0", auth: "none" },
      }),
    );
    const proc = Bun.spawn({
      cmd: ["sh", "-c", `ulimit -n 256 && exec "$0" serve --config "$1"`, MUX_BIN, config],
      stderr: "pipe",
    });
    scope.defer(async () => {
      proc.kill("SIGKILL");
      await proc.exited;
    });
    let err = "";
    void (async () => {
      for await (const c of proc.stderr) err += new TextDecoder().decode(c);
    })();
    await waitFor(() => /and (http:\S+)\/s/.test(err), 15_000, "the daemon");
    const base = /and (http:\S+)\/s/.exec(err)?.[1] as string;
    const port = Number(new URL(base).port);
    const flood: Socket[] = [];
    scope.defer(() => {
      for (const s of flood) s.destroy();
    });
    for (let i = 0; i < 400; i++) {
      const s = connect(port, "127.0.0.1", () =>
        s.write(
          `POST /mcp/s HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 999\r\n\r\n{`,
        ),
      );
      s.on("error", () => {});
      flood.push(s);
    }
    await Bun.sleep(1500);
    // The socket side still works: a client connects, calls, crashes the child, and is served by its restart.
    const sock = await scope.raw(join(d, "s.sock"));
    await sock.handshake();
    sock.request("c", "tools/call", { name: "crash", arguments: {} });
    await sock.response("c", 15_000);
    await waitFor(
      async () => {
        sock.request(`w${Date.now()}`, "tools/call", { name: "whoami", arguments: {} });
        const r = await sock
          .next((m) => typeof m.id === "string" && m.id.startsWith("w") && "result" in m, 3000)
          .catch(() => undefined);
        return r !== undefined;
      },
      20_000,
      "the restarted child to answer",
    );
    const status = Bun.spawnSync([MUX_BIN, "status", "--config", config, "--json"], { stdout: "pipe" });
    expect(status.exitCode).toBe(0);
    expect((JSON.parse(status.stdout.toString()) as Json[])[0]?.state).toBe("ready");
    expect(err).toContain("few file descriptors left");
    for (const s of flood) s.destroy();
    // After the flood, HTTP serves again.
    await waitFor(
      async () =>
        (await fetch(`${base}/s`, { method: "POST", headers: JSON_AND_SSE, body: JSON.stringify(init()) })).status ===
        200,
      20_000,
      "HTTP to serve again",
    );
  }, 90_000);
});

describe("global bounds", () => {
  test("max_sessions: a new session ends the oldest idle one; with every session busy it gets 503", async () => {
    const d = scope.dir();
    const config = join(d, "mux.json");
    writeFileSync(
      config,
      JSON.stringify({
        servers: { s: { socket: join(d, "s.sock"), cmd: BUN, args: [FAKE_SERVER] } },
        http: { listen: "127.0.0.1:0", auth: "none", max_sessions: 3 },
      }),
    );
    const t = await daemon(["--config", config]);
    const url = `${t.url}/s`;
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await openSession(url));
    const fourth = await openSession(url);
    const ping = (id: string) =>
      fetch(url, {
        method: "POST",
        headers: { ...JSON_AND_SSE, "mcp-session-id": id },
        body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "ping" }),
      });
    expect((await ping(ids[0] as string)).status).toBe(404); // the oldest idle one made room
    expect((await ping(fourth)).status).toBe(200);
    // Every session busy: each holds its standalone stream open.
    const live = [ids[1], ids[2], fourth] as string[];
    const streams = await Promise.all(
      live.map((id) => fetch(url, { method: "GET", headers: { accept: "text/event-stream", "mcp-session-id": id } })),
    );
    for (const s of streams) expect(s.status).toBe(200);
    const refused = await fetch(url, { method: "POST", headers: JSON_AND_SSE, body: JSON.stringify(init()) });
    expect(refused.status).toBe(503);
    for (const s of streams) await s.body?.cancel();
  });

  test("abandoned sessions show as idle in status with their ages, and never-initialized ones are reaped", async () => {
    const d = scope.dir();
    const t = await front(join(d, "i.sock"), ["--http-session-idle-ms", "2000"]);
    const url = t.url as string;
    await openSession(url, {}, "gone-host");
    const half = await fetch(url, { method: "POST", headers: JSON_AND_SSE, body: JSON.stringify(init(1, "half")) });
    await half.text();
    const status = () =>
      JSON.parse(
        Bun.spawnSync([MUX_BIN, "status", "--socket", join(d, "i.sock"), "--json"], {
          stdout: "pipe",
        }).stdout.toString(),
      ) as Json;
    await waitFor(() => (status().idleClients as number) >= 1, 10_000, "the session to count as idle");
    const s = status();
    const rows = s.clients as Json[];
    const gone = rows.find((r) => r.name === "gone-host") as Json;
    expect(gone).toMatchObject({ transport: "http", idle: true });
    expect(gone.idleMs as number).toBeGreaterThanOrEqual(1000);
    expect(gone.connectedMs as number).toBeGreaterThanOrEqual(gone.idleMs as number);
    await waitFor(
      () => !(status().clients as Json[]).some((r) => r.name === "half"),
      10_000,
      "the half-open session to go",
    );
  });

  test("max_isolated_children counts socket and HTTP clients together; the next one gets -32038", async () => {
    const d = scope.dir();
    const t = await daemon([
      "--socket",
      join(d, "iso.sock"),
      "--isolated",
      "--max-isolated-children",
      "2",
      "--http",
      "127.0.0.1:0",
      "--http-no-auth",
      "--cmd",
      BUN,
      "--",
      FAKE_SERVER,
    ]);
    const a = await scope.raw(join(d, "iso.sock"));
    await a.handshake();
    const h = await httpClient(t.url as string, "h1");
    expect((await h.listTools()).tools.length).toBeGreaterThan(0);
    const res = await fetch(t.url as string, { method: "POST", headers: JSON_AND_SSE, body: JSON.stringify(init(5)) });
    const body = (await res.json()) as Json;
    expect((body.error as Json).code).toBe(-32038);
    expect(String((body.error as Json).message)).toContain("max_isolated_children = 2");
    const b = await scope.raw(join(d, "iso.sock"));
    b.request("init", "initialize", {
      protocolVersion: "2025-11-25",
      capabilities: {},
      clientInfo: { name: "b", version: "1" },
    });
    expect(((await b.response("init")).error as Json).code).toBe(-32038);
    const pids = JSON.parse(
      Bun.spawnSync([MUX_BIN, "status", "--socket", join(d, "iso.sock"), "--json"], {
        stdout: "pipe",
      }).stdout.toString(),
    ).childPids as number[];
    expect(pids.length).toBe(2);
  });
});

describe("reload applies daemon settings", () => {
  test("adding a token to http takes effect at once; a tray change says it needs a restart (exit 3)", async () => {
    const d = scope.dir();
    const config = join(d, "mux.json");
    const servers = { s: { socket: join(d, "s.sock"), cmd: BUN, args: [FAKE_SERVER] } };
    writeFileSync(config, JSON.stringify({ servers, http: { listen: "127.0.0.1:0", auth: "none" } }));
    const t = await daemon(["--config", config]);
    const url = `${t.url}/s`;
    expect((await fetch(url, { method: "POST", headers: JSON_AND_SSE, body: JSON.stringify(init()) })).status).toBe(
      200,
    );
    const old = await openSession(url);
    const tokenFile = join(d, "token");
    writeFileSync(config, JSON.stringify({ servers, http: { listen: "127.0.0.1:0", token_file: tokenFile } }));
    const r = Bun.spawnSync([MUX_BIN, "reload", "--config", config], { stdout: "pipe", stderr: "pipe" });
    expect(r.stdout.toString()).toContain("applied: http");
    expect(r.stdout.toString()).not.toMatch(/^unchanged: s$(?![\s\S]*applied)/m);
    expect(r.exitCode).toBe(0);
    // The new front (port 0 picks again) is named in the log; the token rule holds there.
    await waitFor(() => /HTTP front now at (http:\S+)\/<service>/.test(t.stderr()), 5000, "the new front");
    const fresh = `${/HTTP front now at (http:\S+)\/<service>/.exec(t.stderr())?.[1]}/s`;
    const token = readFileSync(tokenFile, "utf8").trim();
    expect((await fetch(fresh, { method: "POST", headers: JSON_AND_SSE, body: JSON.stringify(init()) })).status).toBe(
      401,
    );
    const ok = await fetch(fresh, {
      method: "POST",
      headers: { ...JSON_AND_SSE, authorization: `Bearer ${token}` },
      body: JSON.stringify(init()),
    });
    expect(ok.status).toBe(200);
    // A session from before the token does not survive it.
    const stale = await fetch(fresh, {
      method: "POST",
      headers: { ...JSON_AND_SSE, authorization: `Bearer ${token}`, "mcp-session-id": old },
      body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "ping" }),
    });
    expect(stale.status).toBe(404);

    writeFileSync(
      config,
      JSON.stringify({
        servers,
        http: { listen: "127.0.0.1:0", token_file: tokenFile },
        tray: true,
        idle_exit_ms: 5000,
      }),
    );
    const r2 = Bun.spawnSync([MUX_BIN, "reload", "--config", config], { stdout: "pipe", stderr: "pipe" });
    expect(r2.stdout.toString()).toContain("needs a restart: tray");
    expect(r2.exitCode).toBe(3);
  });
});

describe("smaller rules", () => {
  test("Origin null and a localhost page on another port get 403; an unreadable Host gets 400", async () => {
    const d = scope.dir();
    const t = await front(join(d, "o.sock"));
    const port = Number(new URL(t.url as string).port);
    const body = JSON.stringify(init());
    const req = (host: string, origin?: string) =>
      `POST /mcp HTTP/1.1\r\nHost: ${host}\r\n${origin ? `Origin: ${origin}\r\n` : ""}Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    expect(statusOf((await rawExchange(port, req(`127.0.0.1:${port}`, "null"))).text)).toBe(403);
    expect(statusOf((await rawExchange(port, req(`localhost:${port}`, `http://localhost:${port + 1}`))).text)).toBe(
      403,
    );
    expect(statusOf((await rawExchange(port, req(`localhost:${port}`, `http://localhost:${port}`))).text)).toBe(200);
    expect(statusOf((await rawExchange(port, req("a b c"))).text)).toBe(400);
    expect(statusOf((await rawExchange(port, req("[::1"))).text)).toBe(400);
  });

  test("an HTTP batch holding one id twice: the repeat gets -32600, the first its real answer", async () => {
    const d = scope.dir();
    const t = await front(join(d, "bt.sock"));
    const url = t.url as string;
    const res0 = await fetch(url, {
      method: "POST",
      headers: { ...JSON_AND_SSE, "mcp-protocol-version": "2025-03-26" },
      body: JSON.stringify({ ...init(), params: { ...init().params, protocolVersion: "2025-03-26" } }),
    });
    const session = res0.headers.get("mcp-session-id") as string;
    await res0.text();
    const h = { ...JSON_AND_SSE, "mcp-session-id": session, "mcp-protocol-version": "2025-03-26" };
    await fetch(url, {
      method: "POST",
      headers: h,
      body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    });
    const batch = [
      { jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "slow", arguments: { ms: 300 } } },
      { jsonrpc: "2.0", id: 9, method: "tools/call", params: { name: "echo", arguments: { second: true } } },
    ];
    const res = await fetch(url, { method: "POST", headers: h, body: JSON.stringify(batch) });
    const text = await res.text();
    const answers = text
      .split("\n")
      .filter((l) => l.startsWith("data: ") && l.length > 6)
      .flatMap((l) => {
        const v = JSON.parse(l.slice(6)) as Json | Json[];
        return Array.isArray(v) ? v : [v];
      });
    expect(answers.filter((a) => a.id === 9).length).toBe(2);
    expect(answers.some((a) => (a.error as Json | undefined)?.code === -32600)).toBe(true);
    expect(answers.some((a) => "result" in a && !JSON.stringify(a).includes("second"))).toBe(true);
  });
});

describe("serve without --socket", () => {
  test("mux serve --http … --cmd … takes the default socket <runtime dir>/<name>.sock, as a config's service does", async () => {
    const d = scope.dir();
    const runtime = join(d, "run");
    const t = await daemon(["--http", "127.0.0.1:0", "--http-no-auth", "--cmd", BUN, "--", FAKE_SERVER], {
      MUX_RUNTIME_DIR: runtime,
    });
    expect(t.proc.exitCode).toBeNull();
    const socket = join(runtime, "fake-server.sock");
    expect(t.stderr()).toContain(`listening on ${socket}`);
    const sock = await scope.raw(socket);
    await sock.handshake();
    const h = await httpClient(t.url as string, "h");
    expect((await h.listTools()).tools.length).toBeGreaterThan(0);
  });
});
