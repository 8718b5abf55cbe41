import { test, expect } from "@playwright/test";
import { devSignIn, hydrated } from "./helpers";

test("an SRE changes a link template, a squad member sees it, the SRE rolls it back", async ({ browser }) => {
  const sre = await (await browser.newContext()).newPage();
  const member = await (await browser.newContext()).newPage();
  const errors: string[] = [];
  for (const p of [sre, member]) p.on("pageerror", (e) => errors.push(e.message));

  await devSignIn(member, "maria");
  await member.goto("/services/ledger");
  const links = member.getByTestId("metrics-links");
  await expect(links.getByRole("link", { name: "Grafana" })).toHaveAttribute("href", /d\/service-overview\?var-service=ledger/);

  await devSignIn(sre, "sre");
  await sre.goto("/admin");
  await hydrated(sre);
  const url = sre.getByLabel("Link 1 URL");
  await url.fill("https://grafana.example.com/d/e2e-{service}?squad={squad}");
  await sre.getByRole("button", { name: "Save links" }).click();
  await expect(sre.getByRole("status").first()).toContainText("Saved as version");

  await member.reload();
  await expect(links.getByRole("link", { name: "Grafana" })).toHaveAttribute("href", "https://grafana.example.com/d/e2e-ledger?squad=payments");

  // A javascript: link is refused with the reason.
  await url.fill("javascript:alert(1)");
  await sre.getByRole("button", { name: "Save links" }).click();
  await expect(sre.getByRole("alert")).toContainText("only http(s) links are allowed");

  await sre.goto("/admin");
  await hydrated(sre);
  const before = await sre.getByTestId("defaults-version").count();
  await sre.getByTestId(/^rollback-/).last().click();
  await expect(sre.getByTestId("defaults-version")).toHaveCount(before + 1);
  await member.reload();
  await expect(links.getByRole("link", { name: "Grafana" })).toHaveAttribute("href", /d\/service-overview\?var-service=ledger/);
  expect(errors).toEqual([]);
});

test("developers get a 403 page for the admin area", async ({ page }) => {
  await devSignIn(page, "maria");
  const response = await page.goto("/admin");
  expect(response?.status()).toBe(403);
  await expect(page.getByRole("alert")).toContainText("only SREs");
});
