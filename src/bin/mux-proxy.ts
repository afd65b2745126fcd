import "../cli/tty.ts";
import { proxyMain } from "../cli/proxy-main.ts";

void proxyMain();
