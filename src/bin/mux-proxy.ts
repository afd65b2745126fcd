// `mux-proxy` from source (`bun src/bin/mux-proxy.ts`): the build ships no separate
// executable (dist/mux-proxy is a link to dist/mux, see cli/entry.ts).
import { proxyMain } from "../cli/proxy-main.ts";

void proxyMain();
