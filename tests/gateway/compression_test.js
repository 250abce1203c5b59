// Compressed requests pass through the gateway unchanged: the browser's
// grpc-encoding and each frame's compressed flag reach the backend, whose
// gRPC library decompresses them (the gateway only inflates to count, never
// forwards what it inflated). Checked with connect-node compressing its
// requests (gzip, even the smallest), seen on the way by a recording proxy,
// and with hand-made frames over fetch: gzip and deflate, text mode, an
// uncompressed frame in a gzip call, and the refusals: an encoding gRPC C++
// lacks (UNIMPLEMENTED, naming it and the supported ones), a compressed frame
// without an encoding (INTERNAL), a corrupt gzip frame (INTERNAL, from the
// gateway), and a gzip bomb, a small frame that inflates past the gateway's
// message limit (RESOURCE_EXHAUSTED, and the gateway goes on answering).

import http from "node:http";
import zlib from "node:zlib";
import { Code, ConnectError } from "@connectrpc/connect";
import { compressionGzip, createGrpcWebTransport } from "@connectrpc/connect-node";
import { base64Encode, encodeFrame, parseFrames } from "./lib/frames.js";
import {
  adminCredentials,
  assert,
  assertGrpcWeb,
  bearer,
  connectClient,
  decode,
  describe,
  encode,
  env,
  main,
  onExit,
  rawCall,
  signInAdmin,
  step,
} from "./lib/common.js";

const COMPRESSED = 0x01;
const GET_USER = "/crm.auth.v1.UserService/GetUser";

// A pass-through HTTP/1.1 proxy in front of the gateway that keeps each
// request (path, headers, body), so the test sees what the client sent.
async function recordingProxy(target) {
  const upstream = new URL(target);
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      requests.push({ path: req.url, headers: req.headers, body });
      const headers = { ...req.headers, host: upstream.host, "content-length": body.length };
      delete headers["transfer-encoding"];
      delete headers.connection;
      const forward = http.request({
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers,
        agent: false,
      }, (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      });
      forward.on("error", (e) => res.destroy(e));
      forward.end(body);
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  onExit(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${server.address().port}`, requests };
}

// The one message frame of a recorded request body.
function onlyFrame(body) {
  const frames = parseFrames(new Uint8Array(body));
  assert.equal(frames.length, 1, `${frames.length} frames in the request body`);
  return frames[0];
}

// An answer's data frames are never compressed, and no grpc-encoding says
// otherwise.
function assertUncompressedAnswer(answer, context) {
  assert.equal(answer.headers["grpc-encoding"], undefined,
    `${context}: the answer has grpc-encoding ${answer.headers["grpc-encoding"]}`);
  for (const frame of answer.frames) {
    assert.equal(frame.flags & COMPRESSED, 0, `${context}: a compressed frame in the answer`);
  }
}

await main("compressed requests through the gateway", async () => {
  const admin = await step("sign in as the admin (uncompressed)", () => signInAdmin());
  const proxy = await recordingProxy(env("GATEWAY_URL"));
  // gzip on every request, however small (the default leaves those under
  // 1 KiB uncompressed, which is every request here).
  const gzipTransport = createGrpcWebTransport({
    baseUrl: proxy.url,
    httpVersion: "1.1",
    sendCompression: compressionGzip,
    compressMinBytes: 0,
  });

  await step("connect-node: Login with a gzip-compressed request", async () => {
    const auth = connectClient("crm.auth.v1.AuthService", gzipTransport);
    const { email, password } = adminCredentials();
    const response = await auth.login({ email, password });
    assert.ok(response.accessToken, "Login answered without an access token");
    assert.equal(response.user.email, email);
    const sent = proxy.requests.at(-1);
    assert.equal(sent.path, "/crm.auth.v1.AuthService/Login");
    assert.equal(sent.headers["grpc-encoding"], "gzip");
    const frame = onlyFrame(sent.body);
    assert.equal(frame.flags & COMPRESSED, COMPRESSED, "connect-node did not compress the request");
    assert.equal(decode("crm.auth.v1.LoginRequest", zlib.gunzipSync(frame.payload)).email, email);
  });

  await step("connect-node: GetUser with the token, gzip-compressed", async () => {
    const users = connectClient("crm.auth.v1.UserService", gzipTransport);
    const response = await users.getUser({ id: admin.userId }, bearer(admin.token));
    assert.equal(response.user.id, admin.userId);
    assert.equal(response.user.email, adminCredentials().email);
    const sent = proxy.requests.at(-1);
    assert.equal(sent.headers["grpc-encoding"], "gzip");
    assert.equal(onlyFrame(sent.body).flags & COMPRESSED, COMPRESSED);
  });

  await step("connect-node: a server stream opened with a gzip request delivers messages", async () => {
    const notifications = connectClient("crm.notifications.v1.NotificationService", gzipTransport);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 15000);
    let messages = 0;
    try {
      // The driver runs notifications with a keep-alive each quiet second.
      for await (const message of notifications.watchNotifications(
        { afterId: 0n }, { ...bearer(admin.token), signal: abort.signal })) {
        assert.ok(message, "an empty stream message");
        messages += 1;
        break;
      }
    } catch (e) {
      const error = ConnectError.from(e);
      assert.fail(`the stream ended with ${Code[error.code]}: ${error.rawMessage}`);
    } finally {
      clearTimeout(timer);
      abort.abort();
    }
    assert.equal(messages, 1, "no message within 15 s");
    const sent = proxy.requests.at(-1);
    assert.equal(sent.path, "/crm.notifications.v1.NotificationService/WatchNotifications");
    assert.equal(onlyFrame(sent.body).flags & COMPRESSED, COMPRESSED);
  });

  const request = encode("crm.auth.v1.GetUserRequest", { id: admin.userId });
  const call = (body, headers = {}, text = false) =>
    rawCall(GET_USER, request, { token: admin.token, headers, body, text });
  const assertAdmin = (answer, context) => {
    assertGrpcWeb(answer, 0, context);
    assert.equal(answer.messages.length, 1, `${context}: ${describe(answer)}`);
    const response = decode("crm.auth.v1.GetUserResponse", answer.messages[0]);
    assert.equal(response.user.email, adminCredentials().email, context);
    assertUncompressedAnswer(answer, context);
  };

  await step("fetch: a gzip frame with grpc-encoding: gzip", async () => {
    const answer = await call(encodeFrame(zlib.gzipSync(request), COMPRESSED),
      { "grpc-encoding": "gzip" });
    assertAdmin(answer, "gzip frame");
  });

  await step("fetch: a deflate (zlib) frame with grpc-encoding: deflate", async () => {
    const answer = await call(encodeFrame(zlib.deflateSync(request), COMPRESSED),
      { "grpc-encoding": "deflate" });
    assertAdmin(answer, "deflate frame");
  });

  await step("fetch: a gzip frame in text mode", async () => {
    const body = base64Encode(encodeFrame(zlib.gzipSync(request), COMPRESSED));
    const answer = await call(body, { "grpc-encoding": "gzip" }, true);
    assertAdmin(answer, "gzip frame, text mode");
  });

  await step("fetch: an uncompressed frame in a call with grpc-encoding: gzip (the flag is per message)",
    async () => {
      const answer = await call(encodeFrame(request), { "grpc-encoding": "gzip" });
      assertAdmin(answer, "uncompressed frame, gzip call");
    });

  await step("fetch: grpc-encoding: br is UNIMPLEMENTED, naming it and the supported ones", async () => {
    for (const body of [encodeFrame(zlib.brotliCompressSync(request), COMPRESSED), encodeFrame(request)]) {
      const answer = await call(body, { "grpc-encoding": "br" });
      assertGrpcWeb(answer, 12, "grpc-encoding: br");
      assert.match(answer.grpcMessage, /"br"/, `grpc-message ${answer.grpcMessage} does not name br`);
      assert.match(answer.grpcMessage, /identity,deflate,gzip/,
        `grpc-message ${answer.grpcMessage} does not list the supported encodings`);
      assert.equal(answer.headers["grpc-accept-encoding"], "identity,deflate,gzip");
    }
    const snappy = await call(encodeFrame(request, COMPRESSED), { "grpc-encoding": "snappy" });
    assertGrpcWeb(snappy, 12, "grpc-encoding: snappy");
    assert.match(snappy.grpcMessage, /"snappy"/);
  });

  await step("fetch: a compressed frame without grpc-encoding (or identity) is INTERNAL", async () => {
    for (const headers of [{}, { "grpc-encoding": "identity" }]) {
      const answer = await call(encodeFrame(zlib.gzipSync(request), COMPRESSED), headers);
      assertGrpcWeb(answer, 13, `compressed frame with ${JSON.stringify(headers)}`);
      assert.match(answer.grpcMessage, /grpc-encoding/);
    }
  });

  await step("fetch: a corrupt, cut-short or overlong gzip frame is INTERNAL from the gateway", async () => {
    // The gateway's size check inflates it, and refuses what gRPC would not
    // decompress either.
    const gzip = zlib.gzipSync(request);
    for (const [what, payload] of [
      ["not gzip at all", new TextEncoder().encode("not gzip at all")],
      ["cut short", gzip.subarray(0, gzip.length - 3)],
      ["bytes after its end", Buffer.concat([gzip, Buffer.from("x")])],
    ]) {
      const answer = await call(encodeFrame(payload, COMPRESSED), { "grpc-encoding": "gzip" });
      assertGrpcWeb(answer, 13, `gzip frame ${what}`);
      assert.match(answer.grpcMessage, /^the gzip request message does not decompress: /,
        `gzip frame ${what}: grpc-message ${answer.grpcMessage}`);
    }
  });

  await step("fetch: a gzip bomb is RESOURCE_EXHAUSTED, and the gateway answers the next call", async () => {
    // 8 MiB of zeros gzip to about 8 KB, far under the body limit; the
    // backend's gRPC would inflate all of it before its limit applied.
    for (const [encoding, compress] of [["gzip", zlib.gzipSync], ["deflate", zlib.deflateSync]]) {
      const bomb = compress(Buffer.alloc(8 << 20));
      assert.ok(bomb.length < 64 << 10, `the ${encoding} bomb is ${bomb.length} bytes`);
      const started = Date.now();
      const answer = await call(encodeFrame(bomb, COMPRESSED), { "grpc-encoding": encoding });
      assertGrpcWeb(answer, 8, `${encoding} bomb`);
      assert.match(answer.grpcMessage,
        new RegExp(`^the ${encoding} request message, inflated, exceeds the limit of \\d+ bytes$`),
        `${encoding} bomb: grpc-message ${answer.grpcMessage}`);
      console.log(`  ${encoding}: ${bomb.length} bytes refused in ${Date.now() - started} ms: ${answer.grpcMessage}`);
    }
    const next = await call(encodeFrame(zlib.gzipSync(request), COMPRESSED), { "grpc-encoding": "gzip" });
    assertAdmin(next, "the call after the bombs");
  });
});
