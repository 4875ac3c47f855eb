import { expect, test } from "@playwright/test";
import { e2eToken } from "../playwright.config";
import { DashboardPage } from "./fixtures/dashboard_page";

test("the first paint shows the current snapshot before any script runs", async ({ browser, request }) => {
  // Arrange: a known state, set through the API.
  const set = await request.post("/api/rooms/bedroom/curtains", {
    headers: { authorization: `Bearer ${e2eToken}` },
    data: { state: "open" },
  });
  expect(set.status()).toBe(200);
  const snapshot = await (await request.get("/api/snapshot")).json();

  // Act: load the page with JavaScript off, so only the server's HTML is there.
  const context = await browser.newContext({ javaScriptEnabled: false });
  const dashboard = new DashboardPage(await context.newPage());
  await dashboard.goto();

  // Assert: every room and device as in the snapshot, the temperature, the count, a badge that does not lie.
  for (const entity of snapshot.entities as Array<{ id: string; area: string; state: string }>) {
    await expect(dashboard.room(entity.area).getByTestId(`device-${entity.id}`)).toHaveText(entity.state);
  }
  expect(snapshot.entities.length).toBe(6);
  await expect(dashboard.device("bedroom", "curtains")).toHaveText("open");
  await expect(dashboard.viewerCount).toHaveText(/^\d+$/);
  await expect(dashboard.temperatureValue).toHaveText(/^\d+\.\d$/);
  await expect(dashboard.connectionState).toHaveText("connecting");
  await context.close();
});

test("the browser bundle is sent compressed", async ({ request }) => {
  const res = await request.get("/pkg/hearth.wasm", { headers: { "accept-encoding": "gzip, br" } });
  expect(res.ok()).toBeTruthy();
  expect(["gzip", "br"]).toContain(res.headers()["content-encoding"]);
});
