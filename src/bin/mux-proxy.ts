import { runMain } from "citty";
import { proxyCommand } from "../cli/proxy.ts";

await runMain(proxyCommand);
