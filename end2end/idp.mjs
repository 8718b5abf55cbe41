// A real OpenID provider for the end-to-end tests (npm oidc-provider), on loopback only.
// Any login works with any password (dev interactions); the login names the user and the
// groups below become their squads.
import fs from "node:fs";
import Provider from "oidc-provider";

const port = Number(process.env.IDP_PORT ?? 3190);
const consoleUrl = process.env.CONSOLE_URL ?? "http://127.0.0.1:3100";
const issuer = `http://127.0.0.1:${port}`;
// "newcomer" is in no catalog squad: growth can only come from the provider's groups.
// "leaver" is an SRE only the SRE-removal test signs in as and takes out of "sre" (hana, the
// other SRE here, keeps her groups for the tests that need an SRE).
const defaultGroups = {
  maria: ["squad-payments"],
  arjun: ["squad-search"],
  hana: ["squad-platform", "sre"],
  newcomer: ["squad-growth"],
  leaver: ["squad-platform", "sre"],
};
// Tests change who is in which group by writing this file ({"login": ["group", …]}; each test
// only its own login's entry, see tests/helpers.ts); it is read on every sign-in and every
// refresh, as a real directory would answer.
const groupsFile = process.env.IDP_GROUPS_FILE;
function groupsOf(id) {
  if (groupsFile && fs.existsSync(groupsFile)) {
    const map = JSON.parse(fs.readFileSync(groupsFile, "utf8"));
    if (id in map) return map[id];
  }
  return defaultGroups[id] ?? [];
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "console",
      client_secret: process.env.E2E_OIDC_SECRET ?? "e2e-client-secret",
      redirect_uris: [`${consoleUrl}/auth/oidc/callback`],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
    },
  ],
  scopes: ["openid", "profile", "email", "groups"],
  claims: {
    openid: ["sub"],
    profile: ["name", "preferred_username"],
    email: ["email", "email_verified"],
    groups: ["groups"],
  },
  // Put the requested claims in the ID token itself.
  conformIdTokenClaims: false,
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({
      sub: id,
      preferred_username: id,
      name: id,
      email: `${id}@example.com`,
      email_verified: true,
      groups: groupsOf(id),
    }),
  }),
  features: { devInteractions: { enabled: true } },
  // The console re-checks roles with a refresh token; no offline_access consent dance here.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
});

provider.listen(port, "127.0.0.1", () => console.log(`oidc-provider listening on ${issuer}`));
