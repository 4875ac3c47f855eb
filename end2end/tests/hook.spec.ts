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

test("the page's stream is held by Hearth's own writer although the browser reuses its connection", async ({
  page,
  request,
}) => {
  // Chromium sends the EventSource request on a keep-alive connection that already carried the page or its
  // scripts; the server must still take that stream out of hyper (server/src/serve/gate.rs).
  const dashboard = new DashboardPage(page);
  await dashboard.goto();
  await dashboard.expectLive();
  const gauge = async (name: string) => {
    const text = await (await request.get("/metrics")).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return Number(line?.split(" ")[1]);
  };
  await expect.poll(() => gauge("hearth_subscribers")).toBeGreaterThanOrEqual(1);
  expect(await gauge("hearth_streams_direct")).toBe(await gauge("hearth_subscribers"));
});
