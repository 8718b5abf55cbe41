import { expect, Page } from "@playwright/test";

export async function hydrated(page: Page) {
  await expect(page.locator("body[data-hydrated=true]")).toHaveCount(1);
}

/// Dev sign-in as one of the demo users.
export async function devSignIn(page: Page, login: string) {
  await page.goto("/login");
  await page.getByLabel("Dev sign-in: pick a demo user (no password)").selectOption(login);
  await page.getByRole("button", { name: "Sign in as this user" }).click();
  await expect(page.getByTestId("signed-in-as")).toContainText(login);
}

/// Sign-in through the real OpenID provider's own login and consent forms.
export async function providerSignIn(page: Page, login: string, start = "/") {
  await page.goto(start);
  await expect(page).toHaveURL(/\/login/);
  await page.getByRole("link", { name: "Sign in with Test IdP" }).click();
  await page.locator("input[name=login]").fill(login);
  await page.locator("input[name=password]").fill("any password");
  await page.getByRole("button", { name: "Sign-in" }).click();
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.getByTestId("signed-in-as")).toContainText(login);
}
