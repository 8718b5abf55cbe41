import { test, expect } from "@playwright/test";
import { devSignIn, hydrated } from "./helpers";
import { readFileSync } from "fs";

test("an owner runs a read-only query with Ctrl+Enter; a write is refused", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await devSignIn(page, "maria");
  await page.goto("/services/payments-api");
  await page.getByTestId("query-link").click();
  await expect(page).toHaveURL(/\/services\/payments-api\/query$/);
  await hydrated(page);
  await expect(page.getByTestId("schema")).toContainText("customers");
  const editor = page.getByLabel("SQL");
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

  await editor.fill("DELETE FROM customers");
  await page.getByRole("button", { name: "Run" }).click();
  await expect(page.getByRole("alert")).toContainText("only read-only statements");
  await expect(page.getByTestId("history")).toContainText("DELETE FROM customers");
  expect(errors).toEqual([]);
});
