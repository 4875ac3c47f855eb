import { expect, test } from "@playwright/test";
import { DashboardPage } from "./fixtures/dashboard_page";

test("components asking for the same URL share one EventSource", async ({ page }) => {
  // The dashboard and the viewer count both subscribe to /events.
  const streams: string[] = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname === "/events") streams.push(r.url());
  });
  const dashboard = new DashboardPage(page);
  await dashboard.goto();
  await dashboard.expectLive();
  await expect(dashboard.viewerCount).toHaveText(/^[1-9]\d*$/);
  await page.waitForTimeout(1_500);
  expect(streams).toHaveLength(1);
});
