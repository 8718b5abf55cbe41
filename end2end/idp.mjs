// A real OpenID provider for the end-to-end tests (npm oidc-provider), on loopback only.
// Any login works with any password (dev interactions); the login names the user and the
// groups below become their squads.
import Provider from "oidc-provider";

const port = Number(process.env.IDP_PORT ?? 3190);
const consoleUrl = process.env.CONSOLE_URL ?? "http://127.0.0.1:3100";
const issuer = `http://127.0.0.1:${port}`;
const groups = { maria: ["squad-payments"], arjun: ["squad-search"], hana: ["squad-platform", "sre"] };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "console",
      client_secret: process.env.E2E_OIDC_SECRET ?? "e2e-client-secret",
      redirect_uris: [`${consoleUrl}/auth/oidc/callback`],
      grant_types: ["authorization_code"],
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
      groups: groups[id] ?? [],
    }),
  }),
  features: { devInteractions: { enabled: true } },
});

provider.listen(port, "127.0.0.1", () => console.log(`oidc-provider listening on ${issuer}`));
