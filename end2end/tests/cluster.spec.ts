import { expect, test } from "@playwright/test";
import { DashboardPage } from "./fixtures/dashboard_page";
import { Instance, OwnRedis, SwitchingProxy } from "./fixtures/cluster";

const base = Number(process.env.HEARTH_E2E_CLUSTER_PORT ?? 3120);

test("a dashboard whose instance is killed resumes on another and shows every change made meanwhile, once", async ({ page }) => {
  const redis = new OwnRedis(base);
  const a = new Instance(base + 1, redis.url);
  const b = new Instance(base + 2, redis.url);
  const proxy = new SwitchingProxy(base + 3, a.port);
  try {
    await redis.start();
    await a.start();
    await b.start();
    await proxy.start();
    const dashboard = new DashboardPage(page);
    await dashboard.goto(proxy.url);
    await dashboard.expectLive();
    await a.postMessage("before the kill");
    await expect(dashboard.messagesWithText("before the kill")).toHaveCount(1);

    // The instance serving the page dies; the address now leads to B.
    a.kill();
    proxy.target = b.port;
    await expect(dashboard.connectionState).toHaveText(/^(reconnecting|live)/);
    await b.postMessage("while away 1");
    await b.setDevice("kitchen", "lights", "on");
    await b.postMessage("while away 2");

    // Resumed on B from where it was: every change made meanwhile, once; nothing from before twice.
    await expect(dashboard.connectionState).toHaveText(/^live/, { timeout: 30_000 });
    await expect(dashboard.messagesWithText("while away 1")).toHaveCount(1);
    await expect(dashboard.messagesWithText("while away 2")).toHaveCount(1);
    await expect(dashboard.device("kitchen", "lights")).toHaveText("on");
    await expect(dashboard.messagesWithText("before the kill")).toHaveCount(1);
    // B resumed the stream from the page's last id: the missed events, no reset.
    const resumed = proxy.streams.find((s) => s.port === b.port && /[?&]lastEventId=\d+/.test(s.url));
    expect(resumed, "the page reconnected to B with its last id").toBeDefined();
    expect(resumed!.body).toContain("while away 1");
    expect(resumed!.body).not.toContain("event: reset");
    await b.postMessage("after");
    await expect(dashboard.messagesWithText("after")).toHaveCount(1);
    await expect(dashboard.messageItems.first()).toContainText("after");
    await expect(dashboard.messagesWithText("while away 1")).toHaveCount(1);
  } finally {
    proxy.stop();
    a.cleanup();
    b.cleanup();
    redis.stop();
  }
});
