/** Config loading: formats, validation messages, expansion, selection and precedence. */

import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ConfigError, loadConfig, MAX_CONFIG_BYTES, parseConfig } from "../../src/config/load.ts";
import { controlSocketPath, defaultSocketPath, expandVars } from "../../src/config/paths.ts";
import { selectServices } from "../../src/mux/multi.ts";

const FIXTURES = resolve(import.meta.dir, "../fixtures/config");
const env = { HOME: "/home/u", DATA_DIR: "/data", XDG_RUNTIME_DIR: "/run/user/1" };

function issuesOf(text: string, format: "json" | "yaml" | "toml"): string {
  try {
    parseConfig(text, { format, file: `/cfg/mux.${format}`, env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error("expected a ConfigError");
}

describe("formats", () => {
  test("JSON, YAML and TOML fixtures with the same meaning resolve identically", () => {
    const [json, yaml, toml] = ["full.json", "full.yaml", "full.toml"].map((f) =>
      loadConfig(join(FIXTURES, f), { env }),
    );
    expect(yaml?.services).toEqual(json?.services as never);
    expect(toml?.services).toEqual(json?.services as never);
    expect(json?.services.memory).toEqual({
      serviceName: "memory",
      socket: "/home/u/sockets/memory.sock",
      cmd: "npx",
      args: ["-y", "@modelcontextprotocol/server-memory", "--db=/data/mem.db"],
      env: { MEMORY_FILE_PATH: "/data/memory.jsonl" },
      cwd: join(FIXTURES, "work"),
      maxActiveClients: 7,
      lazyStart: true,
      maxRequestBytes: 2097152,
      requestTimeoutMs: 15000,
      restartBackoffMs: 500,
      restartBackoffMaxMs: 8000,
      maxRestarts: 0,
      healthyAfterMs: 120000,
      statusFile: join(FIXTURES, "status/memory.json"),
      logLevel: "debug",
      rootsPolicy: "union",
      ambiguousRoute: "most-recent",
      isolated: true,
    });
    expect(json?.services.fs).toEqual({
      serviceName: "fs",
      socket: "/run/user/1/mcp-mux/fs.sock",
      cmd: "node",
      args: ["fs.js"],
    });
  });

  test("an rmcp-mux config still loads; keys without effect become warnings; its per-service tray turns on the daemon's", () => {
    const c = loadConfig(join(FIXTURES, "rmcp-mux.yaml"), { env });
    expect(c.services["general-memory"]?.socket).toBe("/home/u/mcp-sockets/general-memory.sock");
    expect(c.warnings.join("\n")).not.toContain('"tray"');
    expect(c.daemon.tray).toBe(true);
    expect("tray" in (c.services["general-memory"] ?? {})).toBe(false);
    expect(c.warnings.join("\n")).toContain('"heartbeat_enabled"');
  });

  test("top-level daemon settings: idle_exit_ms, http (string or table), tray; mistakes reported with the field", () => {
    const c = parseConfig(
      {
        servers: { a: { cmd: "x" } },
        idle_exit_ms: 5000,
        http: { listen: "127.0.0.1:8765", token_file: "tok" },
        tray: false,
      },
      { env, file: "/etc/mux/c.json" },
    );
    expect(c.daemon).toEqual({
      idleExitMs: 5000,
      http: { listen: "127.0.0.1:8765", tokenFile: "/etc/mux/tok" },
      tray: false,
    });
    expect(parseConfig({ servers: {}, http: "localhost:1" }, { env }).daemon.http).toEqual({
      listen: "localhost:1",
    });
    const bad = (data: Record<string, unknown>): string => {
      try {
        parseConfig({ servers: {}, ...data }, { env });
        return "";
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(bad({ http: { listen: "nope" } })).toContain('"http.listen" must be "HOST:PORT"');
    expect(bad({ http: { listen: "a:1", tokn_file: "x" } })).toContain('did you mean "token_file"');
    expect(bad({ idle_exit_ms: -1 })).toContain("idle_exit_ms");
  });

  test("default socket and control paths live in the per-user runtime directory", () => {
    expect(defaultSocketPath("x", { XDG_RUNTIME_DIR: "/run/user/5" })).toBe("/run/user/5/mcp-mux/x.sock");
    expect(defaultSocketPath("x", { TMPDIR: "/tmp", HOME: "/home/u" })).toBe("/home/u/.local/state/mcp-mux/run/x.sock");
    expect(defaultSocketPath("x", { XDG_STATE_HOME: "/s", HOME: "/home/u" })).toBe("/s/mcp-mux/run/x.sock");
    expect(defaultSocketPath("x", { MUX_RUNTIME_DIR: "/r", XDG_RUNTIME_DIR: "/x" })).toBe("/r/x.sock");
    expect(controlSocketPath("/a/b.toml", { XDG_RUNTIME_DIR: "/r" })).toMatch(
      /^\/r\/mcp-mux\/control-[0-9a-f]{12}\.sock$/,
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: ${B} is the syntax under test
    expect(expandVars("~/x/$A/${B}/$MISSING.", { HOME: "/h", A: "1", B: "2" })).toBe("/h/x/1/2/.");
  });
});

describe("validation", () => {
  test("a wrong type names the file, service, field and line", () => {
    const msg = issuesOf('[servers.a]\ncmd = "x"\nmax_active_clients = "five"\n', "toml");
    expect(msg).toContain("/cfg/mux.toml");
    expect(msg).toContain(
      'service "a", field "max_active_clients", line 3: "max_active_clients" must be an integer, got string "five"',
    );
  });

  test("an unknown key gets a did-you-mean suggestion", () => {
    const msg = issuesOf("servers:\n  a:\n    cmd: x\n    max_active_client: 3\n", "yaml");
    expect(msg).toContain(
      'service "a", field "max_active_client", line 4: unknown key "max_active_client" (did you mean "max_active_clients"?)',
    );
    expect(issuesOf('{"server": {}}', "json")).toContain('"servers" table');
    expect(issuesOf('{"servers": {"a": {"cmd": "x"}}, "sever": 1}', "json")).toContain('(did you mean "servers"?)');
  });

  test("missing cmd, duplicate sockets and bad ranges are all reported at once", () => {
    const msg = issuesOf(
      JSON.stringify(
        {
          servers: {
            a: { args: [] },
            b: { cmd: "x", socket: "/s/one.sock", max_active_clients: 0 },
            c: { cmd: "y", socket: "/s/one.sock", restart_backoff_ms: 5000, restart_backoff_max_ms: 10 },
            d: { cmd: "z", roots_policy: "everything", args: "not-a-list" },
          },
        },
        null,
        2,
      ),
      "json",
    );
    expect(msg).toContain('service "a", field "cmd"');
    expect(msg).toContain('missing "cmd"');
    expect(msg).toContain('"max_active_clients" must be at least 1, got 0');
    expect(msg).toContain('socket /s/one.sock is also used by service "b"');
    expect(msg).toContain('"restart_backoff_max_ms" (10) is below "restart_backoff_ms" (5000)');
    expect(msg).toContain('"roots_policy" must be one of intersection, union, first, none');
    expect(msg).toContain('"args" must be a list of strings');
  });

  test("syntax errors carry the parser's line", () => {
    expect(issuesOf('[servers.a]\ncmd = "x"\nargs = [\n', "toml")).toMatch(/line \d+: syntax error/);
    expect(issuesOf("servers:\n  a:\n    cmd: [unclosed\n", "yaml")).toMatch(/line \d+: syntax error/);
    expect(issuesOf("{ nope", "json")).toContain("syntax error");
  });

  test("unknown extension and missing file are errors", () => {
    expect(() => loadConfig(join(FIXTURES, "nope.toml"))).toThrow("file not found");
    expect(() => loadConfig(join(FIXTURES, "../fake-server.ts"))).toThrow('unknown config format ".ts"');
  });
});

describe("the file itself: regular files only, at most 4 MiB", () => {
  const dir = mkdtempSync(join(tmpdir(), "mux-config-file-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const refusal = (path: string): string => {
    try {
      loadConfig(path, { env });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).message;
    }
    throw new Error(`expected ${path} to be refused`);
  };

  test("a .json name linked to /dev/zero is refused at once, not read forever", () => {
    const link = join(dir, "zero.json");
    symlinkSync("/dev/zero", link);
    expect(refusal(link)).toBe(`invalid config ${link}:\n  - not a regular file (it is a character device)`);
  });

  test("a FIFO is refused without waiting for a writer", () => {
    const fifo = join(dir, "fifo.yaml");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    expect(refusal(fifo)).toContain("not a regular file (it is a FIFO (named pipe))");
  });

  test("a folder is refused", () => {
    const folder = join(dir, "folder.toml");
    mkdirSync(folder);
    expect(refusal(folder)).toContain("not a regular file (it is a folder)");
  });

  test("a file over the cap is refused without reading it; one at the cap is read", () => {
    const big = join(dir, "big.json");
    writeFileSync(big, "");
    truncateSync(big, MAX_CONFIG_BYTES + 1); // sparse: nothing to read, only its size counts
    expect(MAX_CONFIG_BYTES).toBe(4 * 1024 * 1024);
    expect(refusal(big)).toContain(
      `the file is too big for a config (${MAX_CONFIG_BYTES + 1} bytes or more; at most ${MAX_CONFIG_BYTES} bytes)`,
    );
    const atCap = join(dir, "at-cap.json");
    const body = JSON.stringify({ servers: { a: { cmd: "x" } } });
    writeFileSync(atCap, body + " ".repeat(MAX_CONFIG_BYTES - body.length));
    expect(Object.keys(loadConfig(atCap, { env }).services)).toEqual(["a"]);
  });

  test("a symbolic link to a regular config is followed", () => {
    const real = join(dir, "real.toml");
    copyFileSync(join(FIXTURES, "full.toml"), real);
    const link = join(dir, "link.toml");
    symlinkSync(real, link);
    expect(Object.keys(loadConfig(link, { env }).services)).toEqual(Object.keys(loadConfig(real, { env }).services));
  });
});

describe("selection and precedence", () => {
  const config = loadConfig(join(FIXTURES, "full.toml"), { env });

  test("only / except, and unknown names are refused", () => {
    expect([...selectServices(config, { only: ["fs"] }).keys()]).toEqual(["fs"]);
    expect([...selectServices(config, { except: ["fs"] }).keys()]).toEqual(["memory"]);
    expect(() => selectServices(config, { only: ["nope"] })).toThrow(
      'no service "nope" in the config (services: memory, fs)',
    );
  });

  test("overrides (command-line flags) beat the config for every field", () => {
    const overrides = {
      socket: "/o.sock",
      cmd: "other",
      args: ["a"],
      serviceName: "renamed",
      maxActiveClients: 1,
      lazyStart: false,
      maxRequestBytes: 4096,
      requestTimeoutMs: 1,
      restartBackoffMs: 2,
      restartBackoffMaxMs: 3,
      maxRestarts: 4,
      healthyAfterMs: 5,
      statusFile: "/o.json",
      rootsPolicy: "none" as const,
      ambiguousRoute: "error" as const,
      isolated: false,
    };
    const memory = selectServices(config, { only: ["memory"], overrides }).get("memory");
    expect(memory).toMatchObject(overrides);
    const untouched = selectServices(config, { only: ["memory"], overrides: { maxActiveClients: undefined } }).get(
      "memory",
    );
    expect(untouched?.maxActiveClients).toBe(7);
  });
});
