import { test, expect } from "@playwright/test";
import { devSignIn, hydrated } from "./helpers";
import { readFileSync } from "fs";

// The console's demo replica of payments-api (server/src/demo.rs). The other test here adds
// replicas to payments-api as well: this one picks the demo replica rather than taking the first.
const DEMO_REPLICA = "payments-demo";

test("an owner runs a read-only query with Ctrl+Enter; a write is refused", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await devSignIn(page, "maria");
  await page.goto("/services/payments-api");
  await page.getByTestId("query-link").click();
  await expect(page).toHaveURL(/\/services\/payments-api\/query$/);
  await hydrated(page);
  await page.getByLabel("Replica", { exact: true }).selectOption(DEMO_REPLICA);
  await expect(page.getByLabel("Replica", { exact: true })).toHaveValue(DEMO_REPLICA);
  await expect(page.getByTestId("schema")).toContainText("customers");
  const editor = page.getByLabel("SQL", { exact: true });
  await editor.fill("SELECT id, name, email FROM customers ORDER BY id LIMIT 5");
  await editor.press("Control+Enter");
  await expect(page.getByTestId("result-summary")).toContainText("5 rows");
  await expect(page.getByTestId("result-grid")).toContainText("Ana 0");
  await expect(page.getByTestId("result-grid")).toContainText("••••");
  await expect(page.getByTestId("result-grid")).not.toContainText("@example.com");

  // The CSV download is a form POST of the editor's query: same masks, nothing in clear.
  const downloading = page.waitForEvent("download");
  await page.getByTestId("csv-link").click();
  const download = await downloading;
  const csv = readFileSync(await download.path(), "utf8");
  expect(csv.split("\n")[0]).toBe('"id","name","email"');
  expect(csv).toContain("••••");
  expect(csv).not.toContain("@example.com");

  // The history is maria's: the write is this run's own, so an earlier run's cannot stand in.
  const write = `DELETE FROM customers WHERE name = 'e2e ${Date.now()}'`;
  await editor.fill(write);
  await page.getByRole("button", { name: "Run", exact: true }).click();
  await expect(page.getByRole("alert")).toContainText("only read-only statements");
  await expect(page.getByTestId("history")).toContainText(write);
  expect(errors).toEqual([]);
});

test("a jsonb and a timestamptz column are readable in the grid", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // An SRE designates the local PostgreSQL (a superuser, so with an override note) and queries it.
  // The replica's id is new on every run and it is always chosen by id: the demo replica and the
  // replicas earlier runs designated stay as they are, and are not this test's concern.
  await devSignIn(page, "sre");
  await page.goto("/services/payments-api/query");
  await hydrated(page);
  const id = `e2e-pg-${Date.now()}`;
  await page.getByLabel("Replica id").fill(id);
  await page.getByLabel("Replica name").fill("e2e postgres");
  await page.getByLabel("Engine").selectOption("postgres");
  await page.getByLabel("Replica URL").fill(process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test");
  await page.getByLabel("Override note").fill("end-to-end test server");
  // The designation answers with a warning naming the superuser power; the new replica is then
  // in the list (opened by link, as a shared query would be).
  const [registered] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/query/register")),
    page.getByRole("button", { name: "Designate" }).click(),
  ]);
  expect(registered.status()).toBe(200);
  expect(await registered.text()).toContain("superuser");
  await page.goto(`/services/payments-api/query?replica=${id}`);
  await hydrated(page);
  // Without a chosen replica too, a reload hydrates cleanly (the page never writes the choice
  // while rendering, so the server's render and hydration agree).
  await page.goto("/services/payments-api/query");
  await hydrated(page);
  await page.reload();
  await hydrated(page);
  // Settled: the replica list, the first replica's schema and the history have rendered in the
  // browser (a mismatch would have panicked by then).
  await expect(page.getByLabel("Replica", { exact: true })).not.toHaveValue("");
  await expect(page.getByTestId("schema")).toHaveCount(1);
  await expect(page.getByTestId("history")).toHaveCount(1);
  expect(errors).toEqual([]);
  await page.goto(`/services/payments-api/query?replica=${id}`);
  await hydrated(page);
  await expect(page.getByLabel("Replica", { exact: true })).toHaveValue(id);
  const editor = page.getByLabel("SQL", { exact: true });
  await editor.fill(`SELECT '{"b": [1, 2], "a": "x"}'::jsonb AS doc, timestamptz '2026-12-02 10:30:00+01' AS at, NULL AS nothing, 'NULL' AS word`);
  await editor.press("Control+Enter");
  const grid = page.getByTestId("result-grid");
  await expect(grid).toContainText("2026-12-02T09:30:00Z");
  await expect(grid).toContainText('"a": "x"');
  await expect(grid.locator("td[data-null=true]")).toHaveCount(1);
  expect(errors).toEqual([]);
});
