// The gateway's /.well-known/jwks.json with jose: the keys auth publishes
// (ListPublicKeys) as a JWK Set a browser or another system can verify the
// access tokens with; a real token verifies, tampered ones do not.

import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import {
  assert,
  bearer,
  connectClient,
  env,
  eventually,
  main,
  signInAdmin,
  step,
} from "./lib/common.js";

function base64url(bytes) {
  return Buffer.from(bytes).toString("base64url");
}

// The token with one character of `part` (0 header, 1 payload, 2 signature) changed.
function tamper(token, part) {
  const parts = token.split(".");
  const s = parts[part];
  const i = Math.floor(s.length / 2);
  parts[part] = s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
  return parts.join(".");
}

async function expectRejected(token, jwks, options, what) {
  try {
    await jwtVerify(token, jwks, options);
  } catch (e) {
    console.log(`  ${what}: rejected (${e.code ?? e.name})`);
    return;
  }
  assert.fail(`${what}: verified, want a rejection`);
}

await main("JWKS with jose", async () => {
  const gateway = env("GATEWAY_URL");
  const session = await step("Login through the gateway", () => signInAdmin());

  const jwks = await step("GET /.well-known/jwks.json is a JWK Set of Ed25519 signing keys", async () => {
    // 503 until the gateway's first fetch of auth's keys: give it a moment.
    const response = await eventually("GET /.well-known/jwks.json answers 200", async () => {
      const r = await fetch(`${gateway}/.well-known/jwks.json`);
      if (r.status !== 200) {
        throw new Error(`HTTP ${r.status}: ${(await r.text()).slice(0, 200)}`);
      }
      return r;
    });
    const body = await response.text();
    assert.match(response.headers.get("content-type") ?? "", /^application\/(jwk-set\+)?json/,
      `content-type ${response.headers.get("content-type")}`);
    const set = JSON.parse(body);
    assert.ok(Array.isArray(set.keys) && set.keys.length >= 1, `no keys: ${body.slice(0, 200)}`);
    for (const key of set.keys) {
      assert.equal(key.kty, "OKP", JSON.stringify(key));
      assert.equal(key.crv, "Ed25519", JSON.stringify(key));
      assert.equal(key.alg, "EdDSA", JSON.stringify(key));
      assert.equal(key.use, "sig", JSON.stringify(key));
      assert.ok(key.kid, `a key without kid: ${JSON.stringify(key)}`);
      assert.equal(Buffer.from(key.x, "base64url").length, 32, `x is not 32 bytes: ${key.x}`);
      assert.equal(key.d, undefined, "a private key component is published!");
    }
    return set;
  });

  await step("the JWKS holds the same keys as AuthService/ListPublicKeys", async () => {
    const auth = connectClient("crm.auth.v1.AuthService");
    const listed = await auth.listPublicKeys({}, bearer(session.token));
    const fromAuth = new Map(listed.keys.map((k) => [k.kid, base64url(k.publicKey)]));
    const fromGateway = new Map(jwks.keys.map((k) => [k.kid, k.x]));
    assert.deepEqual(fromGateway, fromAuth);
  });

  await step("jwtVerify accepts the admin's access token", async () => {
    const header = decodeProtectedHeader(session.token);
    const claims = decodeJwt(session.token);
    console.log(`  header ${JSON.stringify(header)} iss ${claims.iss} aud ${claims.aud}`);
    assert.equal(header.alg, "EdDSA");
    assert.ok(jwks.keys.some((k) => k.kid === header.kid), `kid ${header.kid} not in the JWKS`);
    const keys = createLocalJWKSet(jwks);
    const { payload } = await jwtVerify(session.token, keys, {
      issuer: claims.iss,
      audience: claims.aud,
      algorithms: ["EdDSA"],
    });
    assert.equal(payload.sub, String(session.userId));
    assert.ok(payload.exp > Date.now() / 1000, "the token has expired already");
  });

  await step("tampered tokens, another issuer or audience, and an unknown kid are rejected", async () => {
    const claims = decodeJwt(session.token);
    const keys = createLocalJWKSet(jwks);
    const options = { issuer: claims.iss, audience: claims.aud, algorithms: ["EdDSA"] };
    await expectRejected(tamper(session.token, 2), keys, options, "changed signature");
    await expectRejected(tamper(session.token, 1), keys, options, "changed payload");
    // The same payload signed by nobody we know: an unknown kid.
    const header = JSON.parse(Buffer.from(session.token.split(".")[0], "base64url"));
    const foreign = [
      base64url(Buffer.from(JSON.stringify({ ...header, kid: "not-a-published-kid" }))),
      ...session.token.split(".").slice(1),
    ].join(".");
    await expectRejected(foreign, keys, options, "unknown kid");
    await expectRejected(session.token, keys, { ...options, issuer: "someone-else" }, "other issuer");
    await expectRejected(session.token, keys, { ...options, audience: "someone-else" }, "other audience");
  });
});
