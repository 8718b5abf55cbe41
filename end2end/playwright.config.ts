import { defineConfig } from "@playwright/test";
import { execFileSync } from "node:child_process";

// The harness starts a real OpenID provider (npm oidc-provider) and the console binary that
// cargo-leptos built, each on a loopback port the OS picks (a leftover process or a second run
// cannot answer in their place). Debian's Chromium only: no browser download.
// Chosen once, in the runner: workers load this file again and inherit the environment.
function freePort(): string {
  const script = "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])";
  return execFileSync("python3", ["-c", script]).toString().trim();
}
process.env.E2E_PORT ??= freePort();
process.env.IDP_PORT ??= freePort();
const port = process.env.E2E_PORT;
const idpPort = process.env.IDP_PORT;
const root = `${__dirname}/..`;
const consoleUrl = `http://127.0.0.1:${port}`;
const secret = "e2e-client-secret";
// The IdP's group map: a test that changes someone's groups writes that person's entry only
// (tests/helpers.ts).
const groupsFile = `${root}/target/e2e/idp-groups.json`;

// No test depends on another's data (each owns what it changes or puts it back), so any order
// works. Margins allow for a debug build on two busy cores, or two tests at once.
export default defineConfig({
  testDir: "./tests",
  // `make screenshots` sets SCREENSHOTS and runs that file alone; `make test` never does.
  testIgnore: process.env.SCREENSHOTS ? [] : ["**/screenshots.spec.ts"],
  timeout: 60_000,
  expect: { timeout: 10_000 },
  retries: 0,
  workers: 1,
  reporter: [["list"]],
  use: {
    baseURL: consoleUrl,
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
  webServer: [
    {
      command: `node ${__dirname}/idp.mjs`,
      url: `http://127.0.0.1:${idpPort}/.well-known/openid-configuration`,
      timeout: 60_000,
      reuseExistingServer: false,
      env: { IDP_PORT: idpPort, CONSOLE_URL: consoleUrl, E2E_OIDC_SECRET: secret, IDP_GROUPS_FILE: groupsFile },
    },
    {
      command: `${root}/target/debug/console serve`,
      cwd: root,
      url: `${consoleUrl}/readyz`,
      timeout: 120_000,
      reuseExistingServer: false,
      stdout: "pipe",
      stderr: "pipe",
      env: {
        CONSOLE_CONFIG: `${__dirname}/console.e2e.toml`,
        CONSOLE_LISTEN: `127.0.0.1:${port}`,
        CONSOLE_DATABASE_URL: `sqlite://${root}/target/e2e/console.db`,
        CONSOLE_SITE_ROOT: `${root}/target/site`,
        CONSOLE_AUTH__OIDC__ISSUER: `http://127.0.0.1:${idpPort}`,
        E2E_OIDC_SECRET: secret,
        E2E_SECRET_KEY: "e2e-sealing-key-0123456789abcdefghijkl",
      },
    },
  ],
});
