import { test, expect } from "@playwright/test";
import { readFileSync, readdirSync } from "fs";

// What the browser downloads must hold no secret and no server-side code.
test("the wasm and JS bundle hold no secret and no server code", async ({ request }) => {
  const pkg = `${__dirname}/../../target/site/pkg`;
  const files = readdirSync(pkg).filter((f) => /\.(wasm|js|css)$/.test(f));
  expect(files.length).toBeGreaterThanOrEqual(3);
  for (const file of files) {
    const text = readFileSync(`${pkg}/${file}`).toString("latin1");
    for (const needle of ["e2e-client-secret", "E2E_OIDC_SECRET", "secret_hash", "sqlx", "SET LOCAL statement_timeout", "tower_sessions"]) {
      expect(text.includes(needle), `${needle} in ${file}`).toBe(false);
    }
  }
  // And the served copy is the one on disk.
  const served = await request.get("/pkg/console.js");
  expect(served.ok()).toBe(true);
});
