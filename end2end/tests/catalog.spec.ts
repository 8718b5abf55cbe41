import { test, expect } from "@playwright/test";
import { devSignIn, hydrated } from "./helpers";

// A hydration mismatch panics the wasm side; no page may do that.
let pageErrors: string[] = [];
test.beforeEach(async ({ page }) => {
  pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  await devSignIn(page, "tom");
});
test.afterEach(() => {
  expect(pageErrors).toEqual([]);
});

test("home lists squads and searches the catalog", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Squads", exact: true })).toBeVisible();
  await page.getByLabel("Find a service").fill("ledger");
  await page.getByLabel("Find a service").press("Enter");
  await expect(page).toHaveURL(/\/catalog\?q=ledger/);
  const rows = page.getByTestId("service-row");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText("payments");
});

test("from a service to its squad's ownership page", async ({ page }) => {
  await page.goto("/catalog?q=ledger");
  await page.getByRole("link", { name: "ledger" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText("ledger");
  await expect(page.getByTestId("readiness")).toContainText("Readiness for tier 1");
  await page.getByRole("link", { name: "Payments" }).first().click();
  await expect(page).toHaveURL(/\/squads\/payments$/);
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Payments");
  await expect(page.getByTestId("owned-service")).toHaveCount(6);
  await expect(page.getByText("payments-primary")).toBeVisible();
});

test("a tier filter applies on change once hydrated", async ({ page }) => {
  await page.goto("/catalog");
  await hydrated(page);
  await expect(page.getByTestId("result-count")).toContainText("39 services");
  // No submit: only the hydrated page reacts to the change.
  await page.getByLabel("Tier").selectOption("1");
  await expect(page).toHaveURL(/tier=1/);
  await expect(page.getByTestId("result-count")).not.toContainText("39 services");
  const badges = page.getByTestId("service-row").locator("td:nth-child(3)");
  const count = await badges.count();
  expect(count).toBeGreaterThan(0);
  for (let i = 0; i < count; i++) {
    await expect(badges.nth(i)).toContainText("T1");
  }
  await page.getByLabel("Lifecycle").selectOption("deprecated");
  await expect(page).toHaveURL(/tier=1&lifecycle=deprecated/);
  await expect(page.getByTestId("no-results")).toBeVisible();
});

test("an unknown service is a 404 page", async ({ page }) => {
  const response = await page.goto("/services/does-not-exist");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("alert")).toContainText("not found");
});

// refunds-ui is this test's own: no other test reads or changes it (the searches, counts and
// filters above read only what no test edits: names, squads, tiers, lifecycles). Its SLO is new
// on every run, so a value an earlier run saved cannot pass for this run's save; the attestation
// toggles, which holds from either state.
test("owners edit their service and attest a check", async ({ page }) => {
  const slo = `99% of refunds shown in under 1 s (run ${Date.now()})`;
  await devSignIn(page, "maria");
  await page.goto("/services/refunds-ui");
  await hydrated(page);
  await page.getByTestId("edit-link").click();
  await hydrated(page);
  await page.getByLabel("SLO").fill(slo);
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("status")).toHaveText("Saved.");
  await page.goto("/services/refunds-ui");
  await expect(page.getByText(slo).first()).toBeVisible();
  await hydrated(page);
  const check = page.getByTestId("check-tls");
  const before = await check.textContent();
  const toggle = check.getByTestId("attest-tls");
  const withdrawing = (await toggle.textContent()) === "withdraw";
  await toggle.click();
  if (withdrawing) {
    // Withdrawing asks first; keeping changes nothing.
    await check.getByRole("button", { name: "Keep" }).click();
    await expect(check.getByTestId("confirm-withdraw")).toHaveCount(0);
    await expect(check).toHaveText(before ?? "");
    await toggle.click();
    await check.getByTestId("confirm-withdraw").getByRole("button", { name: "Withdraw" }).click();
  }
  await expect(check).not.toHaveText(before ?? "");
});

test("from a service along its dependencies to its system and back", async ({ page }) => {
  await page.goto("/services/checkout-web");
  await hydrated(page);
  const related = page.getByTestId("related");
  await expect(related).toContainText("depends on");
  await expect(related.getByRole("link", { name: "payments-v1" })).toBeVisible();
  // Client-side navigation through the entity pages.
  await related.getByRole("link", { name: "checkout", exact: true }).click();
  await expect(page).toHaveURL(/\/entities\/system\/checkout$/);
  await expect(page.getByTestId("entity-title")).toHaveText("checkout");
  await page.getByTestId("related").getByRole("link", { name: "cart", exact: true }).click();
  await expect(page).toHaveURL(/\/services\/cart$/);
  await expect(page.getByTestId("related")).toContainText("depended on by");
  await expect(page.getByTestId("related").getByRole("link", { name: "payments-api" })).toBeVisible();
});
