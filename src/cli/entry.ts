/**
 * The one executable's dispatch: `mux` and `mux-proxy` are the same file (`mux-proxy` is a
 * link to `mux`), told apart by the name they were run under. A compiled Bun executable sees
 * that name only in `process.argv0` (`process.argv[0]` is always "bun", `argv[1]` the bundle's
 * own path, and `execPath` the link's target for a symbolic link), so that is what decides.
 * The proxy's path loads only the proxy's modules: an idle proxy stays as small as before.
 * @module
 */

/** The names that run the proxy (a copy or a link under either name works). */
const PROXY_NAMES = new Set(["mux-proxy"]);

/** Is this process the proxy? `argv0` as given by whoever started it (a host, a shell). */
export function runsAsProxy(argv0: string = process.argv0): boolean {
  const name = argv0.slice(argv0.lastIndexOf("/") + 1);
  return PROXY_NAMES.has(name);
}

/** Run `mux-proxy` or `mux`, by name; `trayHelper` is the embedded tray helper of this OS's build. */
export async function runEntry(trayHelper?: string): Promise<void> {
  if (runsAsProxy()) {
    // No colour handling (mux-proxy writes plain lines), no node:tty, no citty: every module
    // an idle proxy loads is memory each host pays for (see the benchmark report).
    const { proxyMain } = await import("./proxy-main.ts");
    await proxyMain();
    return;
  }
  await import("./tty.ts");
  if (trayHelper) (await import("../tray/helper.ts")).setEmbeddedTrayHelper(trayHelper);
  const { runMux } = await import("./main.ts");
  await runMux();
}
