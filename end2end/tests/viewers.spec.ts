import { expect, test } from "@playwright/test";
import { DashboardPage } from "./fixtures/dashboard_page";

// Tabs of one browser share one stream and count once: the second viewer is a second browser (context).
test("the viewer count rises when a second browser opens and falls when it closes", async ({ browser, context }) => {
  const first = new DashboardPage(await context.newPage());
  await first.goto();
  await first.expectLive();
  // Earlier tests' tabs may still be closing: wait for the count to settle before reading it.
  let settled = -1;
  await expect
    .poll(async () => {
      const now = Number(await first.viewerCount.textContent());
      const same = now === settled;
      settled = now;
      return same;
    }, { timeout: 20_000, intervals: [2_500] })
    .toBe(true);
  const base = settled;

  const secondBrowser = await browser.newContext();
  const second = new DashboardPage(await secondBrowser.newPage());
  await second.goto();
  await second.expectLive();
  await expect(first.viewerCount).toHaveText(String(base + 1));
  await expect(second.viewerCount).toHaveText(String(base + 1));

  await secondBrowser.close();
  await expect(first.viewerCount).toHaveText(String(base), { timeout: 20_000 });
});
