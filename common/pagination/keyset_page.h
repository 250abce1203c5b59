#pragma once

// The whole keyset-paging routine of a List method keyed by one int64 (an id
// or a seq), so each service writes only its query:
//
//   ASSIGN_OR_RETURN(KeysetPage page, KeysetPage::Begin(codec, fingerprint,
//                                                       request.page_size(),
//                                                       request.page_token()));
//   rows = repository.List(filter, page.after(), page.fetch_limit());   // one row more than the
//   page response->set_next_page_token(page.Finish(rows, response->mutable_leads(), ToProto,
//                                             [](const Row& r) { return r.id; }));
//
// Begin validates page_size (NormalizePageSize) and the token (bound to the
// query's fingerprint, so a token cannot be replayed against other filters);
// Finish fills the response within the page size and kMaxPageBytes and
// returns the next token, empty on the last page.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/pagination/page_fill.h"
#include "common/pagination/page_token.h"
#include "common/wire/proto_wire.h"

namespace crm::pagination {

class KeysetPage {
 public:
  static absl::StatusOr<KeysetPage> Begin(const PageTokenCodec& codec, std::string fingerprint,
                                          int32_t page_size, const std::string& page_token) {
    return BeginKeys(codec, std::move(fingerprint), page_size, page_token, 1);
  }

  // A page ordered by `key_count` integer columns (say created time in
  // microseconds, then id, for ties): after_keys() holds them, and Finish's
  // key_of returns them as a std::vector<int64_t>.
  static absl::StatusOr<KeysetPage> BeginKeys(const PageTokenCodec& codec, std::string fingerprint,
                                              int32_t page_size, const std::string& page_token,
                                              size_t key_count) {
    absl::StatusOr<int> size = NormalizePageSize(page_size);
    if (!size.ok()) {
      return size.status();
    }
    absl::StatusOr<std::optional<std::vector<int64_t>>> after =
        codec.DecodeInts(page_token, fingerprint, key_count);
    if (!after.ok()) {
      return after.status();
    }
    return KeysetPage(codec, std::move(fingerprint), *size, *std::move(after));
  }

  // The key of the previous page's last row; none on the first page.
  std::optional<int64_t> after() const {
    return after_.has_value() ? std::optional<int64_t>(after_->front()) : std::nullopt;
  }
  const std::optional<std::vector<int64_t>>& after_keys() const { return after_; }
  int page_size() const { return page_size_; }
  // How many rows to read: one more than the page says whether more remain.
  int fetch_limit() const { return page_size_ + 1; }

  // Appends rows[0..] to `out` as `convert(row, message)` does, and returns
  // the token of the next page ("" when none). `rows` may be consumed (see
  // AppendPage); `key_of` reads the key after `convert`, so the key must not
  // be what it moves.
  template <typename Rows, typename Message, typename Convert, typename KeyOf>
  std::string Finish(Rows&& rows, google::protobuf::RepeatedPtrField<Message>* out, Convert convert,
                     KeyOf key_of) const {
    const PageEnd end = AppendPage(rows, page_size_, kMaxPageBytes, out, convert);
    if (!end.more) {
      return "";
    }
    return codec_->EncodeInts(fingerprint_, Keys(key_of(rows[end.taken - 1])));
  }

  // Finish for a response written in wire format (db::RowEncoder): appends
  // to `out` rows [0, row_count) as the repeated message field `rows_field`,
  // `append_row(i, std::string*)` writing row i's message bytes, within the
  // page size and kMaxPageBytes, then the next token as the string field
  // `token_field` when rows remain; `key_of(i)` is row i's key.
  template <typename AppendRow, typename KeyOf>
  void FinishWire(size_t row_count, int rows_field, int token_field, std::string* out,
                  AppendRow append_row, KeyOf key_of) const {
    const size_t limit = std::min(row_count, static_cast<size_t>(page_size_));
    const size_t start = out->size();
    std::string row;
    size_t taken = 0;
    while (taken < limit) {
      row.clear();
      append_row(taken, &row);
      // The row with its tag and length prefix.
      if (out->size() - start + row.size() + 6 > kMaxPageBytes && taken > 0) {
        break;
      }
      wire::AppendLengthDelimited(rows_field, row, out);
      ++taken;
    }
    if (taken < row_count) {
      wire::AppendLengthDelimited(token_field,
                                  codec_->EncodeInts(fingerprint_, Keys(key_of(taken - 1))), out);
    }
  }

 private:
  static std::vector<int64_t> Keys(int64_t key) { return {key}; }
  static std::vector<int64_t> Keys(std::vector<int64_t> keys) { return keys; }

  KeysetPage(const PageTokenCodec& codec, std::string fingerprint, int page_size,
             std::optional<std::vector<int64_t>> after)
      : codec_(&codec),
        fingerprint_(std::move(fingerprint)),
        page_size_(page_size),
        after_(std::move(after)) {}

  const PageTokenCodec* codec_;
  std::string fingerprint_;
  int page_size_;
  std::optional<std::vector<int64_t>> after_;
};

}  // namespace crm::pagination
