/**
 * The dashboard: one self-contained page (no external assets) and its two data endpoints,
 * served by the HTTP front at `/dashboard` and, for a daemon without MCP over HTTP, by a
 * loopback listener of its own ({@link startDashboard}). The page carries no data; the data
 * endpoints follow the front's token rules: the page takes the token from its URL fragment
 * (`/dashboard#token=…`, never sent to the server, dropped from the address bar at once) and
 * sends it as `Authorization: Bearer` on its requests, the live stream included (read with
 * `fetch`, since `EventSource` cannot send headers).
 *
 * `GET /dashboard/api/state`: services (status snapshots), their requests/s and latency over
 * the last five minutes, restarts and other events, the children's stderr tail and recent
 * traffic. `GET /dashboard/api/events`: the same as server-sent events, once a second, with
 * only the traffic that is new (at most 200 messages a second; the rest is counted).
 * @module
 */

import { MuxError } from "../errors.ts";
import { checkRequest, isLoopback } from "./checks.ts";
import { DASHBOARD_PAGE } from "./dashboard-page.ts";

/** One entry of a service's record, as the dashboard reads it (mux's `RecordEntry`). */
export interface RecordEntry {
  type: string;
  /** Milliseconds since the epoch. */
  t: number;
  /** A response's latency. */
  ms?: number;
}

/** A service's record, as the dashboard reads it (mux's `Recorder`). */
export interface Recorder {
  entries(filter?: (e: RecordEntry) => boolean): RecordEntry[];
  follow(fn: (e: RecordEntry) => void): () => void;
}

/** Where the dashboard's data comes from. */
export interface DashboardSource {
  /** Status snapshots of the running services. */
  status(): readonly unknown[];
  /** Their records, by service name. */
  records(): ReadonlyMap<string, Recorder>;
}

/** True for the paths the dashboard answers. */
export function isDashboardPath(path: string): boolean {
  return path === "/dashboard" || path === "/dashboard/" || path.startsWith("/dashboard/api/");
}

/** The page needs no token (it holds no data); its endpoints do. */
export function dashboardNeedsToken(path: string): boolean {
  return path.startsWith("/dashboard/api/");
}

/** Answer a dashboard request that passed the Host/Origin (and, for data, token) checks. */
export function serveDashboard(
  req: Request,
  url: URL,
  source: DashboardSource,
  server?: Bun.Server<undefined>,
): Response {
  if (req.method !== "GET" && req.method !== "HEAD")
    return new Response("Method Not Allowed", { status: 405, headers: { allow: "GET" } });
  if (!dashboardNeedsToken(url.pathname))
    return new Response(DASHBOARD_PAGE, {
      headers: {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "content-security-policy":
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
      },
    });
  const sampler = samplerOf(source);
  if (url.pathname === "/dashboard/api/state") return json(sampler.state(true));
  if (url.pathname === "/dashboard/api/events") {
    server?.timeout(req, 0);
    const encoder = new TextEncoder();
    let stop: (() => void) | undefined;
    const body = new ReadableStream<Uint8Array>(
      {
        start(controller) {
          controller.enqueue(encoder.encode(": mcp-mux dashboard\n\n"));
          stop = sampler.subscribe((state) => {
            // A reader that does not keep up is ended (memory stays flat); the page reconnects.
            if ((controller.desiredSize ?? 0) < -MAX_SSE_BACKLOG) {
              stop?.();
              controller.close();
              return;
            }
            controller.enqueue(encoder.encode(`data: ${JSON.stringify(state)}\n\n`));
          });
        },
        cancel() {
          stop?.();
        },
      },
      new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }),
    );
    req.signal.addEventListener("abort", () => stop?.(), { once: true });
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      },
    });
  }
  return new Response("Not Found", { status: 404 });
}

/** Stop the sampling of a source (its server closed). */
export function stopDashboard(source: DashboardSource): void {
  samplers.get(source)?.close();
  samplers.delete(source);
}

/** A dashboard on its own listener. */
export interface DashboardServer {
  /** `http://127.0.0.1:PORT/dashboard` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serve the dashboard alone on a loopback `HOST:PORT` (port 0: any free port), with `token`
 * required on its data (undefined: none, like the front's `auth = "none"`).
 */
export function startDashboard(options: {
  listen: string;
  token: string | undefined;
  source: DashboardSource;
}): DashboardServer {
  const m = /^(?:(.*):)?(\d{1,5})$/.exec(options.listen.trim());
  const hostname = (m?.[1] || "127.0.0.1").replace(/^\[(.*)\]$/, "$1");
  const port = Number(m?.[2] ?? Number.NaN);
  if (!m || port > 65535) throw new MuxError("CONFIG_INVALID", `dashboard: ${options.listen} is not HOST:PORT`);
  if (!isLoopback(hostname))
    throw new MuxError(
      "CONFIG_INVALID",
      `dashboard: ${hostname} is not a loopback address (the dashboard is local only)`,
    );
  const allowed = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);
  const server = Bun.serve({
    hostname,
    port,
    idleTimeout: 30,
    fetch(req, srv) {
      const url = new URL(req.url);
      if (!isDashboardPath(url.pathname)) {
        if (url.pathname === "/") return Response.redirect("/dashboard", 302);
        return new Response("Not Found", { status: 404 });
      }
      const refused = checkRequest(
        req,
        allowed,
        dashboardNeedsToken(url.pathname) ? options.token : undefined,
        port === 0 ? undefined : port,
        srv.port,
      );
      if (refused) return refused;
      return serveDashboard(req, url, options.source, srv);
    },
  });
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: `http://${host}:${server.port}/dashboard`,
    async close() {
      stopDashboard(options.source);
      await server.stop(true);
    },
  };
}

// --- internal ---

/** Seconds of history the charts show. */
const HISTORY_S = 300;
/** New messages sent per tick at most. */
const MAX_TRAFFIC_PER_TICK = 200;
/** Events and stderr lines kept per service for the page. */
const TAIL = 50;
const MAX_SSE_BACKLOG = 4 * 1024 * 1024;

const samplers = new WeakMap<DashboardSource, Sampler>();

function samplerOf(source: DashboardSource): Sampler {
  let s = samplers.get(source);
  if (!s) {
    s = new Sampler(source);
    samplers.set(source, s);
  }
  return s;
}

interface Series {
  /** [time (ms), requests/s, mean latency (ms) or null, max latency or null] per second. */
  points: [number, number, number | null, number | null][];
  lastTotal: number | undefined;
  latencies: number[];
  events: RecordEntry[];
  stderr: RecordEntry[];
  unfollow: () => void;
  recorder: Recorder;
}

/** Samples each service once a second and feeds the live streams. */
class Sampler {
  private readonly series = new Map<string, Series>();
  private readonly subscribers = new Set<(state: unknown) => void>();
  private fresh: RecordEntry[] = [];
  private dropped = 0;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly source: DashboardSource) {
    this.sync();
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref?.();
  }

  subscribe(fn: (state: unknown) => void): () => void {
    this.subscribers.add(fn);
    fn(this.state(false));
    return () => this.subscribers.delete(fn);
  }

  /** The page's data; `full`: recent traffic from the records, else only what is new. */
  state(full: boolean): unknown {
    this.sync();
    const statuses = this.source.status() as { service?: unknown }[];
    const services = statuses.map((s) => {
      const name = String(s.service);
      const series = this.series.get(name);
      return {
        ...s,
        series: series?.points ?? [],
        events: series?.events ?? [],
        stderr: series?.stderr ?? [],
      };
    });
    let traffic: RecordEntry[];
    if (full) {
      traffic = [...this.series.values()]
        .flatMap((x) => {
          const all = x.recorder.entries((e) => e.type === "message");
          return all.slice(Math.max(0, all.length - 300));
        })
        .sort((a, b) => a.t - b.t);
      traffic = traffic.slice(Math.max(0, traffic.length - 300));
    } else traffic = this.fresh;
    return { t: Date.now(), services, traffic, dropped: full ? 0 : this.dropped, full };
  }

  close(): void {
    clearInterval(this.timer);
    for (const s of this.series.values()) s.unfollow();
    this.series.clear();
    this.subscribers.clear();
  }

  /** Follow services that appeared (a reload), forget those that went. */
  private sync(): void {
    const records = this.source.records();
    for (const [name, s] of this.series)
      if (records.get(name) !== s.recorder) {
        s.unfollow();
        this.series.delete(name);
      }
    for (const [name, recorder] of records) {
      if (this.series.has(name)) continue;
      const series: Series = {
        points: [],
        lastTotal: undefined,
        latencies: [],
        events: recorder.entries((e) => e.type === "event").slice(-TAIL),
        stderr: recorder.entries((e) => e.type === "stderr").slice(-TAIL),
        unfollow: () => {},
        recorder,
      };
      series.unfollow = recorder.follow((e) => {
        if (e.type === "event") push(series.events, e);
        else if (e.type === "stderr") push(series.stderr, e);
        else {
          if (e.ms !== undefined && series.latencies.length < 100_000) series.latencies.push(e.ms);
          if (this.subscribers.size === 0) return;
          if (this.fresh.length < MAX_TRAFFIC_PER_TICK) this.fresh.push(e);
          else this.dropped++;
        }
      });
      this.series.set(name, series);
    }
  }

  private tick(): void {
    this.sync();
    const now = Date.now();
    for (const s of this.source.status() as { service?: unknown; requestsTotal?: unknown }[]) {
      const series = this.series.get(String(s.service));
      if (!series) continue;
      const total = typeof s.requestsTotal === "number" ? s.requestsTotal : 0;
      const rps = series.lastTotal === undefined ? 0 : Math.max(0, total - series.lastTotal);
      series.lastTotal = total;
      const l = series.latencies;
      const mean = l.length ? Math.round((l.reduce((a, b) => a + b, 0) / l.length) * 10) / 10 : null;
      const max = l.length ? Math.max(...l.slice(0, 10_000)) : null;
      series.latencies = [];
      series.points.push([now, rps, mean, max]);
      if (series.points.length > HISTORY_S) series.points.shift();
    }
    if (this.subscribers.size > 0) {
      const state = this.state(false);
      for (const fn of [...this.subscribers]) fn(state);
    }
    this.fresh = [];
    this.dropped = 0;
  }
}

function push(list: RecordEntry[], e: RecordEntry): void {
  list.push(e);
  if (list.length > TAIL) list.shift();
}

function json(value: unknown): Response {
  return new Response(JSON.stringify(value), {
    headers: { "content-type": "application/json", "cache-control": "no-store", "x-content-type-options": "nosniff" },
  });
}
