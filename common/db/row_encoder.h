#pragma once

// Result rows straight to protobuf wire format: a list page's rows become
// their messages' bytes without records, message objects or serialising
// (on a page of 50 listings that was a third of the service's own work).
//
//   // Once: how the statement's columns map onto the message.
//   const db::RowEncoder encoder(v1::Property::descriptor(),
//                                {{"street", "address.street"}, {"created_at", "create_time"}});
//   // Per result, then per row:
//   absl::StatusOr<db::RowEncoder::Bound> bound = encoder.Bind(rows);
//   bound->AppendMessage(row, &bytes);   // the bytes of one Property
//
// A column goes to the field of its own name, or to the path the renames
// give it ("" for none); a column naming no field is not encoded (a key for
// the page token, say). What each field takes (Bind fails INTERNAL otherwise):
//   - int32, int64, uint32, uint64: an integer column; bool: a boolean;
//     double: a float4 or float8.
//   - string, bytes: a text-like column, as its bytes (the services'
//     databases are UTF8, whose text is valid UTF-8, as proto3 strings must
//     be; the generated serialiser would send invalid bytes as they are too).
//   - enum: the value's name with or without the enum's prefix ("ACTIVE"
//     for PROPERTY_STATUS_ACTIVE of PropertyStatus); an unknown name is left
//     out (0), as the services' record decoders read it.
//   - google.protobuf.Timestamp: int8 microseconds since the epoch
//     (timestamp::MicrosColumn); NULL leaves it unset.
//   - repeated integers: text of comma-separated integers
//     (array_to_string(ids, ',')), written packed.
// Presence as the generated code has it: a scalar without `optional` is left
// out when zero or empty, one with `optional` is written unless NULL. A
// message made of columns (an address, a lead's routing) is written when one
// of its fields is, so a lead never routed has no routing.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/db/pipelined_reader.h"
#include "google/protobuf/descriptor.h"

namespace crm::db {

class RowEncoder {
 public:
  struct Rename {
    std::string column;
    std::string field_path;  // "address.street"
  };

  explicit RowEncoder(const google::protobuf::Descriptor* message,
                      std::vector<Rename> renames = {});

  // One result's columns resolved to fields: for the thread that reads the
  // result, while the result lives.
  class Bound {
   public:
    // Appends row `row`'s message (its fields, no tag or length).
    void AppendMessage(int row, std::string* out) const;

   private:
    friend class RowEncoder;
    enum class Op { kVarint, kBool, kDouble, kString, kEnum, kTimestamp, kPacked, kMessage };
    struct Node {
      int number = 0;
      Op op = Op::kMessage;
      bool presence = false;
      bool null_matters = false;  // NULL and zero differ (presence, a Timestamp)
      bool int32 = false;         // an int32 field (a wider column is cut to 32 bits)
      int column = -1;
      const absl::flat_hash_map<std::string, int>* enum_values = nullptr;
      std::vector<Node> children = {};  // kMessage, in field-number order
    };
    Bound(const Rows& rows, std::shared_ptr<const Node> root)
        : rows_(&rows), root_(std::move(root)) {}
    void Encode(const Node& message, int row, std::string* out, size_t depth) const;
    void EncodeLeaf(const Node& leaf, int row, std::string* out, size_t depth) const;
    std::string& Scratch(size_t depth) const;

    const Rows* rows_;
    std::shared_ptr<const Node> root_;
    // One buffer per nesting depth for messages written inside messages.
    mutable std::vector<std::unique_ptr<std::string>> scratch_;
  };

  const google::protobuf::Descriptor* message() const { return message_; }

  // Any thread. A result of a shape seen before (the same column names and
  // kinds: every result of one statement) reuses that shape's resolution.
  absl::StatusOr<Bound> Bind(const Rows& rows) const;

 private:
  struct Shape {
    std::vector<std::string> names;
    std::vector<Rows::Kind> kinds;
    std::shared_ptr<const Bound::Node> root;
  };
  static constexpr size_t kMaxShapes = 16;

  void IndexEnums(const google::protobuf::Descriptor* message, int depth);
  absl::StatusOr<std::shared_ptr<const Bound::Node>> Resolve(const Rows& rows) const;

  const google::protobuf::Descriptor* message_;
  absl::flat_hash_map<std::string, std::string> renames_;
  absl::Status invalid_;  // a rename naming no field
  // Value numbers by name (with and without the prefix), per enum type;
  // filled by the constructor only, so the nodes may point into it.
  absl::flat_hash_map<const google::protobuf::EnumDescriptor*,
                      absl::flat_hash_map<std::string, int>>
      enums_;
  mutable absl::Mutex mu_;
  mutable std::vector<Shape> shapes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace crm::db
