// buf curl --protocol grpcweb (HTTP/1.1) through the gateway, with the schema
// from the repository's protos/ (reflection does not go through a gRPC-web
// gateway). Passwords and tokens go on stdin, never on the command line:
// headers, a blank line, then the body (`-H @- -d @-`), as the README shows.
//
// Environment beyond lib/common.js's:
//   BUF         tools/node_modules/.bin/buf
//   PROTOS_DIR  the repository's protos/

import { spawn } from "node:child_process";
import { adminCredentials, assert, env, main, step } from "./lib/common.js";

// buf curl's exit code for a failed RPC is the gRPC code shifted left by three.
const exitCodeOf = (grpcCode) => grpcCode << 3;

function bufCurl(method, { stdin = "", headersOnStdin = false, verbose = false, timeout } = {}) {
  const args = [
    "curl",
    "--protocol", "grpcweb",
    "--schema", env("PROTOS_DIR"),
    "-d", "@-",
    ...(headersOnStdin ? ["-H", "@-"] : []),
    ...(verbose ? ["-v"] : []),
    ...(timeout ? ["--timeout", timeout] : []),
    `${env("GATEWAY_URL")}/${method}`,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(env("BUF"), args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => { stdout += d; });
    child.stderr.on("data", (d) => { stderr += d; });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

function show(result) {
  return `exit ${result.code}\nstdout: ${result.stdout.slice(0, 1500)}\nstderr: ${result.stderr.slice(-3000)}`;
}

// buf -v prints the response headers as "< (#1) Name: value" right after the
// status line "< (#1) HTTP/1.1 200 OK", up to a bare "< (#1)"; trailers come
// later in the same form. Returns the header block's lines, lower-cased.
function responseHeaderLines(stderr) {
  const lines = stderr.split("\n").map((l) => l.replace(/^buf: /, ""));
  const start = lines.findIndex((l) => /^< \(#\d+\) HTTP\/1\.1 /.test(l));
  if (start < 0) {
    return [];
  }
  const out = [];
  for (let i = start + 1; i < lines.length; ++i) {
    const m = /^< \(#\d+\) ?(.*)$/.exec(lines[i]);
    if (!m || m[1] === "") {
      break;
    }
    out.push(m[1].toLowerCase());
  }
  return out;
}

// The lines buf prints as received ("< ...") after the headers: the trailers.
function trailerLines(stderr) {
  const lines = stderr.split("\n").map((l) => l.replace(/^buf: /, ""));
  const start = lines.findIndex((l) => /^< \(#\d+\) HTTP\/1\.1 /.test(l));
  const blank = lines.findIndex((l, i) => i > start && /^< \(#\d+\)\s*$/.test(l));
  if (start < 0 || blank < 0) {
    return [];
  }
  // buf marks trailers "[*] Name: value".
  return lines.slice(blank + 1)
    .map((l) => /^< \(#\d+\) (?:\[\*\] )?(.*)$/.exec(l))
    .filter((m) => m && m[1] !== "")
    .map((m) => m[1].toLowerCase());
}

await main("buf curl --protocol grpcweb", async () => {
  const admin = adminCredentials();

  const token = await step("Login (the body on stdin)", async () => {
    const result = await bufCurl("crm.auth.v1.AuthService/Login", { stdin: JSON.stringify(admin) });
    assert.equal(result.code, 0, show(result));
    const response = JSON.parse(result.stdout);
    assert.ok(response.accessToken, `no accessToken: ${result.stdout}`);
    assert.equal(response.user.email, admin.email);
    return response.accessToken;
  });

  await step("GetUser with the bearer header (headers and body on stdin)", async () => {
    const result = await bufCurl("crm.auth.v1.UserService/GetUser", {
      headersOnStdin: true,
      stdin: `authorization: Bearer ${token}\n\n{}`,
    });
    assert.equal(result.code, 0, show(result));
    assert.equal(JSON.parse(result.stdout).user.email, admin.email);
  });

  await step("ListUsers with the bearer header", async () => {
    const result = await bufCurl("crm.auth.v1.UserService/ListUsers", {
      headersOnStdin: true,
      stdin: `authorization: Bearer ${token}\n\n{"pageSize": 10}`,
    });
    assert.equal(result.code, 0, show(result));
    assert.ok(JSON.parse(result.stdout).users.some((u) => u.email === admin.email), result.stdout);
  });

  await step("an error in the headers (trailers-only): GetUser without a token", async () => {
    const result = await bufCurl("crm.auth.v1.UserService/GetUser", { stdin: "{}", verbose: true });
    assert.equal(result.code, exitCodeOf(16), show(result));
    assert.match(result.stderr, /"code":\s*"unauthenticated"/, show(result));
    const headers = responseHeaderLines(result.stderr);
    assert.ok(headers.includes("grpc-status: 16"),
      `grpc-status 16 not among the response headers ${JSON.stringify(headers)}\n${show(result)}`);
  });

  await step("an error in the headers: Login with a wrong password", async () => {
    const result = await bufCurl("crm.auth.v1.AuthService/Login", {
      stdin: JSON.stringify({ email: admin.email, password: "wrong-password-buf" }),
      verbose: true,
    });
    assert.equal(result.code, exitCodeOf(16), show(result));
    assert.ok(responseHeaderLines(result.stderr).includes("grpc-status: 16"), show(result));
  });

  await step("a backend error through buf: GetLead of id 0 is INVALID_ARGUMENT", async () => {
    // buf checks the method against the schema itself, so an unknown one never
    // reaches the gateway; a real one with an invalid argument does.
    const result = await bufCurl("crm.leads.v1.LeadService/GetLead", {
      headersOnStdin: true,
      stdin: `authorization: Bearer ${token}\n\n{"id": "0"}`,
      verbose: true,
    });
    assert.equal(result.code, exitCodeOf(3), show(result));
  });

  await step("a server stream: WatchNotifications' keep-alives, then its deadline", async () => {
    // buf sends grpc-timeout from --timeout; the gateway makes it the backend
    // call's deadline. Keep-alives (one a second) arrive first, so the
    // stream's end comes after messages: in the trailer frame when the
    // server's DEADLINE_EXCEEDED wins the race with buf's own deadline.
    const result = await bufCurl("crm.notifications.v1.NotificationService/WatchNotifications", {
      headersOnStdin: true,
      stdin: `authorization: Bearer ${token}\n\n{"afterId": "0"}`,
      verbose: true,
      timeout: "4s",
    });
    assert.equal(result.code, exitCodeOf(4), show(result));
    const keepAlives = (result.stdout.match(/"heartbeatTime"/g) ?? []).length;
    assert.ok(keepAlives >= 1, `no keep-alive before the deadline\n${show(result)}`);
    assert.ok(!responseHeaderLines(result.stderr).some((l) => l.startsWith("grpc-status")),
      `the stream answered trailers-only\n${show(result)}`);
    const trailers = trailerLines(result.stderr);
    const inTrailers = trailers.includes("grpc-status: 4");
    console.log(`  ${keepAlives} keep-alives; DEADLINE_EXCEEDED ` +
      (inTrailers ? "in the trailer frame" : "from buf's own deadline (it won the race)"));
  });
});
