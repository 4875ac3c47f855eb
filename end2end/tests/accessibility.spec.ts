import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { e2eToken } from "../playwright.config";
import { DashboardPage } from "./fixtures/dashboard_page";

// WCAG 2.1 A and AA, as axe-core checks them: no serious or critical violation on either page, at desktop and
// phone widths, logged out and in, light and dark.
const widths = [1280, 390];
const pages = ["/", "/inspector"];
const schemes = ["light", "dark"] as const;

async function seriousViolations(page: Page) {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

for (const width of widths) {
  for (const scheme of schemes) {
    test(`no serious accessibility violation at ${width} px, ${scheme}, logged out and in`, async ({ page }) => {
      await page.setViewportSize({ width, height: 900 });
      await page.emulateMedia({ colorScheme: scheme, reducedMotion: "reduce" });
      const dashboard = new DashboardPage(page);
      for (const loggedIn of [false, true]) {
        for (const path of pages) {
          await dashboard.goto(path);
          await dashboard.expectLive();
          if (loggedIn && !(await dashboard.loggedIn.isVisible())) await dashboard.logIn(e2eToken);
          expect(await seriousViolations(page), `${path}, ${loggedIn ? "logged in" : "logged out"}`).toEqual([]);
        }
      }
      // The open login form too.
      await dashboard.logout.click();
      await dashboard.openLogin();
      expect(await seriousViolations(page), "login form open").toEqual([]);
    });
  }
}
