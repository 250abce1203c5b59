// The gRPC-web wire format (grpc/grpc doc/PROTOCOL-WEB.md) as a client sees
// it: length-prefixed frames, the trailer frame (flag 0x80) and the text
// mode's base64, where each frame may be encoded on its own, with padding.
// Plain ES module without imports: Node and the browser page both load it.
//
//   const body = encodeFrame(toBinary(LoginRequestSchema, request));
//   const reader = new FrameReader();
//   for (const frame of reader.push(chunk)) { ... frame.flags, frame.payload ... }

export const TRAILER_FLAG = 0x80;

// One frame: flags, the payload's length (4 bytes, big-endian), the payload.
export function encodeFrame(payload, flags = 0) {
  const frame = new Uint8Array(5 + payload.length);
  frame[0] = flags;
  new DataView(frame.buffer).setUint32(1, payload.length, false);
  frame.set(payload, 5);
  return frame;
}

// Splits a byte stream into frames as its chunks arrive.
export class FrameReader {
  constructor() {
    this.buffer = new Uint8Array(0);
  }

  // The frames completed by `chunk` (a Uint8Array).
  push(chunk) {
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer, 0);
    joined.set(chunk, this.buffer.length);
    const frames = [];
    let offset = 0;
    while (joined.length - offset >= 5) {
      const length = new DataView(joined.buffer, joined.byteOffset + offset + 1, 4).getUint32(0, false);
      if (joined.length - offset - 5 < length) {
        break;
      }
      frames.push({
        flags: joined[offset],
        payload: joined.slice(offset + 5, offset + 5 + length),
      });
      offset += 5 + length;
    }
    this.buffer = joined.slice(offset);
    return frames;
  }

  // Bytes of a frame not yet complete (non-zero at the end of a body: truncated).
  pendingBytes() {
    return this.buffer.length;
  }
}

// All frames of a whole body; throws on a truncated one.
export function parseFrames(bytes) {
  const reader = new FrameReader();
  const frames = reader.push(bytes);
  if (reader.pendingBytes() !== 0) {
    throw new Error(`body ends inside a frame (${reader.pendingBytes()} bytes left over)`);
  }
  return frames;
}

// The trailer frame's payload ("name: value\r\n" lines) as an object with
// lower-cased names.
export function parseTrailerBlock(payload) {
  const trailers = {};
  const text = new TextDecoder().decode(payload);
  for (const line of text.split("\r\n")) {
    if (line === "") {
      continue;
    }
    const colon = line.indexOf(":");
    if (colon < 0) {
      throw new Error(`trailer line without a colon: ${JSON.stringify(line)}`);
    }
    trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return trailers;
}

export function base64Encode(bytes) {
  let binary = "";
  for (const b of bytes) {
    binary += String.fromCharCode(b);
  }
  return btoa(binary);
}

// Text-mode response bodies: base64 decoded in groups of four characters, so
// a body made of several padded chunks ("AAAA==" + "BBBB") decodes as the
// concatenation of its chunks, as PROTOCOL-WEB.md allows.
export class Base64GroupDecoder {
  constructor() {
    this.pending = "";
  }

  // The bytes of every complete four-character group so far.
  push(text) {
    const all = this.pending + text.replace(/\s+/g, "");
    const whole = all.length - (all.length % 4);
    this.pending = all.slice(whole);
    const out = [];
    for (let i = 0; i < whole; i += 4) {
      const group = all.slice(i, i + 4);
      let binary;
      try {
        binary = atob(group);
      } catch (e) {
        throw new Error(`not base64: group ${JSON.stringify(group)} at offset ${i}`);
      }
      for (let j = 0; j < binary.length; ++j) {
        out.push(binary.charCodeAt(j));
      }
    }
    return new Uint8Array(out);
  }

  pendingChars() {
    return this.pending.length;
  }
}

// grpc-message is percent-encoded (PROTOCOL-HTTP2.md).
export function decodeGrpcMessage(value) {
  if (value === undefined || value === null) {
    return "";
  }
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
