import { expect, test } from "@playwright/test";
import { DashboardPage } from "./fixtures/dashboard_page";
import { OwnServer } from "./fixtures/server";

test("after a server restart the badge goes reconnecting then live, and messages appear exactly once", async ({ page }) => {
  const server = new OwnServer(Number(process.env.HEARTH_E2E_RESTART_PORT ?? 3107));
  await server.start();
  try {
    const streams: string[] = [];
    page.on("request", (r) => {
      if (new URL(r.url()).pathname === "/events") streams.push(r.url());
    });
    const dashboard = new DashboardPage(page);
    await dashboard.goto(server.url);
    await dashboard.expectLive();
    await server.postMessage("before the outage");
    await expect(dashboard.messagesWithText("before the outage")).toHaveCount(1);

    await server.stop();
    await expect(dashboard.connectionState).toHaveText(/^reconnecting/);
    await server.start();
    // Posted while the page is still away (it waits out its backoff before trying again).
    await server.postMessage("during the outage");

    await expect(dashboard.connectionState).toHaveText(/^live/, { timeout: 30_000 });
    await expect(dashboard.messagesWithText("during the outage")).toHaveCount(1);
    // What was stored before the restart is still there, once: resumed, not replayed twice.
    await expect(dashboard.messagesWithText("before the outage")).toHaveCount(1);
    // The hook reconnected by itself and said where it had stopped.
    expect(streams.slice(1).some((u) => /[?&]lastEventId=\d+/.test(u))).toBe(true);
    await server.postMessage("after the outage");
    await expect(dashboard.messagesWithText("after the outage")).toHaveCount(1);
    await expect(dashboard.messageItems.first()).toContainText("after the outage");
    await expect(dashboard.messagesWithText("during the outage")).toHaveCount(1);
  } finally {
    await server.stop();
    server.cleanup();
  }
});
