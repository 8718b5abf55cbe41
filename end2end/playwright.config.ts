import { defineConfig } from "@playwright/test";

// The console under test: the binary cargo-leptos built, on its own port and database,
// importing the demo catalog. Debian's Chromium only; no browser download.
const port = process.env.E2E_PORT ?? "3100";
const root = `${__dirname}/..`;

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  retries: 0,
  workers: 1,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  webServer: {
    command: `${root}/target/debug/console serve`,
    cwd: root,
    url: `http://127.0.0.1:${port}/readyz`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      CONSOLE_CONFIG: `${root}/console.toml`,
      CONSOLE_LISTEN: `127.0.0.1:${port}`,
      CONSOLE_DATABASE_URL: `sqlite://${root}/target/e2e/console.db`,
      CONSOLE_SITE_ROOT: `${root}/target/site`,
    },
  },
});
