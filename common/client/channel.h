#pragma once

// Channels for calls to other services, and their deadlines.
//
//   auto channel = crm::client::CreateServiceChannel(auth_address, flags.client_tls);
//   auto stub = crm::auth::v1::AuthService::NewStub(channel);
//   grpc::ClientContext context;
//   context.set_deadline(crm::client::DeadlineAfter(absl::Seconds(3)));
//
// Every outgoing call sets a deadline: without one a call to a peer that
// hangs holds its caller forever.

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/client/tls_options.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace crm::client {

// Reads and checks the files of enabled `tls`: the SSL settings
// CreateServiceChannel uses. INVALID_ARGUMENT or FAILED_PRECONDITION (naming
// the flag and the path) when the options are inconsistent or a file is
// missing or broken. InitService calls it, so a service with a bad file
// exits at start-up instead of failing its calls later.
absl::StatusOr<grpc::SslCredentialsOptions> LoadClientTls(const ClientTlsOptions& tls);

// A channel to `address` (host:port): TLS when `tls.ca_file` is set (the
// peer's certificate must chain to it and name the host, as a DNS or IP
// subjectAltName), presenting `tls.cert_file`/`key_file` when set (mutual
// TLS); plaintext otherwise. Connects lazily, so the peer need not be up yet.
// If LoadClientTls fails (only when a file vanished since start-up), the error
// is logged and every call on the channel fails: never plaintext instead.
std::shared_ptr<grpc::Channel> CreateServiceChannel(const std::string& address,
                                                    const ClientTlsOptions& tls);
// The same with channel arguments (keepalive pings for long-lived channels, say).
std::shared_ptr<grpc::Channel> CreateServiceChannel(const std::string& address,
                                                    const ClientTlsOptions& tls,
                                                    const grpc::ChannelArguments& args);

// `timeout` from now, as grpc::ClientContext::set_deadline wants it.
std::chrono::system_clock::time_point DeadlineAfter(absl::Duration timeout);

// The deadline of a call made on behalf of the call this thread serves
// (deadline::CallScope, set by RunBlocking): what is left of that call's
// deadline, and at most `cap` from now. Outside any call, `cap` from now.
// So an outgoing call never outlives the incoming one it serves, and a call
// whose client has given up makes no new calls that last.
std::chrono::system_clock::time_point OutgoingDeadline(absl::Duration cap);

}  // namespace crm::client
