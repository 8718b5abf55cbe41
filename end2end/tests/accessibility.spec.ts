import { test, expect, Page } from "@playwright/test";
import path from "node:path";
import { devSignIn, hydrated } from "./helpers";

// axe-core (npm) over the main pages, as a squad member and as an SRE, at desktop and phone
// sizes, light and dark: no serious or critical violation of WCAG 2.2 A/AA. At phone size the
// incident pages (service, deployments, logs) never scroll sideways.

const axeScript = path.join(__dirname, "../../node_modules/axe-core/axe.min.js");

// The console's CSP allows no inline script, which is how axe is put into the page: the check
// runs with CSP bypassed (only in this file).
test.use({ bypassCSP: true });

type Violation = { id: string; impact: string; help: string; nodes: { target: string[] }[] };

async function seriousViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: axeScript });
  const violations: Violation[] = await page.evaluate(async () => {
    // @ts-expect-error axe is injected above
    const result = await window.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] },
    });
    return result.violations;
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 5).map((n) => n.target.join(" ")).join(", ")}`);
}

const memberPages = [
  "/",
  "/catalog?q=pay",
  "/services/payments-api",
  "/services/payments-api/deployments",
  "/services/payments-api/logs",
  "/services/payments-api/query",
  "/squads/payments",
  "/readiness",
  "/tokens",
];
const srePages = ["/admin", "/admin/access", "/audit", "/services/payments-api/query", "/services/ledger"];
const incidentPages = ["/services/payments-api", "/services/payments-api/deployments", "/services/payments-api/logs"];

const sizes = [
  { name: "desktop", width: 1400, height: 1000 },
  { name: "phone", width: 390, height: 844 },
];

for (const size of sizes) {
  for (const scheme of ["light", "dark"] as const) {
    for (const [login, pages] of [["maria", memberPages], ["sre", srePages]] as const) {
      test(`no serious accessibility violation: ${login}, ${size.name}, ${scheme}`, async ({ page }) => {
        test.setTimeout(120_000);
        await page.setViewportSize({ width: size.width, height: size.height });
        await page.emulateMedia({ colorScheme: scheme });
        await devSignIn(page, login);
        const found: string[] = [];
        for (const url of pages) {
          await page.goto(url);
          await hydrated(page);
          await page.waitForLoadState("networkidle");
          found.push(...(await seriousViolations(page)).map((v) => `${url}: ${v}`));
        }
        expect(found).toEqual([]);
      });
    }
  }
}

test("at phone size the incident pages do not scroll sideways, and log lines can wrap", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await devSignIn(page, "maria");
  for (const url of incidentPages) {
    await page.goto(url);
    await hydrated(page);
    const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    expect(scroll, url).toBeLessThanOrEqual(width);
  }
  // The header keeps search and sign-out on screen.
  for (const control of [page.getByLabel("Search services"), page.getByRole("button", { name: "Sign out" })]) {
    const box = (await control.boundingBox())!;
    expect(box.x + box.width).toBeLessThanOrEqual(390);
  }
});

test("a skip link leads past the header to the page", async ({ page }) => {
  await devSignIn(page, "maria");
  await page.goto("/services/payments-api");
  await hydrated(page);
  await page.keyboard.press("Tab");
  const skip = page.getByRole("link", { name: "Skip to the page" });
  await expect(skip).toBeFocused();
  await skip.press("Enter");
  await expect(page.locator("main")).toBeFocused();
});
