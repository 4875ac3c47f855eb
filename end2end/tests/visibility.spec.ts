import { expect, test, type BrowserContext, type Page } from "@playwright/test";
import { OwnServer } from "./fixtures/server";
import { freePort, metric, openTabs, StreamLog } from "./fixtures/shared_tabs";

// The hook closes its stream while the page is hidden and resumes it when the page is shown again; with tabs
// sharing one stream it closes only when every tab of the browser is hidden. Headless Chromium always reports a
// visible page, so a tab is "hidden" here by overriding what `document.visibilityState` says and firing the
// `visibilitychange` event the browser would fire: the hook sees exactly what it sees when a person switches tabs.
test.describe.configure({ timeout: 90_000 });

let server: OwnServer;
let context: BrowserContext;

test.beforeEach(async ({ browser }) => {
  server = new OwnServer(await freePort());
  await server.start();
  context = await browser.newContext();
});

test.afterEach(async () => {
  await context.close();
  await server.stop();
  server.cleanup();
});

async function setVisible(page: Page, visible: boolean): Promise<void> {
  await page.evaluate((v) => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (v ? "visible" : "hidden") });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => !v });
    document.dispatchEvent(new Event("visibilitychange"));
  }, visible);
}

const subscribers = () => metric(server.url, "hearth_subscribers");

test("a hidden tab lets go of its stream and, shown again, resumes it with what it missed", async () => {
  const streams = new StreamLog(context);
  const [tab] = await openTabs(context, server.url, 1);
  await expect.poll(subscribers).toBe(1);

  await setVisible(tab.page, false);
  await expect.poll(subscribers, { message: "the hidden tab closed its stream" }).toBe(0);
  await server.postMessage("posted while hidden");

  await setVisible(tab.page, true);
  await tab.expectLive();
  await expect(tab.messagesWithText("posted while hidden")).toHaveCount(1);
  expect(streams.count).toBe(2);
  expect(streams.requests[1].url).toMatch(/[?&]lastEventId=\d+/);
});

test("shared across tabs, the stream stays while any tab is visible and closes only when all are hidden", async () => {
  const streams = new StreamLog(context);
  const tabs = await openTabs(context, server.url, 2);
  const leader = tabs.find((t) => t.page === streams.leader);
  const follower = tabs.find((t) => t.page !== streams.leader);
  if (!leader || !follower) throw new Error("one of the two tabs should hold the stream");
  await expect.poll(subscribers).toBe(1);

  // The leader hidden, the follower still on screen: nobody loses the stream.
  await setVisible(leader.page, false);
  await server.postMessage("leader hidden");
  for (const tab of tabs) await expect(tab.messagesWithText("leader hidden")).toHaveCount(1);
  expect(await subscribers()).toBe(1);
  expect(streams.count).toBe(1);

  // Every tab hidden: the one stream closes.
  await setVisible(follower.page, false);
  await expect.poll(subscribers, { message: "the stream closed once every tab was hidden" }).toBe(0);
  await server.postMessage("all hidden");

  // One tab shown: the stream resumes from where it stopped, and both tabs get what was missed, once.
  await setVisible(follower.page, true);
  await expect.poll(subscribers, { message: "the stream came back" }).toBe(1);
  for (const tab of tabs) await expect(tab.messagesWithText("all hidden")).toHaveCount(1);
  await follower.expectLive();
  expect(streams.count).toBe(2);
  expect(streams.requests[1].url).toMatch(/[?&]lastEventId=\d+/);
});
