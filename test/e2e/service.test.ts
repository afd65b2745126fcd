/**
 * Login services (issue: install and keep running by itself): the systemd user unit and the
 * launchd agent are rendered and validated by the tools that read them (systemd-analyze,
 * Python's plistlib with launchd's keys), and `mux service` installs, reports and removes one
 * in a temporary home, never touching the config.
 */

import { describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
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
    expect(status.code).toBe(0);
    expect(status.out).toContain(`installed: ${unitPath}`);

    const removed = mux(["service", "uninstall"]);
    expect(removed.code).toBe(0);
    expect(existsSync(unitPath)).toBe(false);
    expect(readFileSync(config, "utf8")).toBe(configText);
    expect(mux(["service", "status"]).code).toBe(1);
  });
});
