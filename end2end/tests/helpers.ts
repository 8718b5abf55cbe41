import { expect, Page, test } from "@playwright/test";
import fs from "node:fs";
import path from "node:path";

// Every spec runs against one console, one IdP and one database, in any order, alone or with
// another test at once: a test owns the data it changes (a person, a service, a unique name) or
// puts back what it changed, and counts records relative to what was there before it.

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

/// The console's origin, for the Origin header its state-changing requests must carry.
export function consoleOrigin(): string {
  return new URL(test.info().project.use.baseURL!).origin;
}

// The IdP's group map (see idp.mjs and playwright.config.ts), read on every sign-in and refresh.
// Each test changes only its own person's entry and takes it out again; the file is replaced in
// one rename, so the IdP never reads half of it.
const groupsFile = path.join(__dirname, "../../target/e2e/idp-groups.json");

function readGroups(): Record<string, string[]> {
  try {
    return JSON.parse(fs.readFileSync(groupsFile, "utf8"));
  } catch {
    return {};
  }
}

function writeGroups(map: Record<string, string[]>) {
  if (Object.keys(map).length === 0) {
    fs.rmSync(groupsFile, { force: true });
    return;
  }
  fs.mkdirSync(path.dirname(groupsFile), { recursive: true });
  const temporary = `${groupsFile}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, JSON.stringify(map));
  fs.renameSync(temporary, groupsFile);
}

/// The provider answers `groups` for `login` from now on.
export function setProviderGroups(login: string, groups: string[]) {
  writeGroups({ ...readGroups(), [login]: groups });
}

/// The provider answers `login`'s default groups again (idp.mjs).
export function resetProviderGroups(login: string) {
  const map = readGroups();
  delete map[login];
  writeGroups(map);
}
