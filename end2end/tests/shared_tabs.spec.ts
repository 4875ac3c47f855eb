import { expect, test, type Browser, type BrowserContext } from "@playwright/test";
import { OwnServer } from "./fixtures/server";
import { expectFeeds, freePort, metric, openTabs, StreamLog } from "./fixtures/shared_tabs";
import type { DashboardPage } from "./fixtures/dashboard_page";

// The tabs of one browser share one stream (one browser context is one browser). Each test runs its own server,
// so the subscriber gauge counts only this test's tabs.
test.describe.configure({ timeout: 120_000 });

let server: OwnServer;
const contexts: BrowserContext[] = [];

async function newBrowser(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext();
  contexts.push(context);
  return context;
}

test.beforeEach(async () => {
  server = new OwnServer(await freePort());
  await server.start();
});

test.afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close();
  await server.stop();
  server.cleanup();
});

test("eight tabs share one stream, all live, and a ninth page is not held up", async ({ browser }) => {
  const context = await newBrowser(browser);
  const streams = new StreamLog(context);
  const tabs = await openTabs(context, server.url, 8);

  await expect.poll(() => metric(server.url, "hearth_subscribers")).toBe(1);
  expect(streams.count, "one stream request for eight tabs").toBe(1);
  await server.postMessage("to every tab");
  for (const tab of tabs) await expect(tab.messagesWithText("to every tab")).toHaveCount(1);
  for (const tab of tabs) await expect(tab.viewerCount).toHaveText("1");

  // Eight streams of their own would hold all six connections Chromium allows per host: this page would wait.
  const ninth = await context.newPage();
  const started = Date.now();
  const page = await ninth.goto(server.url, { timeout: 5_000 });
  expect(page?.ok()).toBe(true);
  const snapshot = await ninth.evaluate(async () => (await fetch("/api/snapshot")).status);
  expect(snapshot).toBe(200);
  expect(Date.now() - started, "the ninth page's requests were not queued").toBeLessThan(3_000);
  await expect(ninth.getByTestId("connection-state")).toHaveText(/^live/);
  expect(streams.count).toBe(1);
});

test("closing the leader mid-burst: every other tab shows every message once, in order", async ({ browser }) => {
  const context = await newBrowser(browser);
  const streams = new StreamLog(context);
  const tabs = await openTabs(context, server.url, 4);
  const leader = streams.leader;
  expect(leader).not.toBeNull();
  const others = tabs.filter((t) => t.page !== leader);
  expect(others).toHaveLength(3);

  const sent: string[] = [];
  const burst = (async () => {
    for (let i = 0; i < 40; i++) {
      const text = `burst ${String(i).padStart(2, "0")}`;
      await server.postMessage(text);
      sent.push(text);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await expect.poll(() => sent.length).toBeGreaterThanOrEqual(12);
  await leader!.close();
  await burst;

  await expectFeeds(others, /^burst \d\d$/, sent);
  expect(streams.count, "the new leader opened one stream").toBe(2);
  expect(streams.requests[1].url, "the new leader resumed").toMatch(/[?&]lastEventId=\d+/);
  await expect.poll(() => metric(server.url, "hearth_subscribers")).toBe(1);
  for (const tab of others) await expect(tab.connectionState).toHaveText(/^live/);
});

test("two browsers get two streams: sharing never crosses browsers", async ({ browser }) => {
  const first = await newBrowser(browser);
  const second = await newBrowser(browser);
  const firstStreams = new StreamLog(first);
  const secondStreams = new StreamLog(second);
  await openTabs(first, server.url, 2);
  const [other] = await openTabs(second, server.url, 2);

  await expect.poll(() => metric(server.url, "hearth_subscribers")).toBe(2);
  expect([firstStreams.count, secondStreams.count]).toEqual([1, 1]);
  await expect(other.viewerCount).toHaveText("2");
});

test("a server restart with eight tabs: one reconnect, every tab reconnecting then live, nothing lost", async ({
  browser,
}) => {
  const context = await newBrowser(browser);
  const streams = new StreamLog(context);
  const tabs = await openTabs(context, server.url, 8);
  await server.postMessage("before the outage");
  for (const tab of tabs) await expect(tab.messagesWithText("before the outage")).toHaveCount(1);
  const before = streams.count;

  await server.stop();
  for (const tab of tabs) await expect(tab.connectionState).toHaveText(/^reconnecting/);
  await server.start();
  await server.postMessage("during the outage");

  for (const tab of tabs) await expect(tab.connectionState).toHaveText(/^live/, { timeout: 40_000 });
  const pattern = /^(before|during|after) the outage$/;
  await server.postMessage("after the outage");
  await expectFeeds(tabs, pattern, ["before the outage", "during the outage", "after the outage"]);

  const retries = streams.requests.slice(before);
  expect(new Set(retries.map((r) => r.page)).size, "only the leader reconnected").toBe(1);
  expect(retries.every((r) => /[?&]lastEventId=\d+/.test(r.url))).toBe(true);
  expect(await metric(server.url, "hearth_subscribers")).toBe(1);
  expect(await metric(server.url, "hearth_replay_hits_total"), "one resume reached the server").toBe(1);
});

test("a leader that stops running (frozen, hung) is replaced, and catches up when it runs again", async ({
  browser,
}) => {
  // A frozen tab keeps its lock. Headless Chromium will not freeze a visible page (Page.setWebLifecycleState is
  // ignored), so the leader's main thread is blocked instead: to the other tabs it looks exactly the same.
  const context = await newBrowser(browser);
  const streams = new StreamLog(context);
  const tabs = await openTabs(context, server.url, 3);
  const leader = tabs.find((t) => t.page === streams.leader) as DashboardPage;
  const others = tabs.filter((t) => t !== leader);

  const stuck = leader.page.evaluate(() => {
    const until = Date.now() + 14_000;
    while (Date.now() < until) {
      // Busy: no timer, no channel message, no stream event runs in this tab.
    }
  });
  await expect.poll(() => streams.count, { message: "a follower took the lock", timeout: 12_000 }).toBe(2);
  expect(streams.leader).not.toBe(leader.page);
  expect(streams.requests[1].url).toMatch(/[?&]lastEventId=\d+/);
  await server.postMessage("while stuck");
  for (const tab of others) await expect(tab.messagesWithText("while stuck")).toHaveCount(1);

  await stuck;
  await expect(leader.messagesWithText("while stuck")).toHaveCount(1);
  await server.postMessage("after it runs again");
  for (const tab of tabs) await expect(tab.messagesWithText("after it runs again")).toHaveCount(1);
  await expect.poll(() => metric(server.url, "hearth_subscribers"), { message: "the old leader let go" }).toBe(1);
  expect(streams.count).toBe(2);
});
