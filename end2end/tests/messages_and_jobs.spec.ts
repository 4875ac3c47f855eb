import { expect, test } from "@playwright/test";
import { e2eToken } from "../playwright.config";
import { DashboardPage } from "./fixtures/dashboard_page";

test("a posted message appears at the top of the feed", async ({ page }) => {
  const dashboard = new DashboardPage(page);
  await dashboard.goto();
  await dashboard.expectLive();
  await dashboard.logIn(e2eToken);
  const text = `hello from the browser ${Date.now()}`;

  await dashboard.messageInput.fill(text);
  await dashboard.messageSend.click();

  await expect(dashboard.messageItems.first()).toContainText(text);
  await expect(dashboard.messagesWithText(text)).toHaveCount(1);
  await expect(dashboard.messageInput).toHaveValue("");
});

test("a job's progress bar reaches 100 and its stream stops", async ({ page }) => {
  const dashboard = new DashboardPage(page);
  const jobStreams: string[] = [];
  page.on("request", (r) => {
    if (/\/api\/jobs\/[^/]+\/events/.test(r.url())) jobStreams.push(r.url());
  });
  await dashboard.goto();
  await dashboard.expectLive();
  await dashboard.logIn(e2eToken);

  await dashboard.jobStart.click();

  await expect(dashboard.jobProgress).toHaveAttribute("aria-valuenow", /^[1-9]\d?$/);
  await expect(dashboard.jobProgress).toHaveAttribute("aria-valuenow", "100");
  await expect(page.getByTestId("job-status")).toHaveText("done");
  // Stopped: no reconnect follows the end of the stream (a reconnect would get 204, but should not happen).
  await page.waitForTimeout(3_000);
  expect(jobStreams).toHaveLength(1);
  const res = await page.request.get(jobStreams[0]);
  expect(res.status()).toBe(204);
});
