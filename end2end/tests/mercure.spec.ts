import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { expect, test } from "@playwright/test";
import { InspectorPage } from "./fixtures/inspector_page";
import { OwnServer } from "./fixtures/server";
import { freePort } from "./fixtures/shared_tabs";

// A Hearth of this test's own, a Mercure hub with a known key that lets anonymous subscribers in.
const key = "e2e-mercure-key-for-the-inspector";
const topic = "https://example.com/books/7";

/** A Mercure token (HS256 with the test key) with these claims. */
function token(claims: object): string {
  const b64 = (text: string) => Buffer.from(text).toString("base64url");
  const body = `${b64(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64(JSON.stringify(claims))}`;
  return `${body}.${createHmac("sha256", key).update(body).digest("base64url")}`;
}

/** Publishes with curl, as a backend would; the update's id. */
function curlPublish(url: string, data: string, isPrivate: boolean): string {
  const args = ["-sS", "--fail-with-body", "-X", "POST", `${url}/.well-known/mercure`];
  args.push("-H", `Authorization: Bearer ${token({ mercure: { publish: ["*"] } })}`);
  args.push("--data-urlencode", `topic=${topic}`, "--data-urlencode", `data=${data}`);
  if (isPrivate) args.push("-d", "private=on");
  return execFileSync("curl", args, { encoding: "utf8" });
}

let server: OwnServer;

test.beforeAll(async () => {
  server = new OwnServer(await freePort(), {
    HEARTH_MERCURE_PUBLISHER_JWT_KEY: key,
    HEARTH_MERCURE_ANONYMOUS: "true",
  });
  await server.start();
});

test.afterAll(async () => {
  await server.stop();
  server.cleanup();
});

test("the inspector follows a Mercure topic published by curl, and the private update only with a token allowing it", async ({
  page,
}) => {
  const inspector = new InspectorPage(page);
  await inspector.goto(server.url);
  await inspector.expectLive();

  // Anonymous: the public update shows, the private one never does.
  await inspector.followMercure(["https://example.com/books/{id}"]);
  await expect(inspector.curl).toHaveText(/\/\.well-known\/mercure\?topic=https%3A%2F%2Fexample\.com%2Fbooks%2F%7Bid%7D'$/);
  await expect(inspector.connectionNotes.first()).toContainText(/^Connected/);
  const publicId = curlPublish(server.url, "public news", false);
  expect(publicId).toMatch(/^urn:hearth:\d+$/);
  curlPublish(server.url, "secret one", true);
  const marker = curlPublish(server.url, "after the secret", false);
  await expect(page.locator(`[data-testid="inspector-event"][data-id="${marker}"]`)).toHaveCount(1);
  await expect(page.locator(`[data-testid="inspector-event"][data-id="${publicId}"]`)).toContainText("public news");
  await expect(inspector.events.filter({ hasText: "secret one" })).toHaveCount(0);

  // With a token whose subscribe claim covers the topic, the private update arrives.
  await inspector.clear.click();
  await inspector.followMercure(["https://example.com/books/{id}"], token({ mercure: { subscribe: [topic] } }));
  await expect(inspector.connectionNotes.first()).toContainText(/^Connected/);
  const secretId = curlPublish(server.url, "secret two", true);
  const row = page.locator(`[data-testid="inspector-event"][data-id="${secretId}"]`);
  await expect(row).toHaveCount(1);
  await expect(row).toContainText("secret two");

  // Publishing from the inspector: it comes back through the stream.
  await page.getByTestId("inspector-mercure-publish-topic").fill(topic);
  await page.getByTestId("inspector-mercure-publish-data").fill("from the page");
  // The pasted token may subscribe, not publish: refused, and said so.
  await page.getByTestId("inspector-mercure-publish").click();
  await expect(page.getByTestId("inspector-mercure-publish-result")).toContainText("mercure.publish");
});
