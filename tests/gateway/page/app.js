// The browser side of browser_test.js: calls through the gateway from a real
// page, with the browser's own fetch (gRPC-web binary, frames built here) and
// with the grpc-web npm runtime in TEXT mode (XMLHttpRequest), both with
// hand-built method descriptors over @bufbuild/protobuf's types from the
// descriptor set the page server hands out. The test drives window.crm
// through page.evaluate and reads the DOM. Ids cross to Node as strings.

import { create, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { GrpcWebClientBase, MethodDescriptor, MethodType } from "grpc-web";
import {
  FrameReader,
  TRAILER_FLAG,
  decodeGrpcMessage,
  encodeFrame,
  parseTrailerBlock,
} from "/lib/frames.js";

const descriptorBytes = new Uint8Array(await (await fetch("/descriptors.binpb")).arrayBuffer());
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorBytes));

function method(path) {
  const [, serviceName, methodName] = path.split("/");
  const service = registry.getService(serviceName);
  const desc = service && service.methods.find((m) => m.name === methodName);
  if (!desc) {
    throw new Error(`no method ${path} in the descriptor set`);
  }
  return desc;
}

// Protobuf-ES messages hold bigint ids; JSON for Node with them as strings.
function plain(message) {
  return JSON.parse(JSON.stringify(message, (_, v) => (typeof v === "bigint" ? v.toString() : v)));
}

function setText(id, text) {
  document.getElementById(id).textContent = text;
}

function addItem(listId, text) {
  const li = document.createElement("li");
  li.textContent = text;
  document.getElementById(listId).append(li);
}

// ---- fetch, gRPC-web binary ----

async function fetchCall(gateway, path, init, token, signal) {
  const desc = method(path);
  const body = encodeFrame(toBinary(desc.input, create(desc.input, init)));
  const headers = {
    "content-type": "application/grpc-web+proto",
    accept: "application/grpc-web+proto",
    "x-grpc-web": "1",
    "x-user-agent": "crm-gateway-browser-test",
  };
  if (token) {
    headers.authorization = `Bearer ${token}`;
  }
  return fetch(gateway + path, {
    method: "POST",
    mode: "cors",
    credentials: "include",
    headers,
    body,
    signal,
  });
}

// One unary call: { grpcStatus, grpcMessage, message }.
async function fetchUnary(gateway, path, init, token) {
  const response = await fetchCall(gateway, path, init, token);
  if (response.status !== 200) {
    return { httpStatus: response.status };
  }
  const frames = new FrameReader().push(new Uint8Array(await response.arrayBuffer()));
  let message;
  let trailers = {};
  for (const frame of frames) {
    if (frame.flags & TRAILER_FLAG) {
      trailers = parseTrailerBlock(frame.payload);
    } else {
      message = fromBinary(method(path).output, frame.payload);
    }
  }
  // Trailers-only: the status is in the (exposed) headers.
  const status = trailers["grpc-status"] ?? response.headers.get("grpc-status");
  const text = trailers["grpc-message"] ?? response.headers.get("grpc-message");
  return {
    httpStatus: 200,
    grpcStatus: status === null || status === undefined ? null : Number(status),
    grpcMessage: decodeGrpcMessage(text),
    message: message ? plain(message) : null,
  };
}

const streams = [];

// WatchNotifications over fetch, its body read as a ReadableStream. States in
// #fetch-state: "live" once headers came, "ended <status> <message>" at the end.
async function watchWithFetch(gateway, token) {
  const abort = new AbortController();
  streams.push(() => abort.abort());
  setText("fetch-state", "opening");
  try {
    const response = await fetchCall(gateway,
      "/crm.notifications.v1.NotificationService/WatchNotifications", { afterId: 0n }, token, abort.signal);
    if (response.headers.get("grpc-status") !== null) {
      setText("fetch-state", `ended ${response.headers.get("grpc-status")} ${response.headers.get("grpc-message")}`);
      return;
    }
    setText("fetch-state", "live");
    const reader = response.body.getReader();
    const frames = new FrameReader();
    const output = method("/crm.notifications.v1.NotificationService/WatchNotifications").output;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        setText("fetch-state", "ended without trailers");
        return;
      }
      for (const frame of frames.push(value)) {
        if (frame.flags & TRAILER_FLAG) {
          const trailers = parseTrailerBlock(frame.payload);
          setText("fetch-state", `ended ${trailers["grpc-status"]} ${decodeGrpcMessage(trailers["grpc-message"])}`);
          return;
        }
        const message = fromBinary(output, frame.payload);
        if (message.notification) {
          addItem("fetch-notifications", message.notification.title);
        }
      }
    }
  } catch (e) {
    setText("fetch-state", abort.signal.aborted ? "closed" : `failed ${e.name}: ${e.message}`);
  }
}

// ---- the grpc-web runtime, text mode ----

function descriptor(path, kind) {
  const desc = method(path);
  return new MethodDescriptor(
    path,
    kind,
    Object,  // request and response "classes": unused by the runtime
    Object,
    (request) => toBinary(desc.input, request),
    (bytes) => fromBinary(desc.output, bytes),
  );
}

function grpcWebClient() {
  return new GrpcWebClientBase({ format: "text", withCredentials: true });
}

function metadata(token) {
  return token ? { authorization: `Bearer ${token}` } : {};
}

// One unary call through the runtime: { code, message, response }.
function grpcWebUnary(gateway, path, init, token) {
  const desc = method(path);
  return new Promise((resolve) => {
    grpcWebClient().rpcCall(gateway + path, create(desc.input, init), metadata(token),
      descriptor(path, MethodType.UNARY), (err, response) => {
        if (err) {
          resolve({ code: err.code, message: err.message, response: null });
        } else {
          resolve({ code: 0, message: "", response: plain(response) });
        }
      });
  });
}

// WatchNotifications through the runtime, in #grpcweb-state and
// #grpcweb-notifications: "live" at the response headers or the first message.
function watchWithGrpcWeb(gateway, token) {
  const path = "/crm.notifications.v1.NotificationService/WatchNotifications";
  const desc = method(path);
  setText("grpcweb-state", "opening");
  const stream = grpcWebClient().serverStreaming(gateway + path, create(desc.input, { afterId: 0n }),
    metadata(token), descriptor(path, MethodType.SERVER_STREAMING));
  let ended = false;
  streams.push(() => {
    ended = true;
    stream.cancel();
  });
  stream.on("metadata", () => {
    if (!ended) {
      setText("grpcweb-state", "live");
    }
  });
  stream.on("data", (message) => {
    if (!ended) {
      setText("grpcweb-state", "live");
    }
    if (message.notification) {
      addItem("grpcweb-notifications", message.notification.title);
    }
  });
  stream.on("error", (err) => {
    ended = true;
    setText("grpcweb-state", `ended ${err.code} ${err.message}`);
  });
  stream.on("end", () => {
    if (!ended) {
      ended = true;
      setText("grpcweb-state", "ended");
    }
  });
}

function stopStreams() {
  while (streams.length > 0) {
    streams.pop()();
  }
}

// A sign-in from a page the gateway does not trust: the browser must refuse
// to hand the answer over (fetch rejects).
async function fetchFromThisOrigin(gateway, email, password) {
  try {
    const answer = await fetchUnary(gateway, "/crm.auth.v1.AuthService/Login", { email, password });
    return { rejected: false, answer };
  } catch (e) {
    return { rejected: true, name: e.name, message: e.message };
  }
}

window.crm = {
  fetchUnary,
  grpcWebUnary,
  watchWithFetch: (gateway, token) => { watchWithFetch(gateway, token); },
  watchWithGrpcWeb,
  stopStreams,
  fetchFromThisOrigin,
};
setText("ready", "ready");
