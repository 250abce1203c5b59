#include "common/service/row_answers.h"

#include "common/log/log.h"

namespace crm::service {

absl::StatusOr<db::RowEncoder::Bound> BindRows(const db::RowEncoder& encoder,
                                               const db::Rows& rows) {
  absl::StatusOr<db::RowEncoder::Bound> bound = encoder.Bind(rows);
  if (!bound.ok()) {
    log::Error("a statement's rows do not fit its message")
        .Str("message", encoder.message()->full_name())
        .Str("error", bound.status().message());
    return absl::InternalError("the rows read could not be answered");
  }
  return bound;
}

}  // namespace crm::service
