#pragma once

// The sockets crm-gateway-bench opens to the gateway: plain TCP to a numeric
// IPv4 host:port (loopback, in practice), non-blocking, TCP_NODELAY; and one
// whole gRPC-web call on a connection of its own, to check a method answers
// before it is measured.

#include <netinet/in.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tools/gateway_bench/web_response.h"

namespace crm::gateway_bench {

// "127.0.0.1:8080" → its address. INVALID_ARGUMENT unless IPv4 digits and a port.
absl::StatusOr<sockaddr_in> ParseAddress(absl::string_view host_port);

// A non-blocking TCP socket with TCP_NODELAY, connecting to `address`:
// connect() has returned 0 or EINPROGRESS (wait for writability, then
// ConnectError()). UNAVAILABLE with errno's text otherwise.
absl::StatusOr<int> StartConnect(const sockaddr_in& address);

// After writability: 0 when the connection is up, else the errno it failed with.
int ConnectError(int fd);

// Sends all of `bytes` on a non-blocking socket, waiting (poll) when its
// buffer is full, up to `timeout`.
absl::Status SendAll(int fd, absl::string_view bytes, absl::Duration timeout);

// Raises this process's soft limit of open files to at least `needed` (up
// to the hard limit); FAILED_PRECONDITION when the hard limit is lower.
absl::Status RaiseOpenFileLimit(int needed);

// One call: connects, sends `request` (EncodeWebRequest), reads until the
// response's kEnd or `timeout`, closes. Every event of the response, in order.
absl::StatusOr<std::vector<WebEvent>> CallOnce(const sockaddr_in& address,
                                               absl::string_view request, absl::Duration timeout);

}  // namespace crm::gateway_bench
