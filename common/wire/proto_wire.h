#pragma once

// Protocol Buffers' wire format, written by hand for the few hot paths that
// encode a response straight from database rows (db::RowEncoder, a list
// page's envelope) instead of building messages to serialise: a tag, a
// varint, a length-delimited field. The encoding is the one
// https://protobuf.dev/programming-guides/encoding/ specifies;
// proto_wire_test.cc checks it against protobuf's own writer.

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace crm::wire {

enum class WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

inline void AppendVarint(uint64_t value, std::string* out) {
  char buffer[10];
  size_t n = 0;
  while (value >= 0x80) {
    buffer[n++] = static_cast<char>(value | 0x80);
    value >>= 7;
  }
  buffer[n++] = static_cast<char>(value);
  out->append(buffer, n);
}

inline size_t VarintSize(uint64_t value) {
  size_t n = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++n;
  }
  return n;
}

inline void AppendTag(int field, WireType type, std::string* out) {
  AppendVarint((static_cast<uint64_t>(field) << 3) | static_cast<uint32_t>(type), out);
}

// An int32, int64, uint32, uint64, enum or bool field (negative int32s and
// enums take ten bytes, sign-extended, as protobuf writes them).
inline void AppendVarintField(int field, int64_t value, std::string* out) {
  AppendTag(field, WireType::kVarint, out);
  AppendVarint(static_cast<uint64_t>(value), out);
}

inline void AppendDoubleField(int field, double value, std::string* out) {
  AppendTag(field, WireType::kFixed64, out);
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  char little[8];
  for (char& byte : little) {
    byte = static_cast<char>(bits & 0xff);
    bits >>= 8;
  }
  out->append(little, sizeof little);
}

// A string, bytes or message field (`bytes` being the message's encoding).
inline void AppendLengthDelimited(int field, absl::string_view bytes, std::string* out) {
  AppendTag(field, WireType::kLengthDelimited, out);
  AppendVarint(bytes.size(), out);
  out->append(bytes.data(), bytes.size());
}

}  // namespace crm::wire
