import { test, expect } from "@playwright/test";
import { devSignIn, hydrated } from "./helpers";

// Issue 27's defects, each as the person met it. None of these tests changes shared data: every
// save here is refused, and the cancelled query reads only.

test("a refused save of the defaults keeps what was typed and marks the line at fault", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await devSignIn(page, "sre");
  await page.goto("/admin");
  await hydrated(page);
  const versions = await page.getByTestId("defaults-version").count();

  // The document: a TOML error keeps the text and the note, names and marks its line.
  const editor = page.getByLabel("Document (TOML)");
  const stored = await editor.inputValue();
  const lines = stored.split("\n");
  const at = lines.findIndex((l) => l.trim() === "[logs]") + 1;
  lines.splice(at, 0, "max_follows_per_user = = 3");
  const broken = lines.join("\n");
  await editor.fill(broken);
  await page.getByLabel("What changed and why").fill("an e2e typo");
  await page.getByRole("button", { name: "Save document" }).click();
  const document = page.locator("section", { has: page.getByLabel("Document (TOML)") });
  await expect(document.getByRole("alert")).toContainText(`line ${at + 1}, column 24`);
  await expect(editor).toHaveValue(broken);
  await expect(page.getByLabel("What changed and why")).toHaveValue("an e2e typo");
  await expect(page.getByTestId("fault-line")).toHaveText(String(at + 1));
  await expect(editor).toHaveAttribute("aria-invalid", "true");
  // The line at fault is selected, ready to be fixed.
  const selected = await editor.evaluate((e: HTMLTextAreaElement) => e.value.slice(e.selectionStart, e.selectionEnd));
  expect(selected).toBe("max_follows_per_user = = 3");

  // Saving what is already in force makes no empty version.
  await editor.fill(stored);
  await page.getByRole("button", { name: "Save document" }).click();
  await expect(document.getByRole("alert")).toContainText("nothing changed");
  await expect(page.getByTestId("defaults-version")).toHaveCount(versions);

  // The link form: a refused URL stays typed, its row marked.
  const url = page.getByLabel("Link 1 URL");
  await url.fill("javascript:alert(1)");
  await page.getByRole("button", { name: "Save links" }).click();
  const links = page.locator("section", { has: page.getByLabel("Link 1 URL") });
  await expect(links.getByRole("alert")).toContainText("only http(s) links are allowed");
  await expect(url).toHaveValue("javascript:alert(1)");
  await expect(url).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByTestId("defaults-version")).toHaveCount(versions);
  expect(errors).toEqual([]);
});

test("a rollback asks first, and a diff says what it compares", async ({ page }) => {
  await devSignIn(page, "sre");
  await page.goto("/admin");
  await hydrated(page);
  const versions = await page.getByTestId("defaults-version").count();
  // Version 0 is always there to roll back to (unless it is in force).
  const rollback = page.getByTestId("defaults-version").last().getByRole("button", { name: /^roll back to 0$/ });
  if ((await rollback.count()) > 0) {
    await rollback.click();
    const dialog = page.getByRole("alertdialog", { name: "Roll back to version 0" });
    await expect(dialog).toContainText("nothing is deleted");
    await dialog.getByRole("button", { name: "Keep the current version" }).click();
    await expect(dialog).toHaveCount(0);
    await expect(page.getByTestId("defaults-version")).toHaveCount(versions);
  }
  if (versions > 1) {
    await page.getByTestId("defaults-version").first().getByRole("button", { name: /^What version \d+ changed$/ }).click();
    await expect(page.getByTestId("diff").getByRole("heading")).toContainText(/What version \d+ changed \(compared with version \d+\)/);
  }
});

test("someone outside the squad sees no log controls, and why", async ({ page }) => {
  await devSignIn(page, "arjun");
  await page.goto("/services/ledger");
  await expect(page.getByTestId("logs-link")).toHaveCount(0);
  await expect(page.getByTestId("query-link")).toHaveCount(0);
  await expect(page.getByTestId("how-to-get-access")).toContainText("SRE");

  await page.goto("/services/ledger/logs");
  await hydrated(page);
  const why = page.getByTestId("how-to-get-access");
  await expect(why).toContainText("Logs and data of ledger are read by squad");
  await expect(why).toContainText("time-bound access");
  for (const control of ["show-logs", "follow-logs", "download-logs"]) {
    await expect(page.getByTestId(control)).toHaveCount(0);
  }
  await expect(page.getByLabel("Filter")).toHaveCount(0);
});

test("an owner's edit form shows the tier without offering to change it; an SRE's offers it", async ({ page, browser }) => {
  await devSignIn(page, "maria");
  await page.goto("/services/refunds-ui/edit");
  await hydrated(page);
  await expect(page.getByTestId("edit-service")).toBeVisible();
  await expect(page.getByLabel("Tier")).toHaveCount(0);
  await expect(page.getByTestId("tier-fixed")).toContainText("set in the service's descriptor in Git or by an SRE");

  const sreContext = await browser.newContext();
  const sre = await sreContext.newPage();
  await devSignIn(sre, "sre");
  await sre.goto("/services/refunds-ui/edit");
  await hydrated(sre);
  await expect(sre.getByLabel("Tier")).toBeVisible();
  await sreContext.close();
});

test("the REPL is offered only where a replica is designated", async ({ page }) => {
  await devSignIn(page, "maria");
  // ledger is payments': maria reads its logs, but no replica is designated for it.
  await page.goto("/services/ledger");
  await expect(page.getByTestId("logs-link")).toBeVisible();
  await expect(page.getByTestId("query-link")).toHaveCount(0);
  await page.goto("/services/payments-api");
  await expect(page.getByTestId("query-link")).toBeVisible();
});

test("a cancel shows as cancelled, not as a failure", async ({ page }) => {
  await devSignIn(page, "maria");
  await page.goto("/services/payments-api/query?replica=payments-demo");
  await hydrated(page);
  await expect(page.getByLabel("Replica", { exact: true })).toHaveValue("payments-demo");
  await page.getByLabel("SQL", { exact: true }).fill(`SELECT COUNT(*) /* ${Date.now()} */ FROM customers a, customers b, customers c, customers d`);
  await page.getByRole("button", { name: "Run", exact: true }).click();
  // Cancel stops a statement once it runs on the replica: give it a moment to start.
  await page.waitForTimeout(1000);
  await page.getByRole("button", { name: "Cancel" }).click();
  await expect(page.getByTestId("cancelled")).toHaveText("Cancelled: the statement was stopped on the replica.");
  await expect(page.getByRole("alert")).toHaveCount(0);
  const latest = page.getByTestId("history").locator("li").first();
  await expect(latest).toContainText("cancelled");
  await expect(latest).not.toContainText("failed");
});

test("an unreachable replica is refused, saved disabled, fixed, then removed, without a reload", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await devSignIn(page, "sre");
  await page.goto("/services/payments-api/query");
  await hydrated(page);
  const manage = page.getByTestId("manage-replicas");
  const id = `e2e-down-${Date.now()}`;
  await manage.getByLabel("Replica id").fill(id);
  await manage.getByLabel("Replica name").fill("e2e ledger");
  await manage.getByLabel("Engine").selectOption("postgres");
  await manage.getByLabel("Replica URL").fill("postgres://reader@127.0.0.1:9/ledger");
  await manage.getByRole("button", { name: "Designate" }).click();
  await expect(manage.getByRole("alert")).toContainText("the connection check failed");
  // Nothing saved, nothing lost from the form.
  await expect(page.getByTestId(`replica-${id}`)).toHaveCount(0);
  await expect(manage.getByLabel("Replica id")).toHaveValue(id);
  await expect(manage.getByLabel("Replica URL")).toHaveValue("postgres://reader@127.0.0.1:9/ledger");

  // Saved disabled, with the reason: listed at once, not offered in the REPL.
  await manage.getByLabel("Save disabled, because").fill("the ledger replica is being rebuilt");
  await manage.getByRole("button", { name: "Designate" }).click();
  const row = page.getByTestId(`replica-${id}`);
  await expect(row).toContainText("disabled: the ledger replica is being rebuilt");
  await expect(page.getByLabel("Replica", { exact: true }).locator(`option[value="${id}"]`)).toHaveCount(0);

  // Fixed: the URL of a replica that answers; it is then in use and offered.
  await row.getByRole("button", { name: `Edit replica ${id}` }).click();
  await expect(manage.getByRole("heading", { name: `Edit replica ${id}` })).toBeVisible();
  await manage.getByLabel("Replica URL").fill(process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test");
  await manage.getByLabel("Save disabled, because").fill("");
  await manage.getByLabel("Override note").fill("end-to-end test server");
  await manage.getByRole("button", { name: "Save changes" }).click();
  await expect(row).toContainText("in use");
  await expect(page.getByLabel("Replica", { exact: true }).locator(`option[value="${id}"]`)).toHaveCount(1);
  await row.getByRole("button", { name: `Check replica ${id}` }).click();
  await expect(page.getByTestId("check-result")).toContainText("reachable");

  // Removed, after asking.
  await row.getByRole("button", { name: `Remove replica ${id}` }).click();
  await page.getByRole("alertdialog", { name: `Remove replica ${id}` }).getByRole("button", { name: `Remove ${id}` }).click();
  await expect(row).toHaveCount(0);
  await expect(page.getByLabel("Replica", { exact: true }).locator(`option[value="${id}"]`)).toHaveCount(0);
  expect(errors).toEqual([]);
});

test("offboarding asks first, naming who; cancelling changes nothing", async ({ page }) => {
  await devSignIn(page, "sre");
  await page.goto("/admin/access");
  await hydrated(page);
  const rows = page.getByTestId("identities").locator("tbody tr");
  const before = await rows.count();
  await page.getByRole("button", { name: "Offboard sre" }).click();
  const dialog = page.getByRole("alertdialog");
  await expect(dialog).toContainText("Offboard sre? Every session of theirs ends");
  await expect(dialog.getByRole("button", { name: "Offboard sre" })).toBeVisible();
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toHaveCount(0);
  await expect(rows).toHaveCount(before);
  // Still signed in: nothing was ended.
  await page.reload();
  await expect(page.getByTestId("signed-in-as")).toContainText("sre");
  // Grants in force are listed (or it says there are none).
  await expect(page.getByTestId("grants")).toBeVisible();
});

test("the audit page covers every kind, filtered through the URL", async ({ page }) => {
  await devSignIn(page, "sre");
  await page.goto("/audit");
  await hydrated(page);
  await expect(page.getByTestId("audit-event").first()).toBeVisible();
  await page.getByLabel("Kind").selectOption("auth");
  await page.getByLabel("Person").fill("sre");
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page).toHaveURL(/kind=auth/);
  await expect(page).toHaveURL(/actor=sre/);
  const kinds = await page.getByTestId("audit-event").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-kind")));
  expect(kinds.length).toBeGreaterThan(0);
  for (const kind of kinds) expect(kind).toMatch(/^auth\./);
  // A filter nothing matches says so.
  await page.goto("/audit?actor=nobody-ever");
  await expect(page.getByTestId("no-events")).toBeVisible();
});

test("a saved query is kept by name for the squad: a refused save keeps the name, a teammate loads and runs it", async ({ page, browser }) => {
  const name = `first customers ${Date.now()}`;
  const text = "SELECT id, name FROM customers ORDER BY id LIMIT 3";
  await devSignIn(page, "maria");
  await page.goto("/services/payments-api/query?replica=payments-demo");
  await hydrated(page);
  const editor = page.getByLabel("SQL", { exact: true });
  await editor.fill("");
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByTestId("save-query").click();
  await expect(page.getByRole("alert")).toContainText("the editor is empty");
  await expect(page.getByLabel("Name", { exact: true })).toHaveValue(name);
  await editor.fill(text);
  await page.getByTestId("save-query").click();
  await expect(page.getByTestId("saved-status")).toContainText(`Saved as "${name}"`);
  await expect(page.getByTestId("saved-queries")).toContainText(name);

  const teammate = await browser.newContext();
  const joao = await teammate.newPage();
  await devSignIn(joao, "joao");
  await joao.goto("/services/payments-api/query?replica=payments-demo");
  await hydrated(joao);
  const entry = joao.getByTestId("saved-query").filter({ hasText: name });
  await expect(entry).toContainText("saved by maria");
  await entry.getByRole("button", { name: `Load ${name} into the editor` }).click();
  await expect(joao.getByLabel("SQL", { exact: true })).toHaveValue(text);
  await entry.getByRole("button", { name: `Run ${name}` }).click();
  await expect(joao.getByTestId("result-summary")).toContainText("3 rows");
  await entry.getByRole("button", { name: `Delete ${name}` }).click();
  await expect(joao.getByTestId("saved-query").filter({ hasText: name })).toHaveCount(0);
  await teammate.close();
});

test("a re-import shows its dry run first and imports only when confirmed", async ({ page }) => {
  await devSignIn(page, "sre");
  await page.goto("/");
  await hydrated(page);
  await page.getByTestId("import-preview").click();
  const confirm = page.getByTestId("import-confirm");
  await expect(confirm).toContainText("nothing has changed yet");
  await expect(confirm).toContainText("services:");
  await confirm.getByRole("button", { name: "Cancel" }).click();
  await expect(confirm).toHaveCount(0);
  await expect(page.getByTestId("import-done")).toHaveCount(0);
  await page.getByTestId("import-preview").click();
  await page.getByTestId("import-confirm").getByRole("button", { name: "Import now" }).click();
  await expect(page.getByTestId("import-done")).toContainText("Imported.");
});
