#include "services/notifications/notification_service.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/fields/text_checks.h"
#include "common/pagination/keyset_page.h"
#include "common/service/run_authenticated.h"
#include "common/status/grpc_status.h"
#include "common/timestamp/timestamp.h"
#include "services/notifications/notification_proto.h"
#include "services/notifications/watch_notifications_reactor.h"

namespace crm::notifications {
namespace {

using auth::Caller;
using auth::Role;

constexpr size_t kMaxMessageBytes = 4 * kMaxMessageCharacters;  // UTF-8: ≤4 bytes each
constexpr int kMaxIds = 1000;

// "lead.assigned", "system.message": dotted lower_snake parts.
absl::Status CheckKind(const std::string& kind, absl::string_view field, bool required) {
  if (kind.empty()) {
    return required ? fields::Required(field) : absl::OkStatus();
  }
  if (kind.size() > kMaxKindCharacters) {
    return fields::TooLong(field, kMaxKindCharacters, "characters");
  }
  bool part_start = true;
  for (const char c : kind) {
    const bool ok =
        part_start ? absl::ascii_islower(c)
                   : (absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_' || c == '.');
    if (!ok) {
      return InvalidArgumentError(field,
                                  "must be dotted lower_snake_case words, e.g. \"system.message\"");
    }
    part_start = c == '.';
  }
  if (part_start) {
    return InvalidArgumentError(field, "must not end with a dot");
  }
  return absl::OkStatus();
}

absl::Status CheckMessage(const std::string& message) {
  if (absl::Status s = fields::CheckText(message, "message", kMaxMessageBytes); !s.ok()) {
    return s;
  }
  if (fields::Utf8Length(message).value_or(0) > kMaxMessageCharacters) {
    return fields::TooLong("message", kMaxMessageCharacters, "characters");
  }
  return absl::OkStatus();
}

}  // namespace

grpc::ServerUnaryReactor* NotificationServiceImpl::ListNotifications(
    grpc::CallbackServerContext* context, const v1::ListNotificationsRequest* request,
    v1::ListNotificationsResponse* response) {
  return service::RunAuthenticated(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller) { return DoList(caller, *request, response); });
}

absl::Status NotificationServiceImpl::DoList(const Caller& caller,
                                             const v1::ListNotificationsRequest& request,
                                             v1::ListNotificationsResponse* response) {
  if (absl::Status s = auth::RequireRole(caller, {Role::kAdmin, Role::kAgent, Role::kClient});
      !s.ok()) {
    return s;
  }
  if (request.recipient_id() < 0) {
    return InvalidArgumentError("recipient_id", "must be a user id, or 0 for the caller");
  }
  const int64_t recipient = request.recipient_id() == 0 ? caller.user_id : request.recipient_id();
  if (recipient != caller.user_id && !caller.Is(Role::kAdmin)) {
    return absl::PermissionDeniedError("only an admin may list another user's notifications");
  }
  absl::StatusOr<pagination::KeysetPage> page = pagination::KeysetPage::Begin(
      *deps_.page_tokens, absl::StrCat("notifications|", recipient, "|", request.unread_only()),
      request.page_size(), request.page_token());
  if (!page.ok()) {
    return page.status();
  }
  absl::StatusOr<std::vector<NotificationRecord>> rows = deps_.notifications->List(
      recipient, request.unread_only(), page->after().value_or(0), page->fetch_limit());
  if (!rows.ok()) {
    return rows.status();
  }
  absl::StatusOr<int64_t> unread = deps_.notifications->UnreadCount(recipient);
  if (!unread.ok()) {
    return unread.status();
  }
  response->set_next_page_token(page->Finish(
      *rows, response->mutable_notifications(),
      [](const NotificationRecord& row, v1::Notification* out) { ToProto(row, out); },
      [](const NotificationRecord& row) { return row.id; }));
  response->set_unread_count(*unread);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* NotificationServiceImpl::MarkNotificationsRead(
    grpc::CallbackServerContext* context, const v1::MarkNotificationsReadRequest* request,
    v1::MarkNotificationsReadResponse* response) {
  return service::RunAuthenticated(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller) { return DoMarkRead(caller, *request, response); });
}

absl::Status NotificationServiceImpl::DoMarkRead(const Caller& caller,
                                                 const v1::MarkNotificationsReadRequest& request,
                                                 v1::MarkNotificationsReadResponse* response) {
  if (absl::Status s = auth::RequireRole(caller, {Role::kAdmin, Role::kAgent, Role::kClient});
      !s.ok()) {
    return s;
  }
  if (absl::Status s = fields::CheckRequestId(request.request_id(), "request_id"); !s.ok()) {
    return s;
  }
  const bool by_ids = request.ids_size() > 0;
  if (by_ids == request.has_up_to_time()) {
    return InvalidArgumentError("ids", "set exactly one of ids and up_to_time");
  }
  absl::StatusOr<NotificationRepository::Marked> marked;
  if (by_ids) {
    if (request.ids_size() > kMaxIds) {
      return InvalidArgumentError("ids", absl::StrCat("at most ", kMaxIds, " ids per call"));
    }
    std::vector<int64_t> ids;
    ids.reserve(request.ids_size());
    for (int i = 0; i < request.ids_size(); ++i) {
      if (request.ids(i) <= 0) {
        return InvalidArgumentError(absl::StrCat("ids[", i, "]"), "must be a notification id");
      }
      ids.push_back(request.ids(i));
    }
    marked = deps_.notifications->MarkRead(caller.user_id, ids, request.request_id());
  } else {
    absl::StatusOr<absl::Time> up_to = timestamp::FromProto(request.up_to_time(), "up_to_time");
    if (!up_to.ok()) {
      return up_to.status();
    }
    marked = deps_.notifications->MarkReadUpTo(caller.user_id, *up_to, request.request_id());
  }
  if (!marked.ok()) {
    return marked.status();
  }
  response->set_marked_count(marked->marked);
  response->set_unread_count(marked->unread);
  return absl::OkStatus();
}

grpc::ServerWriteReactor<v1::WatchNotificationsResponse>*
NotificationServiceImpl::WatchNotifications(grpc::CallbackServerContext* context,
                                            const v1::WatchNotificationsRequest* request) {
  return new WatchNotificationsReactor(context, *request, deps_);
}

grpc::ServerUnaryReactor* NotificationServiceImpl::CreateNotification(
    grpc::CallbackServerContext* context, const v1::CreateNotificationRequest* request,
    v1::CreateNotificationResponse* response) {
  return service::RunAuthenticated(
      context, *deps_.executor, *deps_.authenticator,
      [=, this](const Caller& caller) { return DoCreate(caller, *request, response); });
}

absl::Status NotificationServiceImpl::DoCreate(const Caller& caller,
                                               const v1::CreateNotificationRequest& request,
                                               v1::CreateNotificationResponse* response) {
  if (absl::Status s = auth::RequireRole(caller, {Role::kAdmin, Role::kService}); !s.ok()) {
    return s;
  }
  if (request.recipient_id() <= 0) {
    return request.recipient_id() == 0 ? fields::Required("recipient_id")
                                       : InvalidArgumentError("recipient_id", "must be a user id");
  }
  const std::string title(absl::StripAsciiWhitespace(request.title()));
  if (absl::Status s = fields::FirstError(
          {CheckKind(request.kind(), "kind", true),
           fields::CheckLine(request.title(), "title", true, kMaxTitleCharacters),
           CheckMessage(request.message()), CheckKind(request.entity_type(), "entity_type", false),
           fields::CheckRequestId(request.request_id(), "request_id")});
      !s.ok()) {
    return s;
  }
  if (request.entity_id() < 0 || (request.entity_type().empty() && request.entity_id() != 0)) {
    return InvalidArgumentError("entity_id", "must be 0 without an entity_type, else an id");
  }
  absl::StatusOr<users::DirectoryUser> recipient = deps_.directory->Get(request.recipient_id());
  if (absl::IsNotFound(recipient.status())) {
    return InvalidArgumentError("recipient_id", "no such user");
  }
  if (!recipient.ok()) {
    return recipient.status();
  }
  if (!recipient->active) {
    return InvalidArgumentError("recipient_id", "the user is deactivated");
  }
  absl::StatusOr<NotificationRecord> created =
      deps_.notifications->Create({.recipient_id = request.recipient_id(),
                                   .kind = request.kind(),
                                   .title = title,
                                   .message = request.message(),
                                   .entity_type = request.entity_type(),
                                   .entity_id = request.entity_id(),
                                   .source_event_id = ""},
                                  caller.user_id, request.request_id());
  if (!created.ok()) {
    return created.status();
  }
  ToProto(*created, response->mutable_notification());
  return absl::OkStatus();
}

}  // namespace crm::notifications
