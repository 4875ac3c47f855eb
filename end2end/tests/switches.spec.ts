import { expect, test } from "@playwright/test";
import { e2eToken } from "../playwright.config";
import { DashboardPage } from "./fixtures/dashboard_page";

test("a switch flips aria-checked at once and shows pending until the change is confirmed", async ({ page }) => {
  const dashboard = new DashboardPage(page);
  await dashboard.goto();
  await dashboard.expectLive();
  await dashboard.logIn(e2eToken);
  const toggle = dashboard.toggle("bedroom", "lights");
  await expect(toggle).toHaveAttribute("role", "switch");
  const before = await toggle.getAttribute("aria-checked");
  const after = before === "true" ? "false" : "true";
  // Hold the write for a moment, so the pending state is there to be seen.
  await page.route("**/api/entities/bedroom-lights", async (route) => {
    await new Promise((r) => setTimeout(r, 1_500));
    await route.continue();
  });

  // Act: press the row's name, not the little switch: the whole row is the target.
  await toggle.getByText("Lights").click();

  await expect(toggle).toHaveAttribute("aria-checked", after);
  await expect(dashboard.pending("bedroom", "lights")).toBeVisible();
  await expect(toggle).toHaveAttribute("aria-busy", "true");
  await expect(dashboard.pending("bedroom", "lights")).toBeHidden();
  await expect(toggle).toHaveAttribute("aria-busy", "false");
  await expect(toggle).toHaveAttribute("aria-checked", after);
  await expect(dashboard.device("bedroom", "lights")).toHaveText(after === "true" ? "on" : "off");
  await expect(dashboard.deviceError("bedroom", "lights")).toBeEmpty();
});

test("a refused change puts the switch back and says why under it", async ({ page }) => {
  const dashboard = new DashboardPage(page);
  await dashboard.goto();
  await dashboard.expectLive();
  await dashboard.logIn(e2eToken);
  const toggle = dashboard.toggle("kitchen", "blinds");
  const before = await toggle.getAttribute("aria-checked");
  await page.route("**/api/entities/kitchen-blinds", (route) =>
    route.fulfill({
      status: 503,
      contentType: "application/json",
      body: JSON.stringify({ error: "the hub is busy, try again", detail: null }),
    }),
  );

  await toggle.click();

  await expect(dashboard.deviceError("kitchen", "blinds")).toHaveText("Not changed: the hub is busy, try again");
  await expect(toggle).toHaveAttribute("aria-checked", before!);
  await expect(dashboard.pending("kitchen", "blinds")).toBeHidden();
  // Only that switch says so.
  await expect(dashboard.deviceError("kitchen", "lights")).toBeEmpty();
});
