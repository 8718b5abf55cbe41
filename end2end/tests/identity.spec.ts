import { test, expect } from "@playwright/test";
import fs from "node:fs";
import path from "node:path";
import { devSignIn, providerSignIn } from "./helpers";

// The IdP reads this group map on every sign-in and refresh (see idp.mjs).
const groupsFile = path.join(__dirname, "../../target/e2e/idp-groups.json");

test.afterEach(() => fs.rmSync(groupsFile, { force: true }));

test("a person removed from the SRE group loses the admin pages within the re-check interval", async ({ page }) => {
  test.setTimeout(150_000);
  await providerSignIn(page, "hana");
  await expect(page.getByTestId("signed-in-as")).toContainText("SRE");
  expect((await page.goto("/admin"))?.status()).toBe(200);

  // The directory drops hana from the SRE group; the console asks again within a minute.
  fs.writeFileSync(groupsFile, JSON.stringify({ hana: ["squad-platform"] }));
  await expect
    .poll(async () => (await page.request.get("/admin")).status(), { timeout: 120_000, intervals: [5_000] })
    .toBe(403);
  await page.goto("/");
  await expect(page.getByTestId("signed-in-as")).not.toContainText("SRE");
  // Still herself, still in her squad.
  await expect(page.getByTestId("my-squads")).toContainText("Platform");
});

test("a log download appears in the owning squad's record of who read the service", async ({ page, browser }) => {
  // Someone with access (an SRE) downloads ledger's logs.
  await devSignIn(page, "sre");
  const download = await page.request.get("/services/ledger/logs.txt?since=30m");
  expect(download.status()).toBe(200);
  const lines = (await download.text()).split("\n").filter((l) => l.length > 0).length;

  // A member of payments, ledger's owner, sees it.
  const owner = await (await browser.newContext()).newPage();
  await devSignIn(owner, "maria");
  await owner.goto("/services/ledger");
  await owner.getByTestId("reads-link").click();
  await expect(owner).toHaveURL(/\/services\/ledger\/reads$/);
  const row = owner.getByTestId("read-row").filter({ hasText: "logs.downloaded" }).filter({ hasText: "sre" }).first();
  await expect(row).toBeVisible();
  await expect(row).toContainText("since=30m");
  await expect(row).toContainText(String(lines));
});

test("API tokens work on the API only, and a person signs out everywhere", async ({ page, browser }) => {
  // joao: nobody else's spec signs in as him, so his sessions are this test's own.
  await devSignIn(page, "joao");
  await page.goto("/tokens");
  await page.getByLabel("Token name").fill("e2e script");
  await page.getByRole("button", { name: "Create token" }).click();
  const token = (await page.getByTestId("new-token").locator("code").textContent())!.trim();
  const api = await page.request.get("/api/v1/me", { headers: { authorization: `Bearer ${token}` } });
  expect((await api.json()).login).toBe("joao");
  // Not a key to the pages or the server functions.
  const fresh = await browser.newContext();
  const refused = await fresh.request.post("/api/tokens/create", {
    headers: { authorization: `Bearer ${token}`, origin: new URL(page.url()).origin },
    form: { name: "minted" },
  });
  expect(refused.status()).toBe(401);

  // A second device, then sign out everywhere from the first.
  const other = await fresh.newPage();
  await devSignIn(other, "joao");
  await page.reload();
  await expect(page.getByTestId("sessions").locator("li")).toHaveCount(2);
  await page.getByTestId("sign-out-everywhere").click();
  // Done once this device is sent to sign in again: only then is the other one checked.
  await expect(page).toHaveURL(/\/login/);
  await other.goto("/catalog");
  await expect(other).toHaveURL(/\/login/);
});
