/**
 * The one option table: every option has a flag and a config key (or says why not), the README
 * tables are the table's, and every flag and every key reaches a running service's status with
 * the value it was given.
 */

import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderOptionTables, withOptionTables } from "../../scripts/options-doc.ts";
import { parseFlags, parseServiceFlags } from "../../src/cli/flags.ts";
import { serveCommand } from "../../src/cli/serve.ts";
import { parseConfig } from "../../src/config/load.ts";
import { DEFAULTS, OPTIONS, type OptionSpec, startMux } from "../../src/index.ts";
import { optionsOf } from "../../src/mux/option-table.ts";
import { BUN, FAKE_SERVER, MUX_BIN, silentLogger, testScope, waitFor } from "../helpers.ts";

const scope = testScope("lib");
const entries = Object.entries(OPTIONS) as [string, OptionSpec][];
const README = join(import.meta.dir, "..", "..", "README.md");

describe("the option table", () => {
  test("every option has a flag and a config key, or says why not; flags and keys are unique", () => {
    for (const [name, spec] of entries) {
      expect({ name, flag: (spec.flag !== undefined) !== (spec.noFlag !== undefined) }).toEqual({ name, flag: true });
      expect({ name, key: (spec.key !== undefined) !== (spec.noKey !== undefined) }).toEqual({ name, key: true });
      expect({ name, help: spec.help.length > 0 && !spec.help.includes("\n") }).toEqual({ name, help: true });
      if (spec.kind === "int") expect({ name, min: typeof spec.min }).toEqual({ name, min: "number" });
      if (spec.kind === "enum")
        expect({ name, values: (spec.values?.length ?? 0) > 1 }).toEqual({ name, values: true });
    }
    const flags = entries.flatMap(([, s]) => (s.flag ? [s.flag] : []));
    expect(new Set(flags).size).toBe(flags.length);
    for (const scopeName of ["service", "http", "daemon"] as const) {
      const keys = optionsOf(scopeName).flatMap(([, s]) => (s.key ? [s.key] : []));
      expect(new Set(keys).size).toBe(keys.length);
    }
    // The flag that had no key.
    expect(OPTIONS.clientStallTimeoutMs).toMatchObject({
      flag: "client-stall-timeout-ms",
      key: "client_stall_timeout_ms",
    });
  });

  test("mux serve offers every flag of the table, and DEFAULTS are the table's defaults", () => {
    const args = serveCommand.args as Record<string, { type: string }>;
    for (const [name, spec] of entries) {
      if (!spec.flag) continue;
      const boolean = spec.kind === "bool" || spec.flagSets !== undefined;
      expect({ name, type: args[spec.flag]?.type }).toEqual({ name, type: boolean ? "boolean" : "string" });
    }
    for (const [name, spec] of optionsOf("service"))
      if (spec.default !== undefined)
        expect({ name, value: (DEFAULTS as Record<string, unknown>)[name] }).toEqual({ name, value: spec.default });
  });

  test("the README's option tables are the ones the table renders (regenerate: bun scripts/options-doc.ts)", () => {
    const text = readFileSync(README, "utf8");
    expect(text).toBe(withOptionTables(text));
    const tables = renderOptionTables();
    for (const [, spec] of entries) {
      if (spec.flag) expect(tables.flags).toContain(`| \`--${spec.flag}\` |`);
      if (spec.key && (spec.scope === "service" || spec.scope === "cli"))
        expect(tables.keys).toContain(`| \`${spec.key}\``);
      if (spec.key && spec.scope === "http") expect(tables["daemon-keys"]).toContain(`| \`http.${spec.key}\``);
    }
  });

  test("range errors name the flag or the key", () => {
    expect(() => parseConfig({ servers: { a: { cmd: "x", client_stall_timeout_ms: 0 } } })).toThrow(
      '"client_stall_timeout_ms" must be at least 1, got 0',
    );
    expect(() => parseConfig({ servers: {}, http: { listen: "127.0.0.1:1", connection_idle_ms: 300_000 } })).toThrow(
      '"http.connection_idle_ms" must be at most 255000, got 300000',
    );
    expect(parseFlags({ "http-no-auth": true, "http-max-sessions": "3" }, "http")).toEqual({
      auth: "none",
      maxSessions: 3,
    });
  });
});

describe("every option reaches the service", () => {
  test("each config key and each flag, set to a value that is not its default, shows in status settings", async () => {
    const d = scope.dir();
    const { config, flags, expected } = everyOption(d);
    const fromConfig = parseConfig({ servers: { a: { ...config, socket: join(d, "a.sock") } } }).services.a;
    expect(fromConfig).toMatchObject({ ...expected, serviceName: "svc" });
    const byFlag = Object.fromEntries(
      optionsOf("service")
        .filter(([name, spec]) => spec.flag && name !== "cmd" && expected[name] !== undefined)
        .map(([name]) => [name, expected[name]]),
    );
    expect(parseServiceFlags(flags)).toEqual(byFlag);

    const mux = await startMux({ ...(fromConfig as NonNullable<typeof fromConfig>), logger: silentLogger });
    scope.defer(() => mux.close());
    expect(mux.status().settings as unknown).toEqual(shown(expected));
  });

  test("through the mux binary: every flag shows in the status file", async () => {
    const d = scope.dir();
    const { flags, expected } = everyOption(d);
    const argv = Object.entries(flags).flatMap(([flag, value]) =>
      value === true ? [`--${flag}`] : value === false ? [`--no-${flag}`] : [`--${flag}`, String(value)],
    );
    const proc = Bun.spawn({
      cmd: [MUX_BIN, "serve", "--socket", join(d, "b.sock"), "--cmd", BUN, ...argv, "--", FAKE_SERVER],
      cwd: d,
      stderr: "pipe",
    });
    scope.defer(async () => {
      proc.kill("SIGTERM");
      await proc.exited;
    });
    const file = expected.statusFile as string;
    await waitFor(
      () => {
        try {
          return JSON.parse(readFileSync(file, "utf8")).settings !== undefined;
        } catch {
          return false;
        }
      },
      10_000,
      "the status file",
    );
    const { cwd: _cwd, env: _env, ...rest } = expected;
    expect(JSON.parse(readFileSync(file, "utf8")).settings).toEqual(shown({ ...rest, args: [FAKE_SERVER], cmd: BUN }));
  });
});

// --- helpers ---

/** A value of every service option that differs from its default, as config, as flags and as options. */
function everyOption(d: string): {
  config: Record<string, unknown>;
  flags: Record<string, unknown>;
  expected: Record<string, unknown>;
} {
  const config: Record<string, unknown> = {};
  const flags: Record<string, unknown> = {};
  const expected: Record<string, unknown> = {};
  const special: Record<string, unknown> = {
    socket: undefined,
    cmd: BUN,
    args: [FAKE_SERVER],
    env: { MUX_TEST_VAR: "1" },
    cwd: d,
    serviceName: "svc",
    statusFile: join(d, "status.json"),
    // One setting with `isolated` (set to true below): the value that agrees with it.
    share: "client",
  };
  for (const [name, spec] of optionsOf("service")) {
    let value: unknown;
    if (name in special) value = special[name];
    else if (spec.kind === "int")
      value = (spec.min ?? 0) + 7 === spec.default ? (spec.min ?? 0) + 8 : (spec.min ?? 0) + 7;
    else if (spec.kind === "bool") value = !spec.default;
    else if (spec.kind === "enum") value = spec.values?.find((v) => v !== spec.default);
    else if (spec.kind === "strings") value = ["A_VAR", "B_VAR"];
    else if (spec.kind === "capabilities") value = ["sampling", "roots"];
    else throw new Error(`no test value for ${name} (${spec.kind})`);
    if (value === undefined) continue;
    expected[name] = value;
    if (spec.key) config[spec.key] = value;
    if (spec.flag && name !== "cmd")
      flags[spec.flag] =
        spec.kind === "int" ? String(value) : Array.isArray(value) ? value.join(",") : (value as string | boolean);
  }
  return { config, flags, expected };
}

/** What status settings show of these options: the table's shown fields, env as its names. */
function shown(options: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of optionsOf("service")) {
    if (spec.noStatus) continue;
    if (spec.kind === "env") out[spec.status ?? name] = Object.keys((options[name] as object) ?? {});
    else out[name] = options[name] ?? (spec.default !== undefined ? spec.default : null);
  }
  return out;
}
