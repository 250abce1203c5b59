#include "tools/load/method.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace crm::load {

absl::StatusOr<const google::protobuf::MethodDescriptor*> FindUnaryMethod(absl::string_view name) {
  absl::string_view path = name;
  absl::ConsumePrefix(&path, "/");
  const size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos || slash == 0 || slash + 1 == path.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--method='", name, "': want package.Service/Method"));
  }
  const std::string service_name(path.substr(0, slash));
  const std::string method_name(path.substr(slash + 1));
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(service_name);
  if (service == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("unknown service '", service_name, "' in --method='", name,
                     "' (crm-load knows crm.{auth,leads,properties,notifications,audit}.v1 and "
                     "grpc.health.v1)"));
  }
  const google::protobuf::MethodDescriptor* method = service->FindMethodByName(method_name);
  if (method == nullptr) {
    std::vector<std::string> methods;
    for (int i = 0; i < service->method_count(); ++i) {
      methods.push_back(service->method(i)->name());
    }
    return absl::NotFoundError(absl::StrCat("unknown method '", method_name, "' of service ",
                                            service_name, " (it has ", absl::StrJoin(methods, ", "),
                                            ")"));
  }
  if (method->client_streaming() || method->server_streaming()) {
    return absl::InvalidArgumentError(
        absl::StrCat("method ", service_name, "/", method_name, " is streaming (",
                     method->client_streaming() ? "client" : "",
                     method->client_streaming() && method->server_streaming() ? " and " : "",
                     method->server_streaming() ? "server" : "",
                     " stream): crm-load only drives unary methods"));
  }
  return method;
}

std::string MethodPath(const google::protobuf::MethodDescriptor& method) {
  return absl::StrCat("/", method.service()->full_name(), "/", method.name());
}

}  // namespace crm::load
