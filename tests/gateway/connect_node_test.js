// connect-node's gRPC-web transport over HTTP/1.1 against the gateway: sign
// in, an authenticated unary call, the errors a client must see as gRPC
// codes, and a server stream that delivers a notification created while it
// is open.

import { Code, ConnectError } from "@connectrpc/connect";
import {
  adminCredentials,
  assert,
  bearer,
  connectClient,
  connectTransport,
  createNotification,
  main,
  signInAdmin,
  step,
} from "./lib/common.js";

async function expectCode(want, call, what) {
  try {
    await call();
  } catch (e) {
    const error = ConnectError.from(e);
    assert.equal(error.code, want,
      `${what}: got ${Code[error.code]} (${error.code}) "${error.rawMessage}", want ${Code[want]} (${want})`);
    return error;
  }
  assert.fail(`${what}: succeeded, want ${Code[want]}`);
}

await main("connect-node gRPC-web (HTTP/1.1)", async () => {
  const transport = connectTransport();
  const auth = connectClient("crm.auth.v1.AuthService", transport);
  const users = connectClient("crm.auth.v1.UserService", transport);
  const notifications = connectClient("crm.notifications.v1.NotificationService", transport);

  const admin = await step("Login as the admin returns an access token", async () => {
    const session = await signInAdmin(transport);
    assert.equal(session.response.tokenType, "Bearer");
    assert.equal(session.token.split(".").length, 3, "the access token is not a compact JWS");
    assert.equal(session.response.user.email, adminCredentials().email);
    return session;
  });

  await step("UserService/GetUser (id 0: the caller) with the token", async () => {
    const response = await users.getUser({ id: 0n }, bearer(admin.token));
    assert.equal(response.user.id, admin.userId);
    assert.equal(response.user.email, adminCredentials().email);
  });

  await step("UserService/ListUsers with the token lists the admin", async () => {
    const response = await users.listUsers({ pageSize: 50 }, bearer(admin.token));
    assert.ok(response.users.some((u) => u.id === admin.userId),
      `admin ${admin.userId} not among ${response.users.map((u) => u.id).join(",")}`);
  });

  await step("a wrong password is UNAUTHENTICATED", async () => {
    await expectCode(Code.Unauthenticated,
      () => auth.login({ email: adminCredentials().email, password: "not-the-password-1" }),
      "Login with a wrong password");
  });

  await step("GetUser without a token is UNAUTHENTICATED", async () => {
    await expectCode(Code.Unauthenticated, () => users.getUser({ id: 0n }), "GetUser without a token");
  });

  await step("GetUser with a forged token is UNAUTHENTICATED", async () => {
    await expectCode(Code.Unauthenticated,
      () => users.getUser({ id: 0n }, bearer("forged.token.value")), "GetUser with a forged token");
  });

  await step("WatchNotifications delivers a notification created while it is open", async () => {
    const abort = new AbortController();
    const title = `connect-node ${process.pid} ${Date.now()}`;
    let live;
    const isLive = new Promise((resolve) => { live = resolve; });
    const received = [];
    let streamEnd = "still open";
    // The stream, read in the background: it resolves with the matching
    // notification, or rejects when the stream ends first.
    const watching = (async () => {
      try {
        const stream = notifications.watchNotifications({ afterId: 0n }, {
          ...bearer(admin.token),
          signal: abort.signal,
          onHeader: () => live("headers"),
        });
        for await (const message of stream) {
          live("first message");
          if (message.notification) {
            received.push(message.notification);
            if (message.notification.title === title) {
              return message.notification;
            }
          }
        }
        streamEnd = "ended with OK";
      } catch (e) {
        const error = ConnectError.from(e);
        streamEnd = `ended with ${Code[error.code]}: ${error.rawMessage}`;
      }
      throw new Error(`the stream ${streamEnd} before the notification arrived ` +
        `(received: ${JSON.stringify(received.map((n) => n.title))})`);
    })();
    // Live (headers or a first keep-alive) before the notification is made:
    // after_id 0 only streams what is created after registration.
    const how = await Promise.race([
      isLive,
      watching.then(() => "ended"),
      new Promise((_, reject) => setTimeout(() => reject(new Error("the stream did not go live in 20 s")), 20000)),
    ]);
    console.log(`  stream live (${how})`);
    const created = await createNotification(admin.token, admin.userId, title);
    const timeout = new Promise((_, reject) => setTimeout(
      () => reject(new Error(`notification ${created.id} not received in 15 s (stream ${streamEnd})`)), 15000));
    const got = await Promise.race([watching, timeout]);
    assert.equal(got.id, created.id);
    assert.equal(got.recipientId, admin.userId);
    assert.equal(got.kind, "system.message");
    abort.abort();
  });
});
