/**
 * Login services (issue: install and keep running by itself): the systemd user unit and the
 * launchd agent are rendered and validated by the tools that read them (systemd-analyze,
 * Python's plistlib with launchd's keys), and `mux service` installs, reports and removes one
 * in a temporary home, never touching the config.
 */

import { describe, expect, test } from "bun:test";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { renderService } from "../../src/service/login.ts";
import { BUN, FAKE_SERVER, MUX_BIN, testScope, waitFor } from "../helpers.ts";

const scope = testScope("bin");

/** A tool from a Debian package: installed with apt-get when missing (as root), else undefined. */
function tool(name: string, pkg: string): string | undefined {
  const found = Bun.which(name);
  if (found) return found;
  if (process.getuid?.() === 0 && Bun.which("apt-get")) {
    Bun.spawnSync(["apt-get", "install", "-y", "-qq", pkg], { stdout: "ignore", stderr: "ignore" });
    return Bun.which(name) ?? undefined;
  }
  return undefined;
}

const systemdAnalyze = tool("systemd-analyze", "systemd");
const python = tool("python3", "python3");
if (!systemdAnalyze)
  console.log("skipping the systemd unit validation: systemd-analyze is not installed and cannot be");
if (!python) console.log("skipping the launchd plist validation: python3 is not installed and cannot be");

describe("service files", () => {
  // A path with a space, a dollar and a percent sign: each needs escaping in a unit.
  const weird = (d: string) => join(d, "my conf $HOME 100%", "config.yaml");

  test.skipIf(!systemdAnalyze)("the systemd user unit passes systemd-analyze verify --user", () => {
    const d = scope.dir();
    const config = weird(d);
    mkdirSync(join(config, ".."), { recursive: true });
    writeFileSync(config, "servers: {}\n");
    const unit = renderService(
      { mux: MUX_BIN, config, path: "/usr/local/bin:/usr/bin:/bin", env: { HOME: d } },
      "systemd",
    );
    expect(unit.name).toBe(`mcp-mux-config-${unit.name.slice(15, 23)}.service`);
    expect(unit.text).toContain("Restart=on-failure");
    expect(unit.text).toContain("ExecReload=/bin/kill -HUP $MAINPID");
    const file = join(d, unit.name);
    writeFileSync(file, unit.text);
    const runtime = join(d, "run");
    mkdirSync(runtime, { mode: 0o700 });
    const r = Bun.spawnSync([systemdAnalyze as string, "verify", "--user", file], {
      env: { ...process.env, XDG_RUNTIME_DIR: runtime },
      stderr: "pipe",
    });
    const complaints = r.stderr.toString().trim();
    expect({ code: r.exitCode, complaints }).toEqual({ code: 0, complaints: "" });
    // The quoting is what systemd reads back: the arguments arrive intact.
    expect(unit.text).toContain(`"${config.replace("$", () => "$$").replace("%", "%%")}"`);
    // A broken unit is caught by the same check (the test could fail).
    writeFileSync(file, unit.text.replace("Restart=on-failure", "Restart=sometimes"));
    const bad = Bun.spawnSync([systemdAnalyze as string, "verify", "--user", file], {
      env: { ...process.env, XDG_RUNTIME_DIR: runtime },
      stderr: "pipe",
    });
    expect(bad.stderr.toString()).toContain("restart specifier");
  });

  test.skipIf(!python)("the launchd agent is a valid plist with launchd's keys", () => {
    const d = scope.dir();
    const config = weird(d);
    const agent = renderService(
      { mux: "/Users/u/.local/bin/mux", config, path: "/usr/bin:/bin", env: { HOME: d } },
      "launchd",
    );
    expect(agent.path).toBe(join(d, "Library", "LaunchAgents", `${agent.name}.plist`));
    const file = join(d, "agent.plist");
    writeFileSync(file, agent.text);
    const check = `
import plistlib, sys, json
p = plistlib.load(open(sys.argv[1], "rb"))
known = {"Label","ProgramArguments","RunAtLoad","KeepAlive","ProcessType","StandardOutPath","StandardErrorPath","EnvironmentVariables"}
assert set(p) <= known, set(p) - known
assert isinstance(p["Label"], str) and p["Label"].startswith("dev.mcp-mux.")
assert all(isinstance(a, str) for a in p["ProgramArguments"])
assert p["RunAtLoad"] is True
assert p["KeepAlive"] == {"SuccessfulExit": False}
assert p["ProcessType"] in ("Background", "Standard", "Adaptive", "Interactive")
print(json.dumps(p["ProgramArguments"]))
`;
    const r = Bun.spawnSync([python as string, "-c", check, file], { stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(JSON.parse(r.stdout.toString())).toEqual(["/Users/u/.local/bin/mux", "serve", "--config", config]);
  });
});

describe("mux service", () => {
  test("install writes and (here: cannot) enables the unit, status reports it, uninstall removes it and keeps the config", async () => {
    const home = scope.dir();
    const bin = join(home, ".local", "bin");
    mkdirSync(bin, { recursive: true });
    copyFileSync(MUX_BIN, join(bin, "mux"));
    chmodSync(join(bin, "mux"), 0o755);
    const config = join(home, ".config", "mcp-mux", "config.json");
    mkdirSync(join(config, ".."), { recursive: true });
    const configText = JSON.stringify({ servers: { fake: { cmd: BUN, args: [FAKE_SERVER] } } });
    writeFileSync(config, configText);
    const env: Record<string, string | undefined> = {
      ...process.env,
      HOME: home,
      MUX_RUNTIME_DIR: join(home, "run"),
      MUX_STATE_DIR: join(home, "state"),
    };
    delete env.XDG_CONFIG_HOME;
    const mux = (args: string[]) => {
      const p = Bun.spawnSync([join(bin, "mux"), ...args], { env, stdout: "pipe", stderr: "pipe" });
      return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
    };
    const unitPath = join(home, ".config", "systemd", "user", "mcp-mux.service");

    const printed = mux(["service", "install", "--print"]);
    expect(printed.code).toBe(0);
    expect(printed.out).toContain(`ExecStart=${join(bin, "mux")} serve --config ${config}`);
    expect(existsSync(unitPath)).toBe(false);

    // A daemon already running the config (auto-started, say) makes way for the service's.
    const running = Bun.spawn({ cmd: [join(bin, "mux"), "serve", "--config", config], env, stderr: "ignore" });
    scope.defer(() => running.kill());
    await waitFor(() => existsSync(join(home, "run", "fake.sock")), 10_000, "the running daemon");
    // Its control socket opens once its services are up: that is what install asks.
    await waitFor(
      () => existsSync(join(home, "run")) && readdirSync(join(home, "run")).some((f) => f.startsWith("control-")),
      10_000,
      "the daemon's control socket",
    );

    const installed = mux(["service", "install"]);
    expect(installed.code).toBe(0);
    expect(installed.out).toContain(`installed ${unitPath}`);
    expect(installed.out).toContain("stopping the daemon already running");
    expect(await running.exited).toBe(0);
    // No systemd user session in this container: the commands to run are printed instead.
    if (!installed.out.includes("enabled:"))
      expect(installed.out).toContain("systemctl --user enable --now mcp-mux.service");
    expect(readFileSync(unitPath, "utf8")).toContain(`ExecStart=${join(bin, "mux")} serve --config ${config}`);

    const status = mux(["service", "status"]);
    expect(status.out).toContain(`installed: ${unitPath}`);
    // Whether this machine has a systemd user session, asked of systemctl itself.
    const probe = Bun.which("systemctl")
      ? Bun.spawnSync(["systemctl", "--user", "status", "--no-pager"], { env, stdout: "pipe", stderr: "pipe" })
      : undefined;
    const noBus = !probe || /Failed to connect to bus|not been booted with systemd/.test(probe.stderr.toString());
    if (noBus) {
      // No systemd user session here: said in plain words, with a code of its own (not 0).
      expect(status.out).toContain("cannot tell whether it runs: systemd (systemctl --user) cannot be reached here");
      expect(status.out).toContain(`to run the daemon now: mux serve --config ${config}`);
      expect(status.code).toBe(4);
    } else expect([0, 3]).toContain(status.code);

    const removed = mux(["service", "uninstall"]);
    expect(removed.code).toBe(0);
    expect(existsSync(unitPath)).toBe(false);
    expect(readFileSync(config, "utf8")).toBe(configText);
    expect(mux(["service", "status"]).code).toBe(1);
  });
});

describe("mux service install refuses what it cannot write safely", () => {
  /** A temporary home with an installed mux at `bin` and a config. */
  function setup(bin?: string) {
    const home = scope.dir();
    const dir = bin ?? join(home, ".local", "bin");
    mkdirSync(dir, { recursive: true });
    copyFileSync(MUX_BIN, join(dir, "mux"));
    chmodSync(join(dir, "mux"), 0o755);
    const config = join(home, ".config", "mcp-mux", "config.json");
    mkdirSync(join(config, ".."), { recursive: true });
    writeFileSync(config, JSON.stringify({ servers: {} }));
    const env: Record<string, string | undefined> = {
      ...process.env,
      HOME: home,
      MUX_RUNTIME_DIR: join(home, "run"),
      MUX_STATE_DIR: join(home, "state"),
    };
    delete env.XDG_CONFIG_HOME;
    const mux = (args: string[]) => {
      const p = Bun.spawnSync([join(dir, "mux"), ...args], { env, stdout: "pipe", stderr: "pipe" });
      return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
    };
    return { home, bin: dir, config, mux, units: join(home, ".config", "systemd", "user") };
  }

  test.skipIf(!systemdAnalyze)(
    "a mux path with spaces and a config path with quotes, a backslash, $ and %: quoted so systemd-analyze verify accepts the unit; a mux path systemd cannot run is refused",
    () => {
      const outer = scope.dir();
      const t = setup(join(outer, "my mux $HOME 100%", "bin"));
      const config = join(outer, `it's "my" \\ conf $X 5%.json`);
      writeFileSync(config, "{}");
      const printed = t.mux(["service", "install", "--print", "--mux", join(t.bin, "mux"), "--config", config]);
      expect(printed.code).toBe(0);
      const unit = printed.out.split("\n").slice(1).join("\n");
      const file = join(outer, "mcp-mux.service");
      writeFileSync(file, unit);
      const runtime = join(outer, "run");
      mkdirSync(runtime, { mode: 0o700 });
      const verify = () =>
        Bun.spawnSync([systemdAnalyze as string, "verify", "--user", file], {
          env: { ...process.env, XDG_RUNTIME_DIR: runtime },
          stderr: "pipe",
        });
      const r = verify();
      expect({ code: r.exitCode, complaints: r.stderr.toString().trim() }).toEqual({ code: 0, complaints: "" });
      // The executable is not $-substituted by systemd (a $ stays itself there); arguments are.
      expect(unit).toContain(`ExecStart="${join(t.bin, "mux").replace("%", "%%")}" serve --config "`);
      // systemd refuses executables whose path holds a quote or a backslash: refused before writing.
      const quoted = setup(join(outer, `it's "here"`, "bin"));
      const refused = quoted.mux(["service", "install", "--mux", join(quoted.bin, "mux")]);
      expect(refused.code).not.toBe(0);
      expect(refused.err).toContain("systemd cannot run an executable whose path holds quotes or backslashes");
      expect(existsSync(quoted.units)).toBe(false);
      // (Written anyway, systemd-analyze rejects such a unit: the refusal is not needless.)
      writeFileSync(
        file,
        unit.replace(
          `"${join(t.bin, "mux").replace("%", "%%")}"`,
          `"${join(quoted.bin, "mux").replaceAll('"', '\\"')}"`,
        ),
      );
      expect(verify().stderr.toString()).toContain("Executable name contains special characters");
    },
  );

  test("a mux or config path with a newline is refused, and nothing is written", () => {
    const outer = scope.dir();
    const t = setup(join(outer, "evil\nExecStartPre=/bin/sh -c id"));
    const r = t.mux(["service", "install", "--mux", join(t.bin, "mux")]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain("holds a newline or another control character");
    expect(existsSync(t.units)).toBe(false);
    const printed = t.mux(["service", "install", "--print", "--mux", join(t.bin, "mux")]);
    expect(printed.code).not.toBe(0);
    expect(printed.out).not.toContain("ExecStartPre");
  });

  test("a unit folder that is a symbolic link, or that others may write to, is refused; nothing is written through it", () => {
    const t = setup();
    const elsewhere = join(t.home, "elsewhere");
    mkdirSync(elsewhere, { mode: 0o755 });
    mkdirSync(join(t.units, ".."), { recursive: true });
    symlinkSync(elsewhere, t.units);
    const linked = t.mux(["service", "install"]);
    expect(linked.code).not.toBe(0);
    expect(linked.err).toContain(
      `refusing to write the login service into ${t.units}: it is a symbolic link (to ${elsewhere})`,
    );
    expect(readdirSync(elsewhere)).toEqual([]);

    const t2 = setup();
    mkdirSync(t2.units, { recursive: true });
    chmodSync(t2.units, 0o777);
    const open = t2.mux(["service", "install"]);
    expect(open.code).not.toBe(0);
    expect(open.err).toContain(`other users may write to ${t2.units} (mode 0777)`);
    expect(readdirSync(t2.units)).toEqual([]);
  });

  test.skipIf(process.getuid?.() !== 0)("a unit folder (or one above it) of another user is refused", () => {
    const t = setup();
    const systemd = join(t.home, ".config", "systemd");
    mkdirSync(t.units, { recursive: true });
    chownSync(systemd, 65534, 65534);
    const r = t.mux(["service", "install"]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(`${systemd} belongs to uid 65534, not to you (uid 0)`);
    expect(readdirSync(t.units)).toEqual([]);
  });
});
