// What every gateway client test script needs: its environment, a watchdog,
// named steps with clear failure messages, the API's message and service
// types loaded at run time from a FileDescriptorSet (no code generator), raw
// gRPC-web calls over fetch, and signing in through connect-node.
//
// Environment (set by tests/e2e/gateway_clients_test.cc):
//   GATEWAY_URL          http://127.0.0.1:PORT of the gateway under test
//   DESCRIPTOR_SET       protoc --include_imports --descriptor_set_out of protos/
//   ADMIN_EMAIL          the bootstrap admin
//   ADMIN_PASSWORD_FILE  the file holding its password

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createFileRegistry, create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import {
  Base64GroupDecoder,
  FrameReader,
  TRAILER_FLAG,
  base64Encode,
  decodeGrpcMessage,
  encodeFrame,
  parseTrailerBlock,
} from "./frames.js";

export { assert };

export function env(name) {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`environment variable ${name} is not set (the C++ driver sets it)`);
  }
  return value;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Polls `probe` (async, returns a truthy value when done) every `intervalMs`
// until `timeoutMs`; returns its value or throws with `what`.
export async function eventually(what, probe, { timeoutMs = 10000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) {
        return value;
      }
      last = "not yet";
    } catch (e) {
      last = e.message;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms (last: ${last})`);
    }
    await sleep(intervalMs);
  }
}

// Runs a script's body: a watchdog that fails it if it hangs, every step
// logged, the first failure printed with its step and the exit code set.
// Functions registered with onExit run either way, given whether it failed.
const cleanups = [];
export function onExit(fn) {
  cleanups.push(fn);
}

let currentStep = "(start)";
export async function step(description, fn) {
  currentStep = description;
  const start = Date.now();
  console.log(`- ${description}`);
  const result = await fn();
  console.log(`  ok (${Date.now() - start} ms)`);
  return result;
}

export async function main(name, body, { timeoutSeconds = 120 } = {}) {
  const watchdog = setTimeout(() => {
    console.error(`FAIL ${name}: timed out after ${timeoutSeconds} s in step "${currentStep}"`);
    process.exit(1);
  }, timeoutSeconds * 1000);
  watchdog.unref();
  let failed = false;
  try {
    await body();
  } catch (e) {
    failed = true;
    console.error(`FAIL ${name}: step "${currentStep}": ${e && e.stack ? e.stack : e}`);
  }
  for (const fn of cleanups.reverse()) {
    try {
      await fn(failed);
    } catch (e) {
      console.error(`cleanup: ${e && e.message}`);
    }
  }
  clearTimeout(watchdog);
  if (!failed) {
    console.log(`PASS ${name}`);
  }
  // Open sockets (aborted streams, keep-alive agents) must not keep us alive.
  process.exit(failed ? 1 : 0);
}

// ---- the API's types, from the descriptor set ----

let registryCache;
export function registry() {
  if (!registryCache) {
    const bytes = readFileSync(env("DESCRIPTOR_SET"));
    registryCache = createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes));
  }
  return registryCache;
}

export function messageType(typeName) {
  const desc = registry().getMessage(typeName);
  if (!desc) {
    throw new Error(`message ${typeName} not in ${env("DESCRIPTOR_SET")}`);
  }
  return desc;
}

export function serviceType(serviceName) {
  const desc = registry().getService(serviceName);
  if (!desc) {
    throw new Error(`service ${serviceName} not in ${env("DESCRIPTOR_SET")}`);
  }
  return desc;
}

export function encode(typeName, init = {}) {
  const desc = messageType(typeName);
  return toBinary(desc, create(desc, init));
}

export function decode(typeName, bytes) {
  return fromBinary(messageType(typeName), bytes);
}

// The request and response types of "/pkg.Service/Method".
export function methodTypes(path) {
  const [, service, method] = path.split("/");
  const desc = serviceType(service).methods.find((m) => m.name === method);
  if (!desc) {
    throw new Error(`no method ${path}`);
  }
  return { input: desc.input.typeName, output: desc.output.typeName, kind: desc.methodKind };
}

// ---- connect-node's gRPC-web transport over HTTP/1.1 ----

export function connectTransport(baseUrl = env("GATEWAY_URL")) {
  return createGrpcWebTransport({ baseUrl, httpVersion: "1.1" });
}

export function connectClient(serviceName, transport = connectTransport()) {
  return createClient(serviceType(serviceName), transport);
}

export function bearer(token) {
  return { headers: { authorization: `Bearer ${token}` } };
}

export function adminCredentials() {
  return {
    email: env("ADMIN_EMAIL"),
    password: readFileSync(env("ADMIN_PASSWORD_FILE"), "utf8").replace(/\r?\n$/, ""),
  };
}

// AuthService.Login through the gateway: { token, refreshToken, userId, response }.
export async function signIn(email, password, transport = connectTransport()) {
  const auth = connectClient("crm.auth.v1.AuthService", transport);
  const response = await auth.login({ email, password });
  assert.ok(response.accessToken, "Login answered without an access token");
  assert.ok(response.user, "Login answered without the user");
  return {
    token: response.accessToken,
    refreshToken: response.refreshToken,
    userId: response.user.id,
    response,
  };
}

export async function signInAdmin(transport = connectTransport()) {
  const { email, password } = adminCredentials();
  return signIn(email, password, transport);
}

// A new user of `role` ("ROLE_AGENT"...) made by the admin through the
// gateway, with a random password: { id, email, password }.
export async function createUser(adminToken, prefix, role = "ROLE_AGENT") {
  const users = connectClient("crm.auth.v1.UserService");
  const roleEnum = registry().getEnum("crm.auth.v1.Role");
  const roleValue = roleEnum.values.find((v) => v.name === role);
  assert.ok(roleValue, `no role ${role}`);
  const suffix = `${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
  const email = `${prefix}-${suffix}@crm.local`;
  const password = `pw-${suffix}-${Math.random().toString(36).slice(2)}`;
  const response = await users.createUser(
    { user: { name: `${prefix} ${suffix}`, email, role: roleValue.number }, password },
    bearer(adminToken),
  );
  assert.ok(response.user && response.user.id > 0n, "CreateUser answered without the user's id");
  return { id: response.user.id, email, password };
}

// CreateNotification as `token` (the admin), for `recipientId`; the created
// notification.
export async function createNotification(token, recipientId, title) {
  const notifications = connectClient("crm.notifications.v1.NotificationService");
  const response = await notifications.createNotification(
    { recipientId, kind: "system.message", title, message: `${title} (gateway client test)` },
    bearer(token),
  );
  assert.ok(response.notification && response.notification.id > 0n,
    "CreateNotification answered without the notification");
  return response.notification;
}

// ---- raw gRPC-web over fetch ----

export function contentType(text) {
  return text ? "application/grpc-web-text+proto" : "application/grpc-web+proto";
}

// The request body of one message: a frame, base64 in text mode.
export function requestBody(messageBytes, text = false) {
  const frame = encodeFrame(messageBytes);
  return text ? base64Encode(frame) : frame;
}

function headerObject(headers) {
  const out = {};
  for (const [name, value] of headers) {
    out[name.toLowerCase()] = value;
  }
  return out;
}

// Reads a gRPC-web response to its end. { httpStatus, headers, messages
// (payloads of data frames), trailers (from the trailer frame, or from the
// headers when the answer is trailers-only), trailersOnly, grpcStatus,
// grpcMessage }.
export async function readGrpcWebResponse(response, text) {
  const headers = headerObject(response.headers);
  const raw = new Uint8Array(await response.arrayBuffer());
  if (!/^application\/grpc-web/.test(headers["content-type"] ?? "") && raw.length > 0) {
    // Not a gRPC-web body (an error page?): kept as text for the messages.
    return {
      httpStatus: response.status,
      headers,
      messages: [],
      frames: [],
      trailers: headers,
      trailersOnly: false,
      grpcStatus: headers["grpc-status"] === undefined ? undefined : Number(headers["grpc-status"]),
      grpcMessage: decodeGrpcMessage(headers["grpc-message"]),
      bodyText: new TextDecoder().decode(raw.slice(0, 300)),
    };
  }
  let bytes = raw;
  if (text && raw.length > 0) {
    const decoder = new Base64GroupDecoder();
    bytes = decoder.push(new TextDecoder().decode(raw));
    if (decoder.pendingChars() !== 0) {
      throw new Error(`text-mode body length is not a multiple of 4 (${raw.length} chars)`);
    }
  }
  const reader = new FrameReader();
  const frames = reader.push(bytes);
  if (reader.pendingBytes() !== 0) {
    throw new Error(`response body ends inside a frame (${reader.pendingBytes()} bytes left)`);
  }
  const messages = [];
  let trailers = null;
  for (const frame of frames) {
    if (frame.flags & TRAILER_FLAG) {
      if (trailers) {
        throw new Error("two trailer frames");
      }
      trailers = parseTrailerBlock(frame.payload);
    } else {
      if (trailers) {
        throw new Error("a data frame after the trailer frame");
      }
      messages.push(frame.payload);
    }
  }
  const trailersOnly = trailers === null && headers["grpc-status"] !== undefined;
  const effective = trailers ?? (trailersOnly ? headers : {});
  return {
    httpStatus: response.status,
    headers,
    messages,
    frames,
    trailers: effective,
    trailersOnly,
    grpcStatus: effective["grpc-status"] === undefined ? undefined : Number(effective["grpc-status"]),
    grpcMessage: decodeGrpcMessage(effective["grpc-message"]),
  };
}

// POSTs one request message to `path` ("/pkg.Service/Method") and reads the
// whole answer. `message` is an init object of the method's request type or
// already-encoded bytes.
export async function rawCall(path, message = {}, {
  baseUrl = env("GATEWAY_URL"), token, text = false, headers = {}, body,
} = {}) {
  const bytes = message instanceof Uint8Array ? message : encode(methodTypes(path).input, message);
  const response = await fetch(baseUrl + path, {
    method: "POST",
    headers: {
      "content-type": contentType(text),
      accept: contentType(text),
      "x-grpc-web": "1",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body ?? requestBody(bytes, text),
  });
  return readGrpcWebResponse(response, text);
}

// A short description of a raw answer, for assertion messages.
export function describe(answer) {
  return JSON.stringify({
    http: answer.httpStatus,
    contentType: answer.headers["content-type"],
    grpcStatus: answer.grpcStatus,
    grpcMessage: answer.grpcMessage,
    trailersOnly: answer.trailersOnly,
    messages: answer.messages.length,
    ...(answer.bodyText !== undefined ? { body: answer.bodyText } : {}),
  });
}

// Asserts an answer is a well-formed gRPC-web answer: HTTP 200, a gRPC-web
// content type, and a grpc-status.
export function assertGrpcWeb(answer, wantStatus, context) {
  assert.equal(answer.httpStatus, 200, `${context}: HTTP ${answer.httpStatus}, want 200 (${describe(answer)})`);
  assert.match(answer.headers["content-type"] ?? "", /^application\/grpc-web/,
    `${context}: content-type ${answer.headers["content-type"]} (${describe(answer)})`);
  assert.equal(answer.grpcStatus, wantStatus,
    `${context}: grpc-status ${answer.grpcStatus} "${answer.grpcMessage}", want ${wantStatus} (${describe(answer)})`);
}
