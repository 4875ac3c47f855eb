import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { DashboardPage } from "./fixtures/dashboard_page";

/** Serves `/events` as one snapshot whose readings are `values`, one a minute up to now. */
async function streamReadings(page: Page, values: number[]): Promise<void> {
  const snapshot = await (await page.request.get("/api/snapshot")).json();
  const now = Date.now();
  snapshot.temperatures = values.map((temperature, i) => ({
    temperature,
    updatedAt: new Date(now - (values.length - 1 - i) * 60_000).toISOString(),
  }));
  const body = `retry: 60000\nid: ${snapshot.seq}\nevent: snapshot\ndata: ${JSON.stringify(snapshot)}\n\n`;
  await page.route(/\/events(\?|$)/, (route) =>
    route.fulfill({ status: 200, headers: { "content-type": "text/event-stream" }, body }),
  );
}

test("the chart has a °C axis and a clock axis, and a 0.2 °C wobble stays a flat line", async ({ page }) => {
  // Arrange: twenty minutes of readings that never move more than 0.2 °C.
  const wobble = [21.0, 21.2, 21.0, 21.1, 21.2, 21.0, 21.1, 21.0, 21.2, 21.1, 21.0, 21.2, 21.1, 21.0, 21.1, 21.2, 21.0, 21.1, 21.2, 21.1];
  await streamReadings(page, wobble);
  const dashboard = new DashboardPage(page);

  // Act
  await dashboard.goto();

  // Assert: the readings arrived (low and high), then the axes and the line.
  await expect(dashboard.temperatureMin).toHaveText("21.0 °C");
  await expect(dashboard.temperatureMax).toHaveText("21.2 °C");
  const values = (await dashboard.chartValueLabels.allTextContents()).map((t) => parseFloat(t));
  expect(values.length).toBeGreaterThanOrEqual(3);
  expect(Math.max(...values) - Math.min(...values)).toBeGreaterThanOrEqual(2);
  await expect(dashboard.chartValueLabels.first()).toHaveText(/^\d+\.\d°$/);
  const times = await dashboard.chartTimeLabels.allTextContents();
  expect(times.length).toBeGreaterThanOrEqual(2);
  for (const t of times) expect(t).toMatch(/^\d\d:\d\d$/);
  const points = await dashboard.linePoints();
  expect(points).toHaveLength(wobble.length);
  const ys = points.map(([, y]) => y);
  // 0.2 °C on an axis of at least 2 °C: a tenth of the height at most, not a V across the card.
  expect(Math.max(...ys) - Math.min(...ys)).toBeLessThanOrEqual(110);
  // Placed by time: twenty minutes of a thirty-minute window start about a third of the way in.
  expect(points[0][0]).toBeGreaterThan(300);
  expect(points[0][0]).toBeLessThan(370);
  await expect(dashboard.temperatureSummary).toHaveText(/^Steady over the last 19 min, between 21\.0 and 21\.2 °C\.$/);
});

test("a real rise is drawn as one and said in words", async ({ page }) => {
  await streamReadings(page, [20.0, 20.4, 20.9, 21.5, 22.1, 22.6]);
  const dashboard = new DashboardPage(page);
  await dashboard.goto();
  await expect(dashboard.temperatureValue).toHaveText("22.6");
  const ys = (await dashboard.linePoints()).map(([, y]) => y);
  expect(Math.max(...ys) - Math.min(...ys)).toBeGreaterThan(500);
  await expect(dashboard.temperatureSummary).toContainText("Getting warmer: up 2.6 °C");
  await expect(page.getByTestId("temperature-trend")).toHaveText(/rising/);
});

for (const scheme of ["light", "dark"] as const) {
  test(`a fall is said in words, and each trend reads at AA contrast (${scheme})`, async ({ page }) => {
    await page.emulateMedia({ colorScheme: scheme });
    const dashboard = new DashboardPage(page);
    const trend = page.getByTestId("temperature-trend");
    // The live readings decide which trend the page-wide scan sees; here each one is shown and scanned.
    for (const [values, word] of [
      [[22.0, 21.5, 21.0], "falling"],
      [[20.0, 20.5, 21.0], "rising"],
      [[21.0, 21.0, 21.1], "steady"],
    ] as const) {
      await page.unrouteAll();
      await streamReadings(page, [...values]);
      await dashboard.goto();
      await expect(trend).toHaveText(new RegExp(word));
      const results = await new AxeBuilder({ page }).include('[data-testid="temperature-trend"]').withTags(["wcag2aa"]).analyze();
      expect(results.violations.map((v) => v.id), word).toEqual([]);
    }
    await expect(dashboard.temperatureSummary).toContainText("Steady");
  });
}
