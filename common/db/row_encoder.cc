#include "common/db/row_encoder.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/timestamp/timestamp.h"
#include "common/wire/proto_wire.h"

namespace crm::db {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// PostgreSQL's binary integers and floats are big-endian.
uint64_t BigEndian(absl::string_view bytes) {
  uint64_t v = 0;
  for (unsigned char byte : bytes) {
    v = (v << 8) | byte;
  }
  return v;
}

int64_t Integer(absl::string_view bytes) {
  const uint64_t v = BigEndian(bytes);
  switch (bytes.size()) {
    case 2:
      return static_cast<int16_t>(v);
    case 4:
      return static_cast<int32_t>(v);
    default:
      return static_cast<int64_t>(v);
  }
}

double Float(absl::string_view bytes) {
  const uint64_t v = BigEndian(bytes);
  if (bytes.size() == 4) {
    float f = 0;
    const auto bits = static_cast<uint32_t>(v);
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }
  double d = 0;
  std::memcpy(&d, &v, sizeof d);
  return d;
}

// "PropertyStatus" -> "PROPERTY_STATUS_", the prefix the style guide gives
// an enum's values.
std::string EnumPrefix(absl::string_view name) {
  std::string prefix;
  for (size_t i = 0; i < name.size(); ++i) {
    if (i > 0 && absl::ascii_isupper(name[i])) {
      prefix.push_back('_');
    }
    prefix.push_back(absl::ascii_toupper(name[i]));
  }
  prefix.push_back('_');
  return prefix;
}

bool IsTimestamp(const FieldDescriptor* field) {
  return field->type() == FieldDescriptor::TYPE_MESSAGE &&
         field->message_type()->full_name() == "google.protobuf.Timestamp";
}

bool IsInteger(const FieldDescriptor* field) {
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      return true;
    default:
      return false;
  }
}

}  // namespace

RowEncoder::RowEncoder(const Descriptor* message, std::vector<Rename> renames) : message_(message) {
  for (Rename& r : renames) {
    const Descriptor* at = message_;
    for (absl::string_view part : absl::StrSplit(r.field_path, '.', absl::SkipEmpty())) {
      const FieldDescriptor* field =
          at == nullptr ? nullptr : at->FindFieldByName(std::string(part));
      if (field == nullptr) {
        invalid_ = absl::InternalError(absl::StrCat(
            "column ", r.column, ": ", message_->full_name(), " has no field ", r.field_path));
        break;
      }
      at = field->message_type();
    }
    renames_.emplace(std::move(r.column), std::move(r.field_path));
  }
  IndexEnums(message_, 0);
}

void RowEncoder::IndexEnums(const Descriptor* message, int depth) {
  if (depth > 8) {
    return;  // a recursive message type: deeper levels come from no column
  }
  for (int i = 0; i < message->field_count(); ++i) {
    const FieldDescriptor* field = message->field(i);
    if (const google::protobuf::EnumDescriptor* e = field->enum_type();
        e != nullptr && !enums_.contains(e)) {
      auto& values = enums_[e];
      const std::string prefix = EnumPrefix(e->name());
      for (int v = 0; v < e->value_count(); ++v) {
        const std::string& name = e->value(v)->name();
        values.emplace(name, e->value(v)->number());
        if (absl::StartsWith(name, prefix)) {
          values.emplace(name.substr(prefix.size()), e->value(v)->number());
        }
      }
    }
    if (field->message_type() != nullptr && !IsTimestamp(field)) {
      IndexEnums(field->message_type(), depth + 1);
    }
  }
}

absl::StatusOr<RowEncoder::Bound> RowEncoder::Bind(const Rows& rows) const {
  if (!invalid_.ok()) {
    return invalid_;
  }
  auto matches = [&rows](const Shape& shape) {
    if (shape.names.size() != static_cast<size_t>(rows.columns())) {
      return false;
    }
    for (int c = 0; c < rows.columns(); ++c) {
      if (shape.names[c] != rows.ColumnName(c) || shape.kinds[c] != rows.ColumnKind(c)) {
        return false;
      }
    }
    return true;
  };
  {
    absl::MutexLock lock(&mu_);
    for (const Shape& shape : shapes_) {
      if (matches(shape)) {
        return Bound(rows, shape.root);
      }
    }
  }
  absl::StatusOr<std::shared_ptr<const Bound::Node>> root = Resolve(rows);
  if (!root.ok()) {
    return root.status();
  }
  Shape shape;
  shape.root = *root;
  for (int c = 0; c < rows.columns(); ++c) {
    shape.names.emplace_back(rows.ColumnName(c));
    shape.kinds.push_back(rows.ColumnKind(c));
  }
  absl::MutexLock lock(&mu_);
  if (shapes_.size() < kMaxShapes) {
    shapes_.push_back(std::move(shape));
  }
  return Bound(rows, *std::move(root));
}

absl::StatusOr<std::shared_ptr<const RowEncoder::Bound::Node>> RowEncoder::Resolve(
    const Rows& rows) const {
  Bound::Node root;
  for (int column = 0; column < rows.columns(); ++column) {
    const std::string name(rows.ColumnName(column));
    auto renamed = renames_.find(name);
    const std::string& path = renamed == renames_.end() ? name : renamed->second;
    if (path.empty()) {
      continue;
    }
    // Walks (and builds) the path's messages down to its field.
    Bound::Node* at = &root;
    const Descriptor* type = message_;
    const FieldDescriptor* field = nullptr;
    const std::vector<std::string> parts = absl::StrSplit(path, '.');
    for (size_t i = 0; i < parts.size(); ++i) {
      field = type == nullptr ? nullptr : type->FindFieldByName(parts[i]);
      if (field == nullptr) {
        break;
      }
      if (i + 1 < parts.size()) {
        auto child =
            std::find_if(at->children.begin(), at->children.end(),
                         [&](const Bound::Node& n) { return n.number == field->number(); });
        if (child == at->children.end()) {
          at->children.push_back({.number = field->number(), .op = Bound::Op::kMessage});
          child = at->children.end() - 1;
        }
        at = &*child;
        type = field->message_type();
      }
    }
    if (field == nullptr) {
      continue;  // not a field: a key the caller reads itself
    }
    Bound::Node leaf{.number = field->number(),
                     .presence = field->has_presence(),
                     .null_matters = field->has_presence() || IsTimestamp(field),
                     .int32 = field->cpp_type() == FieldDescriptor::CPPTYPE_INT32,
                     .column = column};
    const Rows::Kind kind = rows.ColumnKind(column);
    bool fits = false;
    if (field->is_repeated()) {
      leaf.op = Bound::Op::kPacked;
      fits = IsInteger(field) && kind == Rows::Kind::kText;
    } else if (IsTimestamp(field)) {
      leaf.op = Bound::Op::kTimestamp;
      fits = kind == Rows::Kind::kInt;
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
      leaf.op = Bound::Op::kEnum;
      leaf.enum_values = &enums_.at(field->enum_type());
      fits = kind == Rows::Kind::kText;
    } else if (IsInteger(field)) {
      leaf.op = Bound::Op::kVarint;
      fits = kind == Rows::Kind::kInt;
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_BOOL) {
      leaf.op = Bound::Op::kBool;
      fits = kind == Rows::Kind::kBool;
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
      leaf.op = Bound::Op::kDouble;
      fits = kind == Rows::Kind::kFloat;
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      leaf.op = Bound::Op::kString;
      fits = kind == Rows::Kind::kText;
    }
    if (!fits) {
      return absl::InternalError(absl::StrCat("column ", name, " does not fit field ",
                                              field->full_name(), " (", field->type_name(), ")"));
    }
    at->children.push_back(std::move(leaf));
  }
  // Field-number order, as protobuf writes a message.
  auto sort = [](auto& self, Bound::Node& node) -> void {
    std::sort(node.children.begin(), node.children.end(),
              [](const Bound::Node& a, const Bound::Node& b) { return a.number < b.number; });
    for (Bound::Node& child : node.children) {
      self(self, child);
    }
  };
  sort(sort, root);
  return std::make_shared<const Bound::Node>(std::move(root));
}

std::string& RowEncoder::Bound::Scratch(size_t depth) const {
  while (scratch_.size() <= depth) {
    scratch_.push_back(std::make_unique<std::string>());
  }
  std::string& s = *scratch_[depth];
  s.clear();
  return s;
}

void RowEncoder::Bound::AppendMessage(int row, std::string* out) const {
  Encode(*root_, row, out, 0);
}

void RowEncoder::Bound::Encode(const Node& message, int row, std::string* out, size_t depth) const {
  for (const Node& child : message.children) {
    if (child.op == Op::kMessage) {
      std::string& inner = Scratch(depth);
      Encode(child, row, &inner, depth + 1);
      if (!inner.empty()) {
        wire::AppendLengthDelimited(child.number, inner, out);
      }
    } else if (!child.null_matters || !rows_->IsNull(row, child.column)) {
      // A NULL reads as no bytes, which a field without presence leaves out
      // like a zero: only the others ask libpq.
      EncodeLeaf(child, row, out, depth);
    }
  }
}

void RowEncoder::Bound::EncodeLeaf(const Node& leaf, int row, std::string* out,
                                   size_t depth) const {
  const absl::string_view bytes = rows_->Get(row, leaf.column);
  switch (leaf.op) {
    case Op::kVarint: {
      int64_t v = Integer(bytes);
      if (leaf.int32) {
        v = static_cast<int32_t>(v);
      }
      if (v != 0 || leaf.presence) {
        wire::AppendVarintField(leaf.number, v, out);
      }
      return;
    }
    case Op::kBool: {
      const bool v = !bytes.empty() && bytes[0] != 0;
      if (v || leaf.presence) {
        wire::AppendVarintField(leaf.number, v ? 1 : 0, out);
      }
      return;
    }
    case Op::kDouble: {
      const double v = Float(bytes);
      uint64_t bits = 0;
      std::memcpy(&bits, &v, sizeof bits);
      if (bits != 0 || leaf.presence) {
        wire::AppendDoubleField(leaf.number, v, out);
      }
      return;
    }
    case Op::kString:
      if (!bytes.empty() || leaf.presence) {
        wire::AppendLengthDelimited(leaf.number, bytes, out);
      }
      return;
    case Op::kEnum: {
      auto it = leaf.enum_values->find(bytes);
      const int v = it == leaf.enum_values->end() ? 0 : it->second;
      if (v != 0 || leaf.presence) {
        wire::AppendVarintField(leaf.number, v, out);
      }
      return;
    }
    case Op::kTimestamp: {
      const timestamp::SecondsNanos t = timestamp::SplitMicros(Integer(bytes));
      std::string& inner = Scratch(depth);
      if (t.seconds != 0) {
        wire::AppendVarintField(1, t.seconds, &inner);
      }
      if (t.nanos != 0) {
        wire::AppendVarintField(2, t.nanos, &inner);
      }
      wire::AppendLengthDelimited(leaf.number, inner, out);
      return;
    }
    case Op::kPacked: {
      std::string& inner = Scratch(depth);
      for (absl::string_view part : absl::StrSplit(bytes, ',', absl::SkipEmpty())) {
        int64_t v = 0;
        if (absl::SimpleAtoi(part, &v)) {
          wire::AppendVarint(static_cast<uint64_t>(leaf.int32 ? static_cast<int32_t>(v) : v),
                             &inner);
        }
      }
      if (!inner.empty()) {
        wire::AppendLengthDelimited(leaf.number, inner, out);
      }
      return;
    }
    case Op::kMessage:
      return;  // handled by Encode
  }
}

}  // namespace crm::db
