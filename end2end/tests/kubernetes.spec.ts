import { test, expect } from "@playwright/test";
import { devSignIn, hydrated } from "./helpers";

// Reads only: the sandbox cluster's workloads and logs, which no test changes. Its log reads are
// in ledger's record of reads, which the identity spec tells apart by a marker of its own.
test("a squad member sees deployments update live and follows logs", async ({ page }) => {
  // Waits on the sandbox's clock (a crash about every 7 s, a log line a second), with room for
  // another test running at once on two cores.
  test.setTimeout(120_000);
  await devSignIn(page, "maria");

  // From the service page to its deployments: the OOMKilled restart and its event are there.
  await page.goto("/services/ledger");
  // A click while the page hydrates can be lost between the browser and the router.
  await hydrated(page);
  await page.getByTestId("deployments-link").click();
  await expect(page).toHaveURL(/\/services\/ledger\/deployments$/);
  const ledger = page.getByTestId("deployment-sandbox-ledger");
  await expect(ledger.getByTestId("rollout")).toHaveText("complete");
  await expect(ledger.getByTestId("pods")).toContainText("OOMKilled (137)");
  await expect(ledger.getByTestId("events")).toContainText("OOMKilling");

  // The crash-looping pod's restarts climb without a reload: the live stream updates the page.
  await page.goto("/services/fraud-scoring/deployments");
  await hydrated(page);
  const restarts = page.getByTestId("pods").locator("tbody tr").first().locator("td").nth(3);
  await expect(restarts).toHaveText(/^\s*\d+\s*$/);
  const before = Number(await restarts.textContent());
  await expect.poll(async () => Number(await restarts.textContent()), { timeout: 60_000 }).toBeGreaterThan(before);

  // A stalled rollout says why.
  await page.goto("/services/payouts-worker/deployments");
  await expect(page.getByTestId("rollout")).toHaveText("failed");
  await expect(page.getByTestId("rollout-reason")).toContainText("ProgressDeadlineExceeded");

  // Logs: follow streams lines of every pod; a filter narrows them; the download link carries it.
  await page.goto("/services/ledger/logs");
  await hydrated(page);
  await page.getByTestId("follow-logs").click();
  await expect(page.getByTestId("log-lines")).toContainText("handled request", { timeout: 30_000 });
  await expect(page.getByTestId("log-lines")).toContainText("/proxy ");
  await page.getByTestId("stop-follow").click();
  await page.getByLabel("Container", { exact: true }).selectOption("proxy");
  await page.getByLabel("Filter").fill("status=200");
  await page.getByTestId("show-logs").click();
  await expect(page.getByTestId("log-status")).toContainText("Done.", { timeout: 30_000 });
  const text = (await page.getByTestId("log-lines").textContent()) ?? "";
  const lines = text.split("\n").filter((l) => l.length > 0);
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) {
    expect(line).toMatch(/^ledger-[0-9a-f]+-[0-9a-f]+\/proxy .*status=200/);
  }
  await expect(page.getByTestId("download-logs")).toHaveAttribute("href", /logs\.txt\?container=proxy.*filter=status%3D200/);
  // A filter no line matches shows none: the filter is applied, not just carried along.
  await page.getByLabel("Filter").fill("status=500");
  await page.getByTestId("show-logs").click();
  await expect(page.getByTestId("log-status")).toContainText("Done.", { timeout: 30_000 });
  expect(((await page.getByTestId("log-lines").textContent()) ?? "").trim()).toBe("");
  await page.getByLabel("Filter").fill("status=200");

  // Bad input: a clear message, no lines lost from the form.
  await page.getByLabel("Since").fill("-5m");
  await page.getByTestId("show-logs").click();
  await expect(page.getByTestId("log-status")).toContainText("must be a positive duration");
  await expect(page.getByLabel("Filter")).toHaveValue("status=200");
});

test("a developer of another squad sees deployments but not logs", async ({ page }) => {
  await devSignIn(page, "arjun");
  await page.goto("/services/ledger");
  await expect(page.getByTestId("deployments-link")).toBeVisible();
  await expect(page.getByTestId("logs-link")).toHaveCount(0);
  // Nor on the deployments page.
  await page.goto("/services/ledger/deployments");
  await hydrated(page);
  await expect(page.getByTestId("rollout").first()).toBeVisible();
  await expect(page.getByTestId("logs-link")).toHaveCount(0);
  const download = await page.request.get("/services/ledger/logs.txt");
  expect(download.status()).toBe(403);
});
