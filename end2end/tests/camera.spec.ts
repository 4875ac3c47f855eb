import { expect, test } from "@playwright/test";
import { DashboardPage } from "./fixtures/dashboard_page";

test("the camera card shows the image its event points at, and the event carries only the URL", async ({ page, request }) => {
  // Arrange: the camera takes a shot at start; its URL names the event that announced it.
  const snapshot = await (await request.get("/api/snapshot")).json();
  const shot = snapshot.camera.at(-1);
  expect(shot.url).toMatch(/^\/camera\/front-door\/\d+\.svg$/);
  const id = Number(/(\d+)\.svg$/.exec(shot.url)![1]);

  // Act: the dashboard, and the camera topic replayed from just before that event.
  const dashboard = new DashboardPage(page);
  await dashboard.goto();
  await dashboard.expectLive();
  const event = await page.evaluate(
    (from) =>
      new Promise<{ id: string; data: string }>((resolve, reject) => {
        const source = new EventSource(`/events?topics=camera&lastEventId=${from}`);
        const timer = setTimeout(() => reject(new Error("no camera event within 10 s")), 10_000);
        source.addEventListener("camera", (e) => {
          const m = e as MessageEvent;
          clearTimeout(timer);
          source.close();
          resolve({ id: m.lastEventId, data: m.data });
        });
      }),
    id - 1,
  );

  // Assert: the event is the URL (with its own id in it) and a time, no image bytes.
  expect(Number(event.id)).toBe(id);
  const data = JSON.parse(event.data);
  expect(Object.keys(data).sort()).toEqual(["takenAt", "url"]);
  expect(data.url).toBe(shot.url);
  expect(event.data.length).toBeLessThan(200);
  expect(event.data).not.toMatch(/<svg|base64/);
  // The card shows that very image, loaded.
  await expect(dashboard.cameraImage).toHaveAttribute("src", shot.url);
  await expect.poll(() => dashboard.cameraImage.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
  await expect(dashboard.cameraTaken).toHaveAttribute("datetime", shot.takenAt);
});

test("camera images are immutable, validated by ETag, and unknown ids are 404 JSON", async ({ request }) => {
  const snapshot = await (await request.get("/api/snapshot")).json();
  const url: string = snapshot.camera.at(-1).url;

  const first = await request.get(url);
  expect(first.status()).toBe(200);
  expect(first.headers()["content-type"]).toBe("image/svg+xml");
  expect(first.headers()["cache-control"]).toBe("public, max-age=31536000, immutable");
  const etag = first.headers()["etag"];
  expect(etag).toMatch(/^"[0-9a-f]{16}"$/);
  expect(await first.text()).toContain("<svg");

  const again = await request.get(url, { headers: { "if-none-match": etag } });
  expect(again.status()).toBe(304);

  for (const bad of ["/camera/front-door/1.svg", "/camera/front-door/not-a-number.svg", "/camera/front-door/012.svg"]) {
    const res = await request.get(bad);
    expect(res.status(), bad).toBe(404);
    expect((await res.json()).error, bad).toContain("not found");
  }
});
