/**
 * The daemon's status icon: one helper process (see helper.ts) speaking systray2's line
 * protocol, a section per service in its menu, refreshed at most once a second with only the
 * lines that changed, and "Quit mux". The helper can fail in every way (no display, missing
 * libraries, no tray host, killed): the result is one warning and a daemon that serves on.
 * If the daemon dies, the helper sees its stdin close and exits too.
 * @module
 */

import type { Subprocess } from "bun";
import type { MuxLogger } from "../mux/logger.ts";
import { type ExtractedHelper, trayHelper } from "./helper.ts";
import { trayIcon } from "./icon.ts";
import {
  DASHBOARD_TITLE,
  menuItems,
  QUIT_TITLE,
  type TrayItem,
  type TrayService,
  trayLevel,
  traySummary,
} from "./menu.ts";

/** Options of {@link startTray}. */
export interface TrayOptions {
  /** The services' snapshots, read at every refresh. */
  status: () => TrayService[];
  /** "Quit mux" was clicked: shut the daemon down (as SIGTERM would). */
  onQuit: () => void;
  /** "Open dashboard" was clicked (the item is shown only with this). */
  onDashboard?: () => void;
  logger: MuxLogger;
  env?: Record<string, string | undefined>;
  /** Refresh period (default 1000 ms). */
  intervalMs?: number;
  /** How long the helper may take to say it is ready (default 5000 ms). */
  readyTimeoutMs?: number;
}

/** A running (or given-up) tray. */
export interface TrayHandle {
  /** True while the icon is shown. */
  readonly running: boolean;
  /** The helper's pid while it runs. */
  readonly pid: number | undefined;
  /** Remove the icon and end the helper. */
  close(): Promise<void>;
}

/** Start the icon. Never throws: a failure is logged once and the handle does nothing. */
export async function startTray(options: TrayOptions): Promise<TrayHandle> {
  const tray = new Tray(options);
  await tray.start();
  return tray;
}

// --- internal ---

class Tray implements TrayHandle {
  private proc: Subprocess<"pipe", "pipe", "pipe"> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private sent = new Map<number, string>();
  private level = "";
  private names = "";
  private quitId = 0;
  private dashboardId = 0;
  private closing = false;
  private warned = false;
  private stderrTail = "";

  constructor(private readonly options: TrayOptions) {}

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get pid(): number | undefined {
    return this.running ? this.proc?.pid : undefined;
  }

  async start(): Promise<void> {
    const env = this.options.env ?? process.env;
    if (process.platform === "linux" && !env.DISPLAY && !env.WAYLAND_DISPLAY)
      return this.giveUp("no display (DISPLAY and WAYLAND_DISPLAY are unset)");
    let helper: ExtractedHelper;
    try {
      helper = await trayHelper(env);
    } catch (error) {
      return this.giveUp(error instanceof Error ? error.message : String(error));
    }
    if (!(await this.launch(helper))) return;
    this.timer = setInterval(() => this.refresh(), this.options.intervalMs ?? 1000);
    this.timer.unref?.();
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    await this.stopHelper();
  }

  /**
   * Spawn the helper, wait for `ready`, send the whole menu. False (after a warning) on
   * failure. The helper's file, written for this start, is removed once it runs (or fails).
   */
  private async launch(helper: ExtractedHelper): Promise<boolean> {
    try {
      return await this.run(helper.path);
    } finally {
      helper.remove();
    }
  }

  private async run(path: string): Promise<boolean> {
    let proc: Subprocess<"pipe", "pipe", "pipe">;
    try {
      proc = Bun.spawn([path], {
        stdin: "pipe",
        stdout: "pipe",
        // A pipe, not inherited: when the daemon is killed, the helper's next stderr write
        // gets SIGPIPE and it ends instead of looping on a closed stdin.
        stderr: "pipe",
        env: this.options.env ?? process.env,
        windowsHide: true,
      });
    } catch (error) {
      this.giveUp(`cannot run the icon helper ${path}: ${String(error)}`);
      return false;
    }
    this.proc = proc;
    void this.drainStderr(proc);
    let ready!: (ok: boolean) => void;
    const isReady = new Promise<boolean>((resolve) => {
      ready = resolve;
    });
    void this.readLines(proc, () => ready(true));
    void proc.exited.then((code) => {
      ready(false);
      if (this.proc !== proc || this.closing) return;
      this.giveUp(
        proc.signalCode
          ? `the icon helper was killed (${proc.signalCode})`
          : `the icon helper exited with code ${code}${this.reason()}`,
      );
    });
    const timeout = setTimeout(() => ready(false), this.options.readyTimeoutMs ?? 5000);
    const ok = await isReady;
    clearTimeout(timeout);
    if (!ok) {
      if (proc.exitCode === null && proc.signalCode === null) {
        this.giveUp(`the icon helper did not start within ${this.options.readyTimeoutMs ?? 5000} ms (no tray host?)`);
        proc.kill("SIGKILL");
      }
      return false;
    }
    const services = this.options.status();
    const items = menuItems(services, this.options.onDashboard !== undefined);
    this.quitId = items.find((i) => i.title === QUIT_TITLE)?.__id ?? 0;
    this.dashboardId = items.find((i) => i.title === DASHBOARD_TITLE)?.__id ?? 0;
    this.names = services.map((s) => s.service).join("\n");
    this.level = trayLevel(services);
    this.sent = new Map(items.map((i) => [i.__id, JSON.stringify(i)]));
    this.write({ icon: trayIcon(trayLevel(services)), title: "", tooltip: traySummary(services), items });
    this.options.logger.debug(`tray: icon shown (helper pid ${proc.pid})`);
    return true;
  }

  /** Send what changed since the last refresh; a new set of services rebuilds the menu. */
  private refresh(): void {
    if (!this.running || this.closing) return;
    const services = this.options.status();
    if (services.map((s) => s.service).join("\n") !== this.names) {
      void this.rebuild();
      return;
    }
    for (const item of menuItems(services, this.options.onDashboard !== undefined)) this.updateItem(item);
    const level = trayLevel(services);
    if (level !== this.level) {
      this.level = level;
      this.write({
        type: "update-menu",
        menu: { icon: trayIcon(level), title: "", tooltip: traySummary(services) },
      });
    }
  }

  private updateItem(item: TrayItem): void {
    const json = JSON.stringify(item);
    if (this.sent.get(item.__id) === json) return;
    this.sent.set(item.__id, json);
    this.write({ type: "update-item", item, seq_id: -1 });
  }

  /** The helper's menu cannot grow: a reload that adds or removes services restarts it. */
  private async rebuild(): Promise<void> {
    const helper = this.proc ? await trayHelper(this.options.env ?? process.env).catch(() => undefined) : undefined;
    await this.stopHelper();
    if (helper && !this.closing) await this.launch(helper);
    else helper?.remove();
  }

  private async stopHelper(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    this.writeTo(proc, { type: "exit" });
    const gone = await Promise.race([proc.exited.then(() => true), Bun.sleep(1000).then(() => false)]);
    if (!gone) proc.kill("SIGKILL");
  }

  private async readLines(proc: Subprocess<"pipe", "pipe", "pipe">, onReady: () => void): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = "";
    try {
      for await (const chunk of proc.stdout) {
        buffered += decoder.decode(chunk, { stream: true });
        let nl = buffered.indexOf("\n");
        while (nl >= 0) {
          this.onLine(buffered.slice(0, nl).trim(), onReady);
          buffered = buffered.slice(nl + 1);
          nl = buffered.indexOf("\n");
        }
      }
    } catch {
      // The helper went away; its exit is reported once, elsewhere.
    }
  }

  private onLine(line: string, onReady: () => void): void {
    if (!line.startsWith("{")) return; // the helper also prints plain words ("Quit")
    let msg: { type?: string; __id?: number; item?: { __id?: number } };
    try {
      msg = JSON.parse(line);
    } catch {
      return;
    }
    if (msg.type === "ready") onReady();
    else if (msg.type === "clicked" && (msg.__id ?? msg.item?.__id) === this.quitId && this.quitId > 0) {
      this.options.logger.info("tray: Quit mux");
      this.options.onQuit();
    } else if (msg.type === "clicked" && (msg.__id ?? msg.item?.__id) === this.dashboardId && this.dashboardId > 0) {
      this.options.logger.info("tray: Open dashboard");
      this.options.onDashboard?.();
    }
  }

  private async drainStderr(proc: Subprocess<"pipe", "pipe", "pipe">): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of proc.stderr) this.stderrTail = (this.stderrTail + decoder.decode(chunk)).slice(-2000);
    } catch {
      // closed
    }
  }

  private write(message: unknown): void {
    if (this.proc) this.writeTo(this.proc, message);
  }

  private writeTo(proc: Subprocess<"pipe", "pipe", "pipe">, message: unknown): void {
    try {
      proc.stdin.write(`${JSON.stringify(message)}\n`);
      proc.stdin.flush();
    } catch {
      // The helper is gone: its exit says so.
    }
  }

  private reason(): string {
    const tail = this.stderrTail
      .trim()
      .split("\n")
      .filter((l) => l.trim())
      .slice(-2)
      .join(" / ");
    return tail ? `: ${tail}` : "";
  }

  /** One warning, ever; the daemon carries on without the icon. */
  private giveUp(why: string): void {
    clearInterval(this.timer);
    if (this.warned) return;
    this.warned = true;
    this.options.logger.warn(`tray: ${why}; serving without the status icon`);
  }
}
