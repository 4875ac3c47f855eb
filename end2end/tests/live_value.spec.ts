import { expect, test } from "@playwright/test";
import { DashboardPage } from "./fixtures/dashboard_page";

test("the dashboard hydrates, goes live and shows a changing temperature", async ({ page }) => {
  const dashboard = new DashboardPage(page);
  await dashboard.goto();

  await dashboard.expectLive();
  const first = (await dashboard.temperatureValue.textContent()) ?? "";
  expect(first).toMatch(/^\d+\.\d$/);
  // The sensor reports every second in tests; the chart gains a point with each reading.
  const points = async () => ((await dashboard.temperatureChart.locator("polyline").getAttribute("points")) ?? "").split(" ").length;
  const before = await points();
  await expect.poll(points, { timeout: 15_000 }).toBeGreaterThan(before);
  await expect(dashboard.connectionState).toHaveText(/^live/);
});
