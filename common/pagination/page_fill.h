#pragma once

// Filling a list response: at most `page_size` rows and at most
// `max_bytes` of them, so a page of large rows (activities with 64 KiB
// details, say) stays far below the 4 MiB message limit of clients and
// proxies. The first row is always taken; a page cut short by bytes has a
// next page token like one cut short by count.
//
//   // rows: up to page_size + 1 from the repository (one more says "more").
//   PageEnd end = AppendPage(rows, page_size, kMaxPageBytes, response->mutable_users(),
//                            [](const UserRecord& r, User* u) { ToProto(r, u); });
//   if (end.more) response->set_next_page_token(codec.EncodeId(fp, rows[end.taken - 1].id));

#include <algorithm>
#include <cstddef>
#include <vector>

#include "google/protobuf/repeated_ptr_field.h"

namespace crm::pagination {

// What a list response may carry in its rows.
inline constexpr size_t kMaxPageBytes = 1 << 20;

struct PageEnd {
  size_t taken = 0;   // rows[0, taken) are in the response
  bool more = false;  // rows remain after them: the page needs a next token
};

// `rows` is a std::vector, const or not: a `convert` taking a Row& may move
// the row's strings into the message rather than copy them.
template <typename Rows, typename Message, typename Convert>
PageEnd AppendPage(Rows&& rows, int page_size, size_t max_bytes,
                   google::protobuf::RepeatedPtrField<Message>* out, Convert convert) {
  PageEnd end;
  size_t bytes = 0;
  const size_t limit = std::min(rows.size(), static_cast<size_t>(page_size));
  while (end.taken < limit) {
    Message* message = out->Add();
    convert(rows[end.taken], message);
    // The element's own size plus its tag and length prefix.
    bytes += message->ByteSizeLong() + 6;
    if (bytes > max_bytes && end.taken > 0) {
      out->RemoveLast();
      break;
    }
    ++end.taken;
  }
  end.more = end.taken < rows.size();
  return end;
}

}  // namespace crm::pagination
