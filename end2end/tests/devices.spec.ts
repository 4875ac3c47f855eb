import { expect, test } from "@playwright/test";
import { e2eToken } from "../playwright.config";
import { DashboardPage } from "./fixtures/dashboard_page";

test("a device toggled in one tab changes in another", async ({ context }) => {
  const first = new DashboardPage(await context.newPage());
  const second = new DashboardPage(await context.newPage());
  await first.goto();
  await second.goto();
  await first.expectLive();
  await second.expectLive();
  await first.logIn(e2eToken);

  const before = (await second.device("kitchen", "lights").textContent()) ?? "";
  const after = before === "on" ? "off" : "on";
  await first.toggle("kitchen", "lights").click();

  await expect(first.device("kitchen", "lights")).toHaveText(after);
  await expect(second.device("kitchen", "lights")).toHaveText(after);
  // When the room changed: said as "how long ago" (it ticks), with the exact time in `datetime`.
  await expect(second.roomUpdated("kitchen")).toHaveText(/^(just now|\d+ s ago)$/);
  await expect(second.roomUpdated("kitchen")).toHaveAttribute("datetime", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
});

test("without login the dashboard is read-only and says so", async ({ page }) => {
  const dashboard = new DashboardPage(page);
  await dashboard.goto();
  await dashboard.expectLive();
  await expect(page.getByTestId("read-only-note")).toBeVisible();
  await expect(dashboard.toggle("kitchen", "lights")).toBeDisabled();
  await expect(dashboard.messageSend).toBeDisabled();
  await expect(dashboard.jobStart).toBeDisabled();
});

test("a wrong token is refused visibly and nothing opens up", async ({ page }) => {
  const dashboard = new DashboardPage(page);
  await dashboard.goto();
  await dashboard.expectLive();
  await dashboard.openLogin();
  await dashboard.loginToken.fill("not-the-token");
  await dashboard.loginSubmit.click();
  await expect(dashboard.loginError).toHaveText("That token is not right.");
  await expect(dashboard.toggle("kitchen", "lights")).toBeDisabled();
});
