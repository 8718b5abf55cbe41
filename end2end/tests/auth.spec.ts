import { test, expect } from "@playwright/test";
import { providerSignIn } from "./helpers";

test("sign in through the OpenID provider, land on my squads, sign out", async ({ page }) => {
  await providerSignIn(page, "maria");
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByTestId("my-squads")).toContainText("Payments");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
  // Signed out on the server: the old session no longer opens pages.
  await page.goto("/catalog");
  await expect(page).toHaveURL(/\/login\?return_to=%2Fcatalog/);
});

test("the provider's groups make squads for someone the catalog does not know", async ({ page }) => {
  await providerSignIn(page, "newcomer");
  // Growth can come from nowhere but the group squad-growth: no catalog squad lists newcomer.
  await expect(page.getByTestId("my-squads")).toContainText("Growth");
  // And with it, growth's services are theirs to edit.
  const own = await page.goto("/services/notifications/edit");
  expect(own?.status()).toBe(200);
  const other = await page.goto("/services/ledger/edit");
  expect(other?.status()).toBe(403);
});

test("a member of another squad is refused the owner-only edit page", async ({ page }) => {
  await providerSignIn(page, "arjun", "/services/ledger");
  await expect(page).toHaveURL(/\/services\/ledger$/);
  await expect(page.getByTestId("edit-link")).toHaveCount(0);
  const response = await page.goto("/services/ledger/edit");
  expect(response?.status()).toBe(403);
  await expect(page.getByRole("alert")).toContainText("only members of payments");
  // Their own service is theirs to edit.
  const own = await page.goto("/services/search-api/edit");
  expect(own?.status()).toBe(200);
});

test("an SRE from the provider's groups sees the SRE controls", async ({ page }) => {
  await providerSignIn(page, "hana");
  await expect(page.getByTestId("signed-in-as")).toContainText("SRE");
  await expect(page.getByRole("button", { name: "Re-import catalog descriptors" })).toBeVisible();
});
