import { test, Page } from "@playwright/test";
import path from "node:path";
import { devSignIn, hydrated } from "./helpers";

// `make screenshots`: the main pages at a phone's and a desktop's size, light and dark, into
// docs/screenshots/ (the README shows them). Not part of `make test`: playwright.config.ts runs
// this file only when SCREENSHOTS is set.

const out = path.join(__dirname, "../../docs/screenshots");

const pages: { name: string; url: string; login: string; ready?: (page: Page) => Promise<void> }[] = [
  { name: "catalog", url: "/catalog?q=pay", login: "maria" },
  { name: "service", url: "/services/payments-api", login: "maria" },
  { name: "deployments", url: "/services/payments-api/deployments", login: "maria" },
  {
    name: "logs",
    url: "/services/payments-api/logs",
    login: "maria",
    ready: async (page) => {
      await page.getByTestId("show-logs").click();
      await page.getByTestId("log-lines").filter({ hasText: "/" }).waitFor();
    },
  },
  {
    name: "query",
    url: "/services/payments-api/query",
    login: "maria",
    ready: async (page) => {
      await page.getByTestId("schema").filter({ hasText: "customers" }).waitFor();
      await page.getByLabel("SQL", { exact: true }).fill(
        "SELECT c.name, c.email, p.amount_cents, p.status FROM customers c JOIN payments p ON p.customer_id = c.id LIMIT 8",
      );
      await page.getByRole("button", { name: "Run", exact: true }).click();
      await page.getByTestId("result-grid").waitFor();
    },
  },
  { name: "admin", url: "/admin", login: "sre" },
];

const sizes = [
  { name: "phone", width: 390, height: 844 },
  { name: "desktop", width: 1400, height: 1000 },
];

for (const scheme of ["light", "dark"] as const) {
  for (const size of sizes) {
    test(`screenshots: ${size.name}, ${scheme}`, async ({ page }) => {
      test.setTimeout(120_000);
      await page.setViewportSize({ width: size.width, height: size.height });
      await page.emulateMedia({ colorScheme: scheme });
      let signedIn = "";
      for (const shot of pages) {
        if (shot.login !== signedIn) {
          await page.context().clearCookies();
          await devSignIn(page, shot.login);
          signedIn = shot.login;
        }
        await page.goto(shot.url);
        await hydrated(page);
        if (shot.ready) await shot.ready(page);
        await page.waitForLoadState("networkidle");
        await page.screenshot({ path: `${out}/${shot.name}-${size.name}-${scheme}.png` });
      }
    });
  }
}
