import AxeBuilder from "@axe-core/playwright";
import { expect, test } from "@playwright/test";
import { e2eToken } from "../playwright.config";
import { DashboardPage } from "./fixtures/dashboard_page";
import { freePort } from "./fixtures/net";
import { OwnServer } from "./fixtures/server";

// Each test has a server of its own: a rename made here must not leak into the specs that use the demo home.
let server: OwnServer;
test.beforeEach(async () => {
  server = new OwnServer(await freePort());
  await server.start();
});
test.afterEach(async () => {
  await server.stop();
  server.cleanup();
});

test("rename and move from the dashboard survive a reload and a restart", async ({ page }) => {
  const dashboard = new DashboardPage(page);
  await dashboard.goto(server.url);
  await dashboard.expectLive();
  // Edit mode is behind the login.
  await expect(dashboard.editHome).toBeHidden();
  await dashboard.logIn(e2eToken);
  await dashboard.startEditing();
  await expect(dashboard.editName("kitchen-lights")).toHaveValue("Lights");
  await expect(dashboard.editArea("kitchen-lights")).toHaveValue("Kitchen");

  await dashboard.edit("kitchen-lights", { name: "  Ceiling light ", area: "Study" });

  // A new area, holding the moved light; the keyboard followed it there.
  const study = dashboard.room("study");
  await expect(study.getByRole("heading", { name: "Study" })).toBeVisible();
  await expect(study.getByTestId("edit-name-kitchen-lights")).toHaveValue("Ceiling light");
  await expect(dashboard.editName("kitchen-lights")).toBeFocused();
  await expect(dashboard.room("kitchen").getByTestId("toggle-kitchen-lights")).toHaveCount(0);
  await expect(page.getByRole("status").filter({ hasText: "Saved" })).toHaveText("Saved: Ceiling light is in Study.");
  await dashboard.stopEditing();
  await expect(study.getByRole("switch", { name: "Ceiling light" })).toBeVisible();

  // Move a second one into an existing area by its name in another case: no new card.
  await dashboard.startEditing();
  await dashboard.edit("bedroom-lights", { area: "living ROOM" });
  await expect(dashboard.room("livingroom").getByTestId("edit-name-bedroom-lights")).toBeVisible();
  await dashboard.stopEditing();

  const expectArranged = async () => {
    await expect(dashboard.room("study").getByRole("switch", { name: "Ceiling light" })).toBeVisible();
    await expect(dashboard.room("livingroom").getByTestId("toggle-bedroom-lights")).toBeVisible();
    await expect(dashboard.room("kitchen").getByTestId("toggle-kitchen-lights")).toHaveCount(0);
  };
  await page.reload();
  await dashboard.expectLive();
  await expectArranged();

  await server.stop();
  await expect(dashboard.connectionState).toHaveText(/^reconnecting/);
  await server.start();
  await expect(dashboard.connectionState).toHaveText(/^live/, { timeout: 30_000 });
  await page.reload();
  await dashboard.expectLive();
  await expectArranged();
  // And through the API, as any client sees it.
  const entities = (await (await fetch(`${server.url}/api/entities`)).json()).entities as Array<Record<string, string>>;
  const light = entities.find((e) => e.id === "kitchen-lights");
  expect([light?.name, light?.area, light?.areaName]).toEqual(["Ceiling light", "study", "Study"]);
});

test("an edit the server would refuse is said under its row, Escape puts the row back, Enter saves", async ({ page }) => {
  const dashboard = new DashboardPage(page);
  await dashboard.goto(server.url);
  await dashboard.expectLive();
  await dashboard.logIn(e2eToken);
  await dashboard.startEditing();
  const name = dashboard.editName("kitchen-blinds");

  // Said at once, on the field it is about.
  await dashboard.edit("kitchen-blinds", { name: "   " });
  await expect(dashboard.editError("kitchen-blinds")).toHaveText("A name cannot be empty.");
  await expect(name).toHaveAttribute("aria-invalid", "true");
  await expect(dashboard.editError("kitchen-lights")).toBeEmpty();

  // Escape puts the fields back and takes the problem away.
  await name.focus();
  await page.keyboard.press("Escape");
  await expect(name).toHaveValue("Blinds");
  await expect(dashboard.editError("kitchen-blinds")).toBeEmpty();

  // What the API refuses is shown as it says it.
  await page.route("**/api/entities/kitchen-blinds", (route) =>
    route.request().method() === "PATCH"
      ? route.fulfill({ status: 401, contentType: "application/json", body: JSON.stringify({ error: "log in to change the home", detail: null }) })
      : route.continue(),
  );
  await dashboard.edit("kitchen-blinds", { name: "Roller blind" });
  await expect(dashboard.editError("kitchen-blinds")).toHaveText("Not saved: log in to change the home");
  await expect(name).toHaveValue("Roller blind");
  await page.unroute("**/api/entities/kitchen-blinds");

  // Enter in a field saves.
  await name.press("Enter");
  await expect(dashboard.editError("kitchen-blinds")).toBeEmpty();
  await dashboard.stopEditing();
  await expect(dashboard.room("kitchen").getByRole("switch", { name: "Roller blind" })).toBeVisible();
});

for (const scheme of ["light", "dark"] as const) {
  test(`edit mode has no serious accessibility violation at 390 px, ${scheme}`, async ({ page }) => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: scheme, reducedMotion: "reduce" });
    const dashboard = new DashboardPage(page);
    await dashboard.goto(server.url);
    await dashboard.expectLive();
    await dashboard.logIn(e2eToken);
    await dashboard.startEditing();
    await dashboard.edit("kitchen-lights", { name: "" });
    await expect(dashboard.editError("kitchen-lights")).not.toBeEmpty();
    await dashboard.editName("kitchen-blinds").fill("Changed, not saved");
    const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
    const serious = results.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    expect(serious).toEqual([]);
    // Every field has a name a screen reader says.
    await expect(page.getByRole("textbox", { name: "Name" }).first()).toBeVisible();
    await expect(page.getByRole("group", { name: "Edit Lights" }).first()).toBeVisible();
  });
}
