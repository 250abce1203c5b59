// A real browser (Debian's Chromium, headless, driven by playwright-core)
// through the gateway. A static page is served on 127.0.0.1 from two ports:
// one whose origin is in the gateway's --cors_allowed_origins, one that is
// not. From the allowed one the page signs in, makes unary calls with fetch
// and with the grpc-web runtime in text mode, and opens WatchNotifications
// both ways; Node then creates a notification for the page's user and waits
// for the page to show it. From the other origin the browser refuses the
// answer (fetch rejects with a CORS error).
//
// Environment beyond lib/common.js's:
//   ALLOWED_ORIGIN_PORT  the port whose origin http://127.0.0.1:PORT the gateway allows
//   CHROMIUM             the browser (default /usr/bin/chromium)

import { readFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import {
  assert,
  createNotification,
  createUser,
  env,
  main,
  onExit,
  signInAdmin,
  step,
} from "./lib/common.js";

const here = path.dirname(fileURLToPath(import.meta.url));

// What the page server hands out: URL prefix → directory (or file).
const routes = [
  ["/vendor/protobuf/", path.join(here, "node_modules/@bufbuild/protobuf/dist/esm/")],
  ["/vendor/grpc-web.js", path.join(here, "node_modules/grpc-web/index.esm.js")],
  ["/lib/frames.js", path.join(here, "lib/frames.js")],
  ["/app.js", path.join(here, "page/app.js")],
  ["/index.html", path.join(here, "page/index.html")],
  ["/descriptors.binpb", env("DESCRIPTOR_SET")],
];

const types = { ".js": "text/javascript", ".html": "text/html; charset=utf-8", ".binpb": "application/octet-stream" };

function resolve(urlPath) {
  for (const [prefix, target] of routes) {
    if (prefix.endsWith("/") && urlPath.startsWith(prefix)) {
      const file = path.normalize(path.join(target, urlPath.slice(prefix.length)));
      return file.startsWith(target) ? file : null;
    }
    if (urlPath === prefix) {
      return target;
    }
  }
  return null;
}

function servePage(port) {
  const server = http.createServer(async (request, response) => {
    const urlPath = new URL(request.url, "http://x").pathname;
    if (urlPath === "/favicon.ico") {
      response.writeHead(204);
      response.end();
      return;
    }
    const file = resolve(urlPath === "/" ? "/index.html" : urlPath);
    try {
      if (!file) {
        throw new Error("not found");
      }
      const body = await readFile(file);
      response.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" });
      response.end(body);
    } catch {
      response.writeHead(404, { "content-type": "text/plain" });
      response.end(`no ${urlPath}\n`);
    }
  });
  return new Promise((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      onExit(() => new Promise((done) => { server.closeAllConnections(); server.close(done); }));
      resolveListen(`http://127.0.0.1:${server.address().port}`);
    });
  });
}

// What went over the wire to the gateway, as Chromium saw it.
const exchanges = [];

async function openPage(browser, origin, log) {
  const page = await browser.newPage();
  page.on("response", (r) => exchanges.push({
    url: r.url(),
    method: r.request().method(),
    requestType: r.request().headers()["content-type"] ?? "",
    responseType: r.headers()["content-type"] ?? "",
  }));
  page.on("console", (m) => log.push(`[${origin} console.${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => log.push(`[${origin} pageerror] ${e.message}`));
  page.on("requestfailed", (r) => log.push(`[${origin} requestfailed] ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  await page.goto(`${origin}/index.html`);
  try {
    await page.waitForFunction(() => document.getElementById("ready")?.textContent === "ready", null, { timeout: 15000 });
  } catch (e) {
    throw new Error(`the page at ${origin} did not load its modules:\n${log.join("\n")}`);
  }
  return page;
}

await main("browser (Chromium) through the gateway", async () => {
  const gateway = env("GATEWAY_URL");
  const log = [];
  onExit((failed) => {
    if (failed && log.length > 0) {
      console.log("browser log:\n  " + log.join("\n  "));
    }
  });

  const [allowedOrigin, refusedOrigin] = await step("serve the page on the allowed and a refused origin", async () => [
    await servePage(Number(env("ALLOWED_ORIGIN_PORT"))),
    await servePage(0),
  ]);

  const admin = await step("sign in as the admin (Node)", () => signInAdmin());
  const user = await step("a fresh agent for the page", () => createUser(admin.token, "browser"));

  const browser = await step("launch Chromium headless", async () => {
    const b = await chromium.launch({
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      headless: true,
      // Chromium's sandbox cannot run as root (CI and this machine's tests).
      args: process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : [],
    });
    onExit(() => b.close());
    return b;
  });

  const page = await step(`open the page from the allowed origin ${allowedOrigin}`,
    () => openPage(browser, allowedOrigin, log));

  const token = await step("the page signs in with fetch (gRPC-web binary)", async () => {
    const answer = await page.evaluate(([g, e, p]) => window.crm.fetchUnary(g, "/crm.auth.v1.AuthService/Login",
      { email: e, password: p }), [gateway, user.email, user.password]);
    assert.equal(answer.grpcStatus, 0, `Login from the page: ${JSON.stringify(answer)}`);
    assert.equal(answer.message.user.id, String(user.id));
    return answer.message.accessToken;
  });

  await step("the page reads a trailers-only error's status from the exposed headers", async () => {
    const answer = await page.evaluate((g) => window.crm.fetchUnary(g, "/crm.auth.v1.UserService/GetUser", {}, ""),
      gateway);
    assert.equal(answer.grpcStatus, 16, `GetUser without a token from the page: ${JSON.stringify(answer)}`);
  });

  await step("the grpc-web runtime in text mode: Login, then GetUser with the token", async () => {
    const login = await page.evaluate(([g, e, p]) => window.crm.grpcWebUnary(g, "/crm.auth.v1.AuthService/Login",
      { email: e, password: p }), [gateway, user.email, user.password]);
    assert.equal(login.code, 0, `grpc-web Login: ${JSON.stringify(login)}`);
    assert.ok(login.response.accessToken, "grpc-web Login: no token");
    const got = await page.evaluate(([g, t]) => window.crm.grpcWebUnary(g, "/crm.auth.v1.UserService/GetUser", {}, t),
      [gateway, login.response.accessToken]);
    assert.equal(got.code, 0, `grpc-web GetUser: ${JSON.stringify(got)}`);
    assert.equal(got.response.user.email, user.email);
    // Text mode both ways on the wire.
    const call = exchanges.find((x) => x.method === "POST" && x.url.endsWith("/crm.auth.v1.UserService/GetUser") &&
      x.requestType.startsWith("application/grpc-web-text"));
    assert.ok(call, `no text-mode GetUser among ${JSON.stringify(exchanges.filter((x) => x.method === "POST"))}`);
    assert.match(call.responseType, /^application\/grpc-web-text/, JSON.stringify(call));
  });

  await step("the grpc-web runtime in text mode sees an error's code", async () => {
    const got = await page.evaluate((g) => window.crm.grpcWebUnary(g, "/crm.auth.v1.UserService/GetUser", {}, ""),
      gateway);
    assert.equal(got.code, 16, `grpc-web GetUser without a token: ${JSON.stringify(got)}`);
  });

  await step("the page opens WatchNotifications with fetch and with the grpc-web runtime", async () => {
    await page.evaluate(([g, t]) => {
      window.crm.watchWithFetch(g, t);
      window.crm.watchWithGrpcWeb(g, t);
    }, [gateway, token]);
    try {
      await page.waitForFunction(() => ["fetch-state", "grpcweb-state"].every(
        (id) => document.getElementById(id).textContent === "live"), null, { timeout: 15000 });
    } catch {
      const states = await page.evaluate(() => ["fetch-state", "grpcweb-state"].map(
        (id) => `${id}: ${document.getElementById(id).textContent}`));
      throw new Error(`streams not live: ${states.join("; ")}`);
    }
  });

  await step("a notification created for the page's user shows up in the page, both ways", async () => {
    const title = `browser ${process.pid} ${Date.now()}`;
    await createNotification(admin.token, user.id, title);
    for (const list of ["fetch-notifications", "grpcweb-notifications"]) {
      try {
        await page.locator(`#${list} li`, { hasText: title }).waitFor({ timeout: 15000 });
      } catch {
        const state = await page.evaluate(() => ["fetch-state", "grpcweb-state"].map(
          (id) => `${id}: ${document.getElementById(id).textContent}`));
        throw new Error(`"${title}" not in #${list} within 15 s (${state.join("; ")})`);
      }
    }
    const states = await page.evaluate(() => ["fetch-state", "grpcweb-state"].map(
      (id) => document.getElementById(id).textContent));
    assert.deepEqual(states, ["live", "live"], "a stream ended");
    await page.evaluate(() => window.crm.stopStreams());
  });

  await step(`from the refused origin ${refusedOrigin} the browser refuses the answer (CORS)`, async () => {
    const refusedPage = await openPage(browser, refusedOrigin, log);
    const result = await refusedPage.evaluate(([g, e, p]) => window.crm.fetchFromThisOrigin(g, e, p),
      [gateway, user.email, user.password]);
    assert.equal(result.rejected, true, `fetch from ${refusedOrigin} was not refused: ${JSON.stringify(result)}`);
    assert.equal(result.name, "TypeError", JSON.stringify(result));
    const grpcWeb = await refusedPage.evaluate(([g, e, p]) => window.crm.grpcWebUnary(g,
      "/crm.auth.v1.AuthService/Login", { email: e, password: p }), [gateway, user.email, user.password]);
    assert.notEqual(grpcWeb.code, 0, `the grpc-web runtime from ${refusedOrigin} got an answer`);
    assert.equal(grpcWeb.response, null);
    console.log(`  fetch: ${result.name}: ${result.message}; grpc-web: code ${grpcWeb.code} ${grpcWeb.message}`);
    assert.ok(log.some((line) => line.includes(refusedOrigin) && /CORS/i.test(line)),
      "Chromium logged no CORS error for the refused origin");
    await refusedPage.close();
  });

  await page.close();
});
