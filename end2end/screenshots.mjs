// Takes the README's screenshots of a running Hearth (not a test: scripts/screenshots.sh starts the server and
// runs this). Usage: node end2end/screenshots.mjs <base URL> <write token> <output directory>
import { chromium } from "@playwright/test";
import path from "node:path";

const [base, token, out] = process.argv.slice(2);
if (!base || !token || !out) {
  console.error("usage: node end2end/screenshots.mjs <base URL> <write token> <output directory>");
  process.exit(2);
}

const shots = [
  { name: "desktop", viewport: { width: 1280, height: 900 }, scale: 1 },
  { name: "phone", viewport: { width: 390, height: 844 }, scale: 2 },
];

const browser = await chromium.launch({
  executablePath: process.env.HEARTH_CHROMIUM ?? "/usr/bin/chromium",
  args: ["--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-gpu"],
});
try {
  for (const shot of shots) {
    const context = await browser.newContext({
      viewport: shot.viewport,
      deviceScaleFactor: shot.scale,
      colorScheme: "light",
      reducedMotion: "reduce",
    });
    const page = await context.newPage();
    // Logged in, as the owner of the home would be.
    const login = await page.request.post(`${base}/api/session`, { data: { token } });
    if (!login.ok()) throw new Error(`login answered ${login.status()}`);

    await page.goto(`${base}/`);
    await page.getByTestId("connection-state").filter({ hasText: /^live/ }).waitFor();
    await page.getByTestId("logged-in").waitFor();
    await page.locator('[data-testid^="room-"]').first().waitFor();
    // The camera's picture, when there is a camera (the simulator's) to take one.
    await page.waitForFunction(() => {
      const img = document.querySelector('[data-testid="camera-image"]');
      return !img || (img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0);
    });
    await page.waitForTimeout(1500);
    await page.screenshot({ path: path.join(out, `dashboard-${shot.name}.png`), fullPage: true });

    await page.getByRole("link", { name: "Inspector" }).click();
    await page.getByTestId("connection-state").filter({ hasText: /^live/ }).waitFor();
    await page.getByTestId("inspector-publish-input").fill("Hello from the inspector");
    await page.getByTestId("inspector-publish").click();
    await page.locator('[data-testid="inspector-event"][data-event="message"]').first().waitFor();
    await page.waitForTimeout(2500);
    // Publishing scrolled the form into view; the picture is of the page as it opens.
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.locator(":focus").evaluate((el) => el.blur()).catch(() => {});
    await page.screenshot({ path: path.join(out, `inspector-${shot.name}.png`), fullPage: false });
    await context.close();
  }
} finally {
  await browser.close();
}
