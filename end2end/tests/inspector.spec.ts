import { expect, test } from "@playwright/test";
import { baseURL, e2eToken } from "../playwright.config";
import { InspectorPage } from "./fixtures/inspector_page";
import { OwnServer } from "./fixtures/server";

const auth = { authorization: `Bearer ${e2eToken}` };

test("the inspector is linked from the header and shows a posted message with its id", async ({ page, request }) => {
  await page.goto("/");
  await page.getByRole("navigation", { name: "Pages" }).getByRole("link", { name: "Inspector" }).click();
  const inspector = new InspectorPage(page);
  await expect(page).toHaveURL(/\/inspector$/);
  await inspector.expectLive();
  const text = `inspected ${Date.now()}`;

  const res = await request.post("/message", { headers: auth, data: { message: text } });
  expect(res.status()).toBe(201);
  const message = await res.json();

  const row = inspector.eventsNamed("message", text);
  await expect(row).toHaveCount(1);
  await expect(row).toContainText(`"id": ${message.id}`);
  const eventId = await row.getAttribute("data-id");
  expect(eventId).toMatch(/^\d+$/);
  await expect(row.getByTestId("inspector-event-id")).toHaveText(`id ${eventId}`);
});

test("topics, replay from an id, publishing and the curl command", async ({ page }) => {
  const inspector = new InspectorPage(page);
  await inspector.goto();
  await inspector.expectLive();
  // Only messages.
  for (const topic of ["entities", "viewers", "temperature", "job", "camera"]) {
    await inspector.topic(topic).uncheck();
  }
  await inspector.apply.click();
  await expect(inspector.curl).toHaveText(`curl -N '${baseURL}/events?topics=message'`);
  await expect(inspector.eventsNamed("snapshot")).toHaveCount(2);

  // Publishing needs a login; then a message comes back through the stream.
  await expect(inspector.publish).toHaveCount(0);
  await page.getByTestId("login-open").click();
  await page.getByTestId("login-token").fill(e2eToken);
  await page.getByTestId("login-submit").click();
  const first = `first ${Date.now()}`;
  await inspector.publishInput.fill(first);
  await inspector.publish.click();
  await expect(inspector.publishResult).toHaveText(/^Published as message \d+\.$/);
  await expect(inspector.eventsNamed("message", first)).toHaveCount(1);
  const firstId = Number(await inspector.eventsNamed("message", first).getAttribute("data-id"));
  const second = `second ${Date.now()}`;
  await inspector.publishInput.fill(second);
  await inspector.publish.click();
  await expect(inspector.eventsNamed("message", second)).toHaveCount(1);

  // Replay everything after the event before the first message: both come again, in order, and only them.
  await inspector.clear.click();
  await expect(inspector.events).toHaveCount(0);
  await inspector.replayFrom(firstId - 1);
  await expect(inspector.curl).toHaveText(`curl -N '${baseURL}/events?topics=message' -H 'Last-Event-ID: ${firstId - 1}'`);
  await expect(inspector.eventsNamed("message", first)).toHaveCount(1);
  await expect(inspector.eventsNamed("message", second)).toHaveCount(1);
  await expect(inspector.eventsNamed("snapshot")).toHaveCount(0);
  // Newest first.
  await expect(inspector.events.first()).toContainText(second);
});

test("after a server restart the inspector shows the reconnect and the id it resumed from", async ({ page }) => {
  const server = new OwnServer(Number(process.env.HEARTH_E2E_INSPECTOR_PORT ?? 3108));
  await server.start();
  try {
    const inspector = new InspectorPage(page);
    await inspector.goto(server.url);
    await inspector.expectLive();
    await server.postMessage("before the restart");
    await expect(inspector.eventsNamed("message", "before the restart")).toHaveCount(1);

    await server.stop();
    await expect(inspector.connectionState).toHaveText(/^reconnecting/);
    await expect(inspector.connectionNotes.first()).toContainText("Connection lost");
    // Nothing can arrive while the server is down: this is the id the reconnect must resume from.
    const lastId = (await inspector.lastId.textContent())!;
    expect(lastId).toMatch(/^\d+$/);
    await server.start();
    await server.postMessage("after the restart");

    await expect(inspector.connectionState).toHaveText(/^live/, { timeout: 30_000 });
    const note = page.locator(`[data-testid="inspector-conn"][data-resumed-from="${lastId}"]`);
    await expect(note).toHaveText(new RegExp(`Reconnected, resumed from id ${lastId}`));
    await expect(inspector.eventsNamed("message", "after the restart")).toHaveCount(1);
    await expect(inspector.eventsNamed("message", "before the restart")).toHaveCount(1);
  } finally {
    await server.stop();
    server.cleanup();
  }
});

test("a replay from a chosen id survives a restart too, resuming from the last id it received", async ({ page }) => {
  const server = new OwnServer(Number(process.env.HEARTH_E2E_INSPECTOR_PORT ?? 3108) + 1);
  await server.start();
  try {
    const inspector = new InspectorPage(page);
    await inspector.goto(server.url);
    await inspector.expectLive();
    await server.postMessage("replayed");
    await expect(inspector.eventsNamed("message", "replayed")).toHaveCount(1);
    const replayedId = Number(await inspector.eventsNamed("message", "replayed").getAttribute("data-id"));
    await inspector.replayFrom(replayedId - 1);
    await expect(inspector.eventsNamed("message", "replayed")).toHaveCount(2);

    await server.stop();
    await expect(inspector.connectionState).toHaveText(/^reconnecting/);
    const lastId = (await inspector.lastId.textContent())!;
    await server.start();
    await server.postMessage("after the restart");

    // Resumed from what it had received, not from the chosen id again: nothing is replayed twice.
    await expect(inspector.connectionState).toHaveText(/^live/, { timeout: 30_000 });
    await expect(page.locator(`[data-testid="inspector-conn"][data-resumed-from="${lastId}"]`)).toHaveCount(1);
    await expect(inspector.eventsNamed("message", "after the restart")).toHaveCount(1);
    await expect(inspector.eventsNamed("message", "replayed")).toHaveCount(2);
  } finally {
    await server.stop();
    server.cleanup();
  }
});
