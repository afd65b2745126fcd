import "../cli/tty.ts";
import { runMux } from "../cli/main.ts";

await runMux();
