// The `mux` executable for darwin: the same as mux.ts, with darwin's tray helper embedded
// (scripts/build.ts picks this entry; a file import is embedded whether or not it is reached,
// so each OS gets an entry of its own).
import "../cli/tty.ts";
import helper from "systray2/traybin/tray_darwin_release" with { type: "file" };
import { runMux } from "../cli/main.ts";
import { setEmbeddedTrayHelper } from "../tray/helper.ts";

setEmbeddedTrayHelper(helper);
await runMux();
