// The one executable (`mux`, and `mux-proxy` as a link to it: see cli/entry.ts), for targets
// without a tray helper (Linux arm64) and for running from source.
import { runEntry } from "../cli/entry.ts";

await runEntry();
