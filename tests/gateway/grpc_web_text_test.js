// gRPC-web TEXT mode (application/grpc-web-text, base64 bodies) against the
// gateway. The grpc-web npm runtime is the only client that speaks it, but it
// needs the browser's XMLHttpRequest, which Node does not have: the runtime
// runs in text mode inside Chromium (browser_test.js); here the same
// exchanges are made with fetch and checked byte by byte, as PROTOCOL-WEB.md
// describes them: the request is the base64 of the framed message, the
// response a sequence of base64 chunks (each frame may be encoded on its own,
// with padding) holding the data frames and then the trailer frame (0x80).

import {
  Base64GroupDecoder,
  FrameReader,
  TRAILER_FLAG,
  parseTrailerBlock,
} from "./lib/frames.js";
import {
  adminCredentials,
  assert,
  assertGrpcWeb,
  decode,
  describe,
  encode,
  env,
  main,
  rawCall,
  requestBody,
  step,
} from "./lib/common.js";

await main("gRPC-web text mode", async () => {
  const gateway = env("GATEWAY_URL");

  if (typeof globalThis.XMLHttpRequest === "undefined") {
    console.log("note: no XMLHttpRequest in Node " + process.version +
      ": the grpc-web runtime's text mode runs in browser_test.js; raw checks here");
  }

  const session = await step("Login in text mode: one data frame, then trailers with grpc-status 0", async () => {
    const answer = await rawCall("/crm.auth.v1.AuthService/Login", adminCredentials(), { text: true });
    assertGrpcWeb(answer, 0, "Login (text)");
    assert.match(answer.headers["content-type"], /^application\/grpc-web-text/,
      `a text request answered with ${answer.headers["content-type"]}`);
    assert.equal(answer.trailersOnly, false, `Login answered trailers-only: ${describe(answer)}`);
    assert.equal(answer.messages.length, 1, describe(answer));
    assert.equal(answer.frames[answer.frames.length - 1].flags, TRAILER_FLAG,
      "the last frame is not the trailer frame");
    const login = decode("crm.auth.v1.LoginResponse", answer.messages[0]);
    assert.ok(login.accessToken, "no access token");
    return login;
  });

  await step("GetUser in text mode with the bearer token", async () => {
    const answer = await rawCall("/crm.auth.v1.UserService/GetUser", { id: 0n },
      { text: true, token: session.accessToken });
    assertGrpcWeb(answer, 0, "GetUser (text)");
    assert.equal(answer.messages.length, 1, describe(answer));
    const user = decode("crm.auth.v1.GetUserResponse", answer.messages[0]).user;
    assert.equal(user.id, session.user.id);
  });

  await step("an error in text mode: GetUser without a token is UNAUTHENTICATED", async () => {
    const answer = await rawCall("/crm.auth.v1.UserService/GetUser", { id: 0n }, { text: true });
    assertGrpcWeb(answer, 16, "GetUser without a token (text)");
    assert.equal(answer.messages.length, 0);
  });

  await step("a request of several padded base64 chunks decodes as their concatenation", async () => {
    // The frame's header and its payload encoded separately, each padded.
    const message = encode("crm.auth.v1.GetUserRequest", { id: session.user.id });
    const frame = new Uint8Array(requestBody(message, false));
    const chunked = btoa(String.fromCharCode(...frame.slice(0, 5))) +
      btoa(String.fromCharCode(...frame.slice(5)));
    assert.match(chunked, /=.+/, "the test body should have padding inside");
    const answer = await rawCall("/crm.auth.v1.UserService/GetUser", message,
      { text: true, token: session.accessToken, body: chunked });
    assertGrpcWeb(answer, 0, "GetUser with a chunked text body");
  });

  await step("a text body whose length is not a multiple of 4 is HTTP 400", async () => {
    const body = requestBody(encode("crm.auth.v1.GetUserRequest", { id: 0n }), true).slice(0, -1);
    assert.notEqual(body.length % 4, 0);
    const response = await fetch(`${gateway}/crm.auth.v1.UserService/GetUser`, {
      method: "POST",
      headers: {
        "content-type": "application/grpc-web-text",
        accept: "application/grpc-web-text",
        "x-grpc-web": "1",
        authorization: `Bearer ${session.accessToken}`,
      },
      body,
    });
    const text = await response.text();
    assert.equal(response.status, 400,
      `HTTP ${response.status} ${response.headers.get("content-type")} grpc-status ` +
      `${response.headers.get("grpc-status")}: ${text.slice(0, 200)}`);
  });

  await step("WatchNotifications in text mode streams keep-alives, then ends with its deadline in the trailers", async () => {
    // The backend sends a keep-alive after each quiet second
    // (--watch_heartbeat_seconds=1); a 5 s grpc-timeout ends the stream with
    // DEADLINE_EXCEEDED after some.
    const started = Date.now();
    const response = await fetch(`${gateway}/crm.notifications.v1.NotificationService/WatchNotifications`, {
      method: "POST",
      headers: {
        "content-type": "application/grpc-web-text",
        accept: "application/grpc-web-text",
        "x-grpc-web": "1",
        "grpc-timeout": "5S",
        authorization: `Bearer ${session.accessToken}`,
      },
      body: requestBody(encode("crm.notifications.v1.WatchNotificationsRequest", { afterId: 0n }), true),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("grpc-status"), null,
      "the stream answered trailers-only: " + response.headers.get("grpc-message"));
    const base64 = new Base64GroupDecoder();
    const frames = new FrameReader();
    const utf8 = new TextDecoder();
    const messages = [];
    let firstMessageAt;
    let trailers;
    for await (const chunk of response.body) {
      for (const frame of frames.push(base64.push(utf8.decode(chunk, { stream: true })))) {
        if (frame.flags & TRAILER_FLAG) {
          trailers = parseTrailerBlock(frame.payload);
        } else {
          assert.equal(trailers, undefined, "a data frame after the trailer frame");
          firstMessageAt ??= Date.now() - started;
          messages.push(decode("crm.notifications.v1.WatchNotificationsResponse", frame.payload));
        }
      }
    }
    assert.equal(base64.pendingChars(), 0, "the body ends inside a base64 group");
    assert.equal(frames.pendingBytes(), 0, "the body ends inside a frame");
    // The admin may also get a notification the service made from the
    // activity feed meanwhile (the other scripts' doings): fine, not counted.
    const keepAlives = messages.filter((m) => m.heartbeatTime && !m.notification).length;
    const others = messages.filter((m) => m.notification).map((m) => m.notification.kind);
    assert.ok(keepAlives >= 1, `no keep-alive before the deadline (other messages: ${JSON.stringify(others)})`);
    // Streamed as they came, not buffered until the end.
    assert.ok(firstMessageAt < 4000, `the first keep-alive arrived only after ${firstMessageAt} ms`);
    assert.ok(Date.now() - started >= 4500, "the stream ended before its deadline");
    assert.ok(trailers, "no trailer frame");
    assert.equal(trailers["grpc-status"], "4",
      `trailers ${JSON.stringify(trailers)}, want grpc-status 4 (DEADLINE_EXCEEDED)`);
    console.log(`  ${keepAlives} keep-alives, first message after ${firstMessageAt} ms` +
      (others.length ? `; also notifications ${JSON.stringify(others)}` : ""));
  });
});
