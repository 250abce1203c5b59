#pragma once

// The answers of raw read methods (GetLead, ListProperties...) written from
// the pipelined reader's rows by a db::RowEncoder, the same for every
// service: a Get's one row as its response's message field, a List's page
// of rows and its next token. A statement whose columns do not fit the
// message is logged and answered INTERNAL without the detail.
//
//   reader->Read("leads_get", {id}, [=](absl::StatusOr<db::Rows> rows) {
//     finish(service::AnswerRow(std::move(rows), LeadRowEncoder(),
//                               v1::GetLeadResponse::kLeadFieldNumber,
//                               [&](const db::RowFields& f) { return MaySee(caller, f); },
//                               NotFound(), response));
//   });

#include <grpcpp/support/byte_buffer.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/db/pipelined_reader.h"
#include "common/db/row_encoder.h"
#include "common/db/row_fields.h"
#include "common/pagination/keyset_page.h"
#include "common/server/raw_message.h"
#include "common/wire/proto_wire.h"

namespace crm::service {

// `encoder` resolved for `rows`; a mismatch is logged, INTERNAL.
absl::StatusOr<db::RowEncoder::Bound> BindRows(const db::RowEncoder& encoder, const db::Rows& rows);

// A Get: `not_found` when no row came or `may_see(fields of the row)` says
// no; otherwise the row as the response's message field `field`.
template <typename MaySee>
absl::Status AnswerRow(absl::StatusOr<db::Rows> rows, const db::RowEncoder& encoder, int field,
                       MaySee may_see, const absl::Status& not_found, grpc::ByteBuffer* response) {
  if (!rows.ok()) {
    return rows.status();
  }
  if (rows->size() == 0 || !may_see(db::RowFields(*rows, 0))) {
    return not_found;
  }
  absl::StatusOr<db::RowEncoder::Bound> bound = BindRows(encoder, *rows);
  if (!bound.ok()) {
    return bound.status();
  }
  std::string message;
  bound->AppendMessage(0, &message);
  std::string bytes;
  wire::AppendLengthDelimited(field, message, &bytes);
  server::SetResponseBytes(std::move(bytes), response);
  return absl::OkStatus();
}

// A List page: the rows as the repeated message field `rows_field` within
// `page`'s size and byte limits, then the next page token as `token_field`
// when rows remain (`key_of(fields of a row)`: its keyset key).
template <typename KeyOf>
absl::Status AnswerPage(absl::StatusOr<db::Rows> rows, const db::RowEncoder& encoder,
                        const pagination::KeysetPage& page, int rows_field, int token_field,
                        KeyOf key_of, grpc::ByteBuffer* response) {
  if (!rows.ok()) {
    return rows.status();
  }
  absl::StatusOr<db::RowEncoder::Bound> bound = BindRows(encoder, *rows);
  if (!bound.ok()) {
    return bound.status();
  }
  std::string bytes;
  page.FinishWire(
      static_cast<size_t>(rows->size()), rows_field, token_field, &bytes,
      [&](size_t i, std::string* out) { bound->AppendMessage(static_cast<int>(i), out); },
      [&](size_t i) { return key_of(db::RowFields(*rows, static_cast<int>(i))); });
  server::SetResponseBytes(std::move(bytes), response);
  return absl::OkStatus();
}

}  // namespace crm::service
