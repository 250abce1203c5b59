// A browser that closes its connection cancels the backend call. Observed
// through the notifications service's per-user cap on live streams
// (--max_watch_streams_per_user=2 in the driver): with two streams open a
// third is refused; once the first two sockets are destroyed, two new
// streams must be admitted within a few seconds, which only happens if the
// gateway cancelled the backend calls of the closed ones.
//
// Raw HTTP/1.1 (node:http, one socket per stream) so the test owns each socket.
//
// Environment beyond lib/common.js's:
//   MAX_WATCH_STREAMS_PER_USER  the notifications service's cap (default 2)

import http from "node:http";
import { FrameReader, TRAILER_FLAG, parseTrailerBlock } from "./lib/frames.js";
import {
  assert,
  createUser,
  encode,
  env,
  main,
  onExit,
  requestBody,
  signIn,
  signInAdmin,
  sleep,
  step,
} from "./lib/common.js";

const CAP = Number(process.env.MAX_WATCH_STREAMS_PER_USER || 2);
const open = new Set();
onExit(() => {
  for (const stream of open) {
    stream.close();
  }
});

// Opens WatchNotifications on its own socket. `state` resolves with
// { open: true } at the first message (the backend sends a keep-alive each
// second), or { open: false, status, message } when the answer ends first.
function watch(token, label) {
  const url = new URL(env("GATEWAY_URL"));
  const body = requestBody(encode("crm.notifications.v1.WatchNotificationsRequest", { afterId: 0n }));
  let settle;
  const state = new Promise((resolve) => { settle = resolve; });
  const request = http.request({
    host: url.hostname,
    port: url.port,
    method: "POST",
    path: "/crm.notifications.v1.NotificationService/WatchNotifications",
    agent: false,
    headers: {
      "content-type": "application/grpc-web+proto",
      accept: "application/grpc-web+proto",
      "x-grpc-web": "1",
      "x-request-id": `gateway-disconnect-${label}`,
      authorization: `Bearer ${token}`,
      "content-length": body.length,
    },
  });
  const stream = {
    label,
    state,
    close() {
      request.destroy();
      open.delete(stream);
    },
  };
  open.add(stream);
  request.on("error", (e) => settle({ open: false, status: "socket", message: e.message }));
  request.on("response", (response) => {
    if (response.statusCode !== 200) {
      settle({ open: false, status: `HTTP ${response.statusCode}`, message: "" });
    }
    if (response.headers["grpc-status"] !== undefined) {  // trailers-only
      settle({
        open: false,
        status: Number(response.headers["grpc-status"]),
        message: response.headers["grpc-message"] ?? "",
      });
    }
    const frames = new FrameReader();
    response.on("data", (chunk) => {
      for (const frame of frames.push(new Uint8Array(chunk))) {
        if (frame.flags & TRAILER_FLAG) {
          const trailers = parseTrailerBlock(frame.payload);
          settle({ open: false, status: Number(trailers["grpc-status"]), message: trailers["grpc-message"] ?? "" });
        } else {
          settle({ open: true });
        }
      }
    });
    response.on("end", () => settle({ open: false, status: "end of body", message: "" }));
    response.on("error", () => {});
  });
  request.end(body);
  return stream;
}

async function stateWithin(stream, ms) {
  return Promise.race([
    stream.state,
    sleep(ms).then(() => ({ open: false, status: "no answer", message: `nothing within ${ms} ms` })),
  ]);
}

await main("client disconnect cancels the backend call", async () => {
  const admin = await step("sign in as the admin", () => signInAdmin());
  const user = await step("a fresh agent (the cap is per user)", () => createUser(admin.token, "disconnect"));
  const agent = await step("sign in as the agent", () => signIn(user.email, user.password));

  const first = await step(`open ${CAP} streams: both live`, async () => {
    const streams = [];
    for (let i = 0; i < CAP; ++i) {
      streams.push(watch(agent.token, `first-${i}`));
    }
    for (const s of streams) {
      const state = await stateWithin(s, 10000);
      assert.ok(state.open, `stream ${s.label} not live: ${JSON.stringify(state)}`);
    }
    return streams;
  });

  await step("a third stream is refused with RESOURCE_EXHAUSTED (the cap holds)", async () => {
    const third = watch(agent.token, "third");
    const state = await stateWithin(third, 10000);
    third.close();
    assert.deepEqual({ open: state.open, status: state.status }, { open: false, status: 8 },
      `the third stream: ${JSON.stringify(state)} (is notifications started with ` +
      `--max_watch_streams_per_user=${CAP}?)`);
  });

  await step("destroy the first streams' sockets", async () => {
    for (const s of first) {
      s.close();
    }
  });

  await step(`${CAP} new streams are admitted within 10 s (the old backend calls were cancelled)`, async () => {
    const deadline = Date.now() + 10000;
    let attempt = 0;
    let last;
    for (;;) {
      ++attempt;
      const streams = [];
      for (let i = 0; i < CAP; ++i) {
        streams.push(watch(agent.token, `again-${attempt}-${i}`));
      }
      const states = await Promise.all(streams.map((s) => stateWithin(s, 5000)));
      if (states.every((s) => s.open)) {
        console.log(`  admitted on attempt ${attempt}`);
        streams.forEach((s) => s.close());
        return;
      }
      last = states;
      streams.forEach((s) => s.close());
      if (Date.now() >= deadline) {
        assert.fail(`still refused after ${attempt} attempts: ${JSON.stringify(last)}: the gateway ` +
          "kept the backend calls of closed connections open");
      }
      await sleep(250);
    }
  });
});
