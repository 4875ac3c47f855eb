import { expect, test } from "@playwright/test";
import { e2eToken } from "../playwright.config";
import { DashboardPage } from "./fixtures/dashboard_page";

// The demo home's six entities, each as a switch in its room's card: lights on/off, blinds and curtains
// open/closed.
const demo = [
  { area: "kitchen", entity: "kitchen-lights", states: ["off", "on"] },
  { area: "kitchen", entity: "kitchen-blinds", states: ["closed", "open"] },
  { area: "livingroom", entity: "livingroom-lights", states: ["off", "on"] },
  { area: "livingroom", entity: "livingroom-curtains", states: ["closed", "open"] },
  { area: "bedroom", entity: "bedroom-lights", states: ["off", "on"] },
  { area: "bedroom", entity: "bedroom-curtains", states: ["closed", "open"] },
];

test("every demo switch sits in its room, flips both ways and says its state in words", async ({ page }) => {
  const dashboard = new DashboardPage(page);
  await dashboard.goto();
  await dashboard.expectLive();
  await dashboard.logIn(e2eToken);
  for (const { area, entity, states } of demo) {
    const toggle = dashboard.room(area).getByTestId(`toggle-${entity}`);
    await expect(toggle).toHaveAttribute("role", "switch");
    const before = (await dashboard.stateOf(entity).textContent()) ?? "";
    expect(states, entity).toContain(before);
    const after = states.find((s) => s !== before)!;
    for (const state of [after, before]) {
      await toggle.click();
      await expect(toggle).toHaveAttribute("aria-checked", state === states[1] ? "true" : "false");
      await expect(dashboard.stateOf(entity)).toHaveText(state);
      await expect(dashboard.pendingOf(entity)).toBeHidden();
    }
  }
});
