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
  // Both gauges from one scrape: other tests' pages open and close streams on the same server meanwhile.
  const gauges = async () => {
    const text = await (await request.get("/metrics")).text();
    const gauge = (name: string) => {
      const line = text.split("\n").find((l) => l.startsWith(`${name} `));
      return Number(line?.split(" ")[1]);
    };
    return { subscribers: gauge("hearth_subscribers"), direct: gauge("hearth_streams_direct") };
  };
  await expect.poll(async () => (await gauges()).subscribers).toBeGreaterThanOrEqual(1);
  // Every open stream, this page's among them, is held by the direct writer (a stream left in hyper would
  // keep `direct` below `subscribers` for as long as it is open).
  await expect
    .poll(async () => {
      const { subscribers, direct } = await gauges();
      return direct === subscribers ? "all direct" : `${direct} of ${subscribers} direct`;
    })
    .toBe("all direct");
});
