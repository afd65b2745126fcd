import { proxyMain } from "../cli/proxy-main.ts";

void proxyMain(process.argv.slice(2));
