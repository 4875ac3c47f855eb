import { defineConfig } from "@playwright/test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

// Hearth's browser tests run in Debian's Chromium (Playwright's own browser download cannot work offline) against
// the release build, started here by Playwright itself so each run begins from a known state.
export const root = path.resolve(__dirname, "..");
const port = Number(process.env.HEARTH_E2E_PORT ?? 3000);
export const baseURL = `http://127.0.0.1:${port}`;
export const e2eToken = process.env.HEARTH_E2E_TOKEN ?? "e2e-secret-token";

// A fresh store for every run, so no earlier run's messages or devices leak into this one. Only the main process
// starts the server; workers evaluate this file too but never use the directory.
process.env.HEARTH_E2E_DATA_DIR ??= fs.mkdtempSync(path.join(os.tmpdir(), "hearth-e2e-data-"));
const dataDir = process.env.HEARTH_E2E_DATA_DIR;

export default defineConfig({
  testDir: "./tests",
  timeout: 45_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: process.env.CI ? 1 : 0,
  reporter: [["list"]],
  use: {
    baseURL,
    trace: "off",
    launchOptions: {
      executablePath: process.env.HEARTH_CHROMIUM ?? "/usr/bin/chromium",
      // Without these Chromium keeps dialling Google's services, which this closed network refuses.
      args: [
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--disable-gpu",
      ],
    },
  },
  projects: [{ name: "chromium" }],
  webServer: {
    command: path.join(root, "target", "release", "server"),
    cwd: root,
    url: `${baseURL}/healthz`,
    reuseExistingServer: !process.env.CI,
    timeout: 60_000,
    stdout: "ignore",
    stderr: "pipe",
    env: {
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: path.join(root, "target", "site"),
      HEARTH_TOKEN: e2eToken,
      // Tests change devices themselves: the demo simulator would race them.
      HEARTH_SIMULATOR: "false",
      HEARTH_TEMPERATURE_MS: "1000",
      // Closed tabs are noticed at the next write; frequent keep-alives make the viewer count fall promptly.
      HEARTH_KEEPALIVE_SECS: "2",
      HEARTH_DATA_DIR: dataDir,
      HEARTH_LOG: "warn",
    },
  },
});
