// The one executable for darwin: the same as mux.ts, with darwin's tray helper embedded
// (scripts/build.ts picks this entry; a file import is embedded whether or not it is reached,
// so each OS gets an entry of its own). The import gives only the helper's path.
import helper from "systray2/traybin/tray_darwin_release" with { type: "file" };
import { runEntry } from "../cli/entry.ts";

await runEntry(helper);
