import { describe, expect, test } from "bun:test";
import { DASHBOARD_TITLE, menuItems, QUIT_TITLE } from "../../src/tray/menu.ts";

describe("tray menu", () => {
  test('"Open dashboard" comes before Quit, enabled, only when the daemon serves a dashboard', () => {
    const services = [{ service: "a", state: "ready" as const }];
    const withIt = menuItems(services, true);
    expect(withIt.map((i) => i.title).slice(-2)).toEqual([DASHBOARD_TITLE, QUIT_TITLE]);
    expect(withIt.at(-2)?.enabled).toBe(true);
    expect(menuItems(services).map((i) => i.title)).not.toContain(DASHBOARD_TITLE);
  });
});
