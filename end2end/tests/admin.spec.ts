import { test, expect, Page } from "@playwright/test";
import { consoleOrigin, devSignIn, hydrated } from "./helpers";

/// The version of the platform defaults the admin page shows as current.
async function currentVersion(sre: Page): Promise<number> {
  const heading = sre.getByRole("heading", { name: /^The whole document \(version \d+\)$/ });
  await expect(heading).toHaveCount(1);
  return Number((await heading.textContent())!.match(/version (\d+)/)![1]);
}

// The platform defaults are one document for everyone: this test is the only one that changes
// them, rolls back to the version it found (not to the oldest one), and puts that version back
// even when it fails half-way, so no test after it sees its link template.
test("an SRE changes a link template, a squad member sees it, the SRE rolls it back", async ({ browser }) => {
  const sreContext = await browser.newContext();
  const memberContext = await browser.newContext();
  const sre = await sreContext.newPage();
  const member = await memberContext.newPage();
  const errors: string[] = [];
  for (const p of [sre, member]) p.on("pageerror", (e) => errors.push(e.message));
  let start: number | undefined;
  let rolledBack = false;
  try {
    await devSignIn(member, "maria");
    await member.goto("/services/ledger");
    const links = member.getByTestId("metrics-links");
    await expect(links.getByRole("link", { name: "Grafana" })).toHaveAttribute("href", /d\/service-overview\?var-service=ledger/);

    await devSignIn(sre, "sre");
    await sre.goto("/admin");
    await hydrated(sre);
    start = await currentVersion(sre);
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
    await sre.getByTestId(`rollback-${start}`).click();
    await sre.getByRole("alertdialog").getByRole("button", { name: `Roll back to ${start}` }).click();
    await expect(sre.getByText(/^Rolled back: the document is now version \d+\.$/)).toBeVisible();
    await expect(sre.getByTestId("defaults-version")).toHaveCount(before + 1);
    rolledBack = true;
    await member.reload();
    await expect(links.getByRole("link", { name: "Grafana" })).toHaveAttribute("href", /d\/service-overview\?var-service=ledger/);
    expect(errors).toEqual([]);
  } finally {
    // Failed after saving, before rolling back: the version it found, again (soft, so the
    // failure reported is the test's own).
    if (start !== undefined && !rolledBack) {
      const headers = { origin: consoleOrigin() };
      const now = await sre.request.post("/api/admin/defaults", { data: {}, headers });
      if (!now.ok() || (await now.json()).version !== start) {
        const restored = await sre.request.post("/api/admin/rollback", { data: { version: start }, headers });
        expect.soft(restored.ok(), `rolling the defaults back to version ${start}: ${await restored.text()}`).toBe(true);
      }
    }
    await sreContext.close();
    await memberContext.close();
  }
});

test("developers get a 403 page for the admin area", async ({ page }) => {
  await devSignIn(page, "maria");
  const response = await page.goto("/admin");
  expect(response?.status()).toBe(403);
  await expect(page.getByRole("alert")).toContainText("only SREs");
});
