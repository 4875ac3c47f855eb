import { expect, test } from "@playwright/test";
import { e2eToken } from "../playwright.config";
import { DashboardPage } from "./fixtures/dashboard_page";
import { FakeDevice, OwnBroker } from "./fixtures/mqtt";
import { freePort } from "./fixtures/net";
import { OwnServer } from "./fixtures/server";

// A home that is devices on a broker: a mosquitto of the test's own, a Hearth bridged to it (no demo home), and
// devices the test plays with mosquitto_pub / mosquitto_sub.
let broker: OwnBroker;
let server: OwnServer;
test.beforeEach(async () => {
  broker = new OwnBroker(await freePort());
  await broker.start();
  server = new OwnServer(await freePort(), { HEARTH_MQTT_URL: broker.url });
  await server.start();
});
test.afterEach(async () => {
  await server.stop();
  server.cleanup();
  await broker.cleanup();
});

const lamp = () =>
  new FakeDevice(broker, {
    component: "light",
    node: "desk",
    object: "lamp",
    uniqueId: "desk_lamp",
    name: "Lamp",
    device: "Desk",
    area: "Study",
    availability: true,
  });

test("a lamp announced on the broker appears in its area within a second", async ({ page }) => {
  const dashboard = new DashboardPage(page);
  await dashboard.goto(server.url);
  await dashboard.expectLive();
  await expect(dashboard.emptyHome).toBeVisible();
  const device = lamp();

  await device.setOnline(true);
  await device.report("OFF");
  await device.announce();

  const toggle = dashboard.room("study").getByTestId(`toggle-${device.entityId}`);
  await expect(toggle).toBeVisible({ timeout: 1_000 });
  await expect(toggle).toHaveAccessibleName("Desk Lamp");
  await expect(dashboard.stateOf(device.entityId)).toHaveText("off");
  await expect(dashboard.emptyHome).toBeHidden();
  // Withdrawn, it goes.
  await device.withdraw();
  await expect(toggle).toHaveCount(0);
});

test("its switch shows pending until the device confirms, then flips", async ({ page }) => {
  const device = lamp();
  await device.setOnline(true);
  await device.report("OFF");
  await device.announce();
  const dashboard = new DashboardPage(page);
  await dashboard.goto(server.url);
  await dashboard.expectLive();
  await dashboard.logIn(e2eToken);
  const toggle = dashboard.switchOf(device.entityId);
  await expect(toggle).toHaveAttribute("aria-checked", "false");
  const commands = await broker.listen(device.commandTopic);
  try {
    await toggle.click();

    // The device is told, and until it says so the switch is pending.
    expect(await commands.next()).toBe("ON");
    await expect(dashboard.pendingOf(device.entityId)).toHaveText("waiting for the device…");
    await expect(toggle).toHaveAttribute("aria-busy", "true");

    await device.report("ON");

    await expect(dashboard.pendingOf(device.entityId)).toBeHidden();
    await expect(toggle).toHaveAttribute("aria-busy", "false");
    await expect(toggle).toHaveAttribute("aria-checked", "true");
    await expect(dashboard.stateOf(device.entityId)).toHaveText("on");
  } finally {
    commands.close();
  }
});

test("an offline device is shown so and its switch is disabled", async ({ page }) => {
  const device = lamp();
  await device.setOnline(true);
  await device.report("ON");
  await device.announce();
  const dashboard = new DashboardPage(page);
  await dashboard.goto(server.url);
  await dashboard.expectLive();
  await dashboard.logIn(e2eToken);
  const toggle = dashboard.switchOf(device.entityId);
  await expect(toggle).toBeEnabled();

  await device.setOnline(false);

  await expect(toggle).toBeDisabled();
  await expect(dashboard.rowOf(device.entityId)).toHaveClass(/\bunavailable\b/);
  await expect(toggle).toContainText("offline");
  await device.setOnline(true);
  await expect(toggle).toBeEnabled();
  await expect(toggle).not.toContainText("offline");
});

test("while the broker cannot be reached, its devices say they may be out of date", async ({ page }) => {
  const device = lamp();
  await device.setOnline(true);
  await device.report("ON");
  await device.announce();
  const dashboard = new DashboardPage(page);
  await dashboard.goto(server.url);
  await dashboard.expectLive();
  await expect(dashboard.switchOf(device.entityId)).toBeVisible();

  await broker.stop();

  await expect(dashboard.rowOf(device.entityId)).toHaveClass(/\bstale\b/);
  await expect(dashboard.switchOf(device.entityId)).toContainText("may be out of date");
  await broker.start();
  await expect(dashboard.rowOf(device.entityId)).not.toHaveClass(/\bstale\b/, { timeout: 30_000 });
});

test("a rename and a move survive the device announcing itself again, a reload and a restart", async ({ page }) => {
  const device = lamp();
  await device.setOnline(true);
  await device.report("OFF");
  await device.announce();
  const dashboard = new DashboardPage(page);
  await dashboard.goto(server.url);
  await dashboard.expectLive();
  await dashboard.logIn(e2eToken);
  await dashboard.startEditing();
  await dashboard.edit(device.entityId, { name: "Reading lamp", area: "Bedroom" });
  await expect(dashboard.room("bedroom").getByTestId(`edit-name-${device.entityId}`)).toHaveValue("Reading lamp");
  await dashboard.stopEditing();

  const expectKept = async () => {
    await expect(dashboard.room("bedroom").getByRole("switch", { name: "Reading lamp" })).toBeVisible();
    await expect(dashboard.room("study")).toHaveCount(0);
  };
  // The device announces itself again, as it does after a power cut.
  await device.announce();
  await device.report("ON");
  await expect(dashboard.stateOf(device.entityId)).toHaveText("on");
  await expectKept();
  await page.reload();
  await dashboard.expectLive();
  await expectKept();
  await server.stop();
  await server.start();
  await page.reload();
  await dashboard.expectLive();
  await expectKept();
});
