import { runMux } from "../cli/main.ts";

await runMux();
