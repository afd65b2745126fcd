/**
 * Floods of the daemon's HTTP front, measured on the daemon's own process: descriptors and
 * RSS before, during and after. Each flood is one entry of `FLOODS`; the report prints every
 * entry's figures as a row, so a measurement added here (say, exactly-once counts over daemon
 * kills) shows up in the report without touching its renderer.
 */

import { fdCount, statusField, until } from "./util.ts";

/** What a flood measures: named figures, printed as they are. */
export type FloodFigures = Record<string, number | string>;

/** A daemon with an HTTP front, and a check that it still serves (throws when it does not). */
export interface FloodTarget {
  pid: number;
  url: string;
  /** One checked MCP round trip through the front (a new session's ping), in ms. */
  serves(): Promise<number>;
}

/** One flood of the report: a label, what it does, and the run. */
export interface Flood {
  id: string;
  label: string;
  run(target: FloodTarget, size: number): Promise<FloodFigures>;
}

const mb = (kb: number | undefined): number => Math.round((kb ?? 0) / 102.4) / 10;
const snapshot = (pid: number) => ({ fds: fdCount(pid) ?? -1, rssMb: mb(statusField(pid, "VmRSS")) });

/** The floods of the report, in order. */
export const FLOODS: Flood[] = [
  {
    id: "slow-bodies",
    label:
      "connections that send a POST's headers (Content-Length 1 MB) and a first byte of body, then nothing: the daemon's descriptors and RSS while they hang, whether it still serves, and after they go",
    async run(target, size) {
      const before = snapshot(target.pid);
      const { hostname, port, pathname } = new URL(target.url);
      const sockets: Awaited<ReturnType<typeof Bun.connect>>[] = [];
      let closedByDaemon = 0;
      for (let i = 0; i < size; i += 100) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(100, size - i) }, () =>
            Bun.connect({
              hostname,
              port: Number(port),
              socket: {
                data() {},
                close() {
                  closedByDaemon++;
                },
                error() {},
              },
            }),
          ),
        );
        for (const s of batch)
          s.write(
            `POST ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 1000000\r\n\r\n{`,
          );
        sockets.push(...batch);
      }
      // Settled: a round trip through the same front after every connection sent its bytes.
      const servesMs = await target.serves();
      const during = snapshot(target.pid);
      const closedDuring = closedByDaemon;
      for (const s of sockets) s.end();
      await until(() => (fdCount(target.pid) ?? 0) <= before.fds + 2, 30_000, "the descriptors to come back").catch(
        () => {},
      );
      await target.serves();
      const after = snapshot(target.pid);
      return {
        connections: size,
        fdsBefore: before.fds,
        fdsDuring: during.fds,
        fdsAfter: after.fds,
        rssBeforeMb: before.rssMb,
        rssDuringMb: during.rssMb,
        rssAfterMb: after.rssMb,
        closedByDaemonBeforeSettle: closedDuring,
        roundTripDuringMs: Math.round(servesMs * 10) / 10,
      };
    },
  },
  {
    id: "initialize-only",
    label:
      "sessions that send initialize, read the answer and are never used or deleted: the daemon's RSS and descriptors with them open",
    async run(target, size) {
      const before = snapshot(target.pid);
      let refused = 0;
      for (let i = 0; i < size; i += 50) {
        await Promise.all(
          Array.from({ length: Math.min(50, size - i) }, async () => {
            const res = await fetch(target.url, {
              method: "POST",
              headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
              body: JSON.stringify({
                jsonrpc: "2.0",
                id: 1,
                method: "initialize",
                params: {
                  protocolVersion: "2025-11-25",
                  capabilities: {},
                  clientInfo: { name: "flood", version: "1" },
                },
              }),
            });
            const text = await res.text();
            if (res.status !== 200 || !res.headers.get("mcp-session-id") || !text.includes('"result"')) refused++;
          }),
        );
      }
      const servesMs = await target.serves();
      Bun.gc(true);
      const during = snapshot(target.pid);
      return {
        sessions: size,
        refusedOrFailed: refused,
        rssBeforeMb: before.rssMb,
        rssWithSessionsMb: during.rssMb,
        perSessionKb: Math.round(((during.rssMb - before.rssMb) * 1024) / size),
        fdsBefore: before.fds,
        fdsWithSessions: during.fds,
        roundTripAfterMs: Math.round(servesMs * 10) / 10,
      };
    },
  },
];

/** Rows the report has room for, measured elsewhere or later (printed as "not measured in this run"). */
export const PENDING_ROWS: string[] = [];
