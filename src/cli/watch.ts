/**
 * `mux status --watch`: on a terminal, a live table redrawn every interval on the alternate
 * screen (q or Ctrl-C quits and gives the terminal back as it was); through a pipe, one plain
 * line per interval. Requests per second come from the change of each service's request
 * count between two refreshes.
 * @module
 */

import { renderStatusTable, type StatusRow, statusLine } from "./status.ts";
import { colorEnabled } from "./tty.ts";

/** What to watch: a label for the header and a way to read the rows. */
export interface WatchTarget {
  label: string;
  read: () => Promise<StatusRow[]>;
}

/** Watch until the user quits (terminal), or until the pipe closes or a signal comes. */
export async function watchStatus(target: WatchTarget, options: { interval: number; json: boolean }): Promise<void> {
  const tty = Boolean(process.stdout.isTTY) && !options.json;
  const rates = new Rates();
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const restore = tty ? takeTerminal(stop) : undefined;
  const onSignal = () => stop();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // A reader that went away (`| head`) ends the watch instead of an EPIPE crash.
  process.stdout.on("error", onSignal);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = true;
  void stopped.then(() => {
    running = false;
    clearTimeout(timer);
  });
  try {
    while (running) {
      const rows = await target.read();
      if (!running) break;
      const now = performance.now();
      const perSecond = rates.update(rows, now);
      if (options.json)
        process.stdout.write(
          `${JSON.stringify({ at: new Date().toISOString(), services: rows, rates: Object.fromEntries(perSecond) })}\n`,
        );
      else if (tty) process.stdout.write(screen(target.label, rows, perSecond, options.interval));
      else process.stdout.write(statusLine(rows, perSecond));
      await Promise.race([
        stopped,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, options.interval);
        }),
      ]);
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    restore?.();
  }
}

// --- internal ---

/** Requests per second per service, from the change of `requestsTotal` between refreshes. */
class Rates {
  private last = new Map<string, { total: number; at: number }>();

  update(rows: StatusRow[], now: number): Map<string, number> {
    const out = new Map<string, number>();
    const next = new Map<string, { total: number; at: number }>();
    for (const r of rows) {
      const name = String(r.service);
      if (typeof r.requestsTotal !== "number") continue;
      const before = this.last.get(name);
      next.set(name, { total: r.requestsTotal, at: now });
      // A restarted daemon starts counting again: no rate for that refresh.
      if (before && now > before.at && r.requestsTotal >= before.total)
        out.set(name, ((r.requestsTotal - before.total) * 1000) / (now - before.at));
    }
    this.last = next;
    return out;
  }
}

/** The whole screen: home, header, table cut to the terminal's width, clear the rest. */
function screen(label: string, rows: StatusRow[], rates: Map<string, number>, interval: number): string {
  const width = process.stdout.columns || 120;
  const time = new Date().toLocaleTimeString();
  const header = `mux status  ${label}  ${time}  (every ${interval / 1000}s; q quits)`.slice(0, width);
  const table = renderStatusTable(rows, { rates, socket: false, color: colorEnabled(), width });
  const lines = [header, "", ...table.trimEnd().split("\n")];
  return `\x1b[H${lines.map((l) => `${l}\x1b[K`).join("\n")}\n\x1b[J`;
}

/**
 * Alternate screen, hidden cursor, raw keys (q, Q, Ctrl-C, Esc quit). Returns the function
 * that gives the terminal back exactly as it was, also when the process exits early.
 */
function takeTerminal(quit: () => void): () => void {
  const stdin = process.stdin;
  const raw = stdin.isTTY ? stdin.isRaw : false;
  process.stdout.write("\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J");
  const onKey = (data: Buffer) => {
    const key = data.toString("latin1");
    if (key === "q" || key === "Q" || key === "\x03" || key === "\x1b") quit();
  };
  if (stdin.isTTY) {
    stdin.setRawMode(true);
    stdin.on("data", onKey);
    stdin.resume();
  }
  let done = false;
  const restore = () => {
    if (done) return;
    done = true;
    if (stdin.isTTY) {
      stdin.off("data", onKey);
      stdin.setRawMode(raw);
      stdin.pause();
    }
    process.stdout.write("\x1b[?25h\x1b[?1049l");
  };
  process.once("exit", restore);
  return restore;
}
