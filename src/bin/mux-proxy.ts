// No colour handling here (mux-proxy writes plain lines) and no node:tty: every module an idle
// proxy loads is memory each host pays for (see the benchmark report).
import { proxyMain } from "../cli/proxy-main.ts";

void proxyMain();
