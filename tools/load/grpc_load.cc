#include "tools/load/grpc_load.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <random>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpc/grpc.h"
#include "grpcpp/client_context.h"
#include "grpcpp/completion_queue.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/channel_arguments.h"
#include "grpcpp/support/slice.h"

namespace crm::load {
namespace {

using Clock = std::chrono::steady_clock;

int64_t Nanos(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// What one client thread shares with the others for a run.
struct Shared {
  const GrpcRunOptions* options;
  std::vector<grpc::Slice> slices;  // pre-serialised requests, shared by reference
  std::atomic<uint64_t> seq{0};
  Clock::time_point measure_from;
  Clock::time_point measure_until;
  std::atomic<bool> warned_request{false};
};

// One in-flight call at a time.
struct Slot {
  grpc::GenericStub* stub = nullptr;
  std::optional<grpc::ClientContext> context;
  grpc::ByteBuffer response;
  grpc::Status status;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
  Clock::time_point started;
};

class ClientThread {
 public:
  ClientThread(Shared* shared, std::vector<grpc::GenericStub*> stubs)
      : shared_(shared), rng_(std::random_device{}()) {
    for (grpc::GenericStub* stub : stubs) {
      auto slot = std::make_unique<Slot>();
      slot->stub = stub;
      slots_.push_back(std::move(slot));
    }
  }

  void Run() {
    int in_flight = 0;
    for (auto& slot : slots_) {
      in_flight += Start(*slot) ? 1 : 0;
    }
    while (in_flight > 0) {
      void* tag = nullptr;
      bool ok = false;
      if (!cq_.Next(&tag, &ok)) {
        break;
      }
      const Clock::time_point now = Clock::now();
      Slot& slot = *static_cast<Slot*>(tag);
      if (now >= shared_->measure_from && now < shared_->measure_until) {
        const int64_t latency = Nanos(now - slot.started);
        if (slot.status.ok()) {
          recorder_.Ok(latency);
        } else {
          recorder_.Error(
              absl::StatusCodeToString(static_cast<absl::StatusCode>(slot.status.error_code())),
              latency);
        }
      }
      if (!Start(slot)) {
        --in_flight;
      }
    }
    cq_.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  Recorder TakeRecorder() { return std::move(recorder_); }

 private:
  // Sends the slot's next call; false once the window is over.
  bool Start(Slot& slot) {
    const GrpcRunOptions& options = *shared_->options;
    grpc::ByteBuffer request;
    for (;;) {
      const Clock::time_point now = Clock::now();
      if (now >= shared_->measure_until) {
        return false;
      }
      const RequestSet::Pick pick =
          options.requests->Draw(shared_->seq.fetch_add(1, std::memory_order_relaxed), rng_);
      if (options.requests->preserialised()) {
        request = grpc::ByteBuffer(&shared_->slices[options.requests->Index(pick)], 1);
        break;
      }
      absl::StatusOr<std::string> bytes = options.requests->Serialise(pick);
      if (bytes.ok()) {
        grpc::Slice slice(*bytes);
        request = grpc::ByteBuffer(&slice, 1);
        break;
      }
      // Validated up front, so only a value of {n} can make it fail (say, out
      // of a field's range): counted, and said once.
      if (now >= shared_->measure_from) {
        recorder_.Error("INVALID_REQUEST", 0);
      }
      if (!shared_->warned_request.exchange(true)) {
        fprintf(stderr, "crm-load: a request failed to build (counted as INVALID_REQUEST): %s\n",
                std::string(bytes.status().message()).c_str());
      }
    }
    slot.context.reset();
    slot.context.emplace();
    slot.started = Clock::now();
    slot.context->set_deadline(std::chrono::system_clock::now() +
                               std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                   absl::ToChronoNanoseconds(options.deadline)));
    for (const auto& [key, value] : options.metadata) {
      slot.context->AddMetadata(key, value);
    }
    slot.response.Clear();
    slot.reader = slot.stub->PrepareUnaryCall(&*slot.context, options.method_path, request, &cq_);
    slot.reader->StartCall();
    slot.reader->Finish(&slot.response, &slot.status, &slot);
    return true;
  }

  Shared* const shared_;
  std::mt19937_64 rng_;
  grpc::CompletionQueue cq_;
  std::vector<std::unique_ptr<Slot>> slots_;
  Recorder recorder_;
};

}  // namespace

absl::StatusOr<Metadata> ParseMetadata(const std::vector<std::string>& entries) {
  Metadata metadata;
  for (const std::string& entry : entries) {
    const size_t colon = entry.find(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--metadata='", entry, "': want 'key: value'"));
    }
    std::string key = absl::AsciiStrToLower(absl::StripAsciiWhitespace(entry.substr(0, colon)));
    const std::string value(absl::StripAsciiWhitespace(entry.substr(colon + 1)));
    const bool key_ok =
        !key.empty() && !absl::StartsWith(key, "grpc-") &&
        key.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") == std::string::npos;
    if (!key_ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--metadata key '", key, "' is not a valid header name (a-z 0-9 - _ . only, no grpc-)"));
    }
    if (!absl::EndsWith(key, "-bin")) {
      for (char c : value) {
        if (c < 0x20 || c > 0x7e) {
          return absl::InvalidArgumentError(
              absl::StrCat("--metadata '", key, "': the value must be printable ASCII"));
        }
      }
    }
    metadata.emplace_back(std::move(key), value);
  }
  return metadata;
}

std::vector<std::shared_ptr<grpc::Channel>> MakeChannels(
    const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
    int count) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt(GRPC_ARG_CHANNEL_ID, i);
    args.SetInt("crm.load.channel", i);
    channels.push_back(grpc::CreateCustomChannel(target, credentials, args));
  }
  return channels;
}

absl::Status WaitConnected(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                           const std::string& target, absl::Duration timeout) {
  const auto deadline = absl::ToChronoTime(absl::Now() + timeout);
  for (const auto& channel : channels) {
    if (!channel->WaitForConnected(deadline)) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", target, " within ",
                                                 absl::FormatDuration(timeout),
                                                 " (is it running? TLS flags right?)"));
    }
  }
  return absl::OkStatus();
}

Summary RunGrpc(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                const GrpcRunOptions& options) {
  Shared shared;
  shared.options = &options;
  if (options.requests->preserialised()) {
    for (const std::string& bytes : options.requests->all_bytes()) {
      shared.slices.emplace_back(bytes);
    }
  }
  const int threads = std::max(1, std::min(options.threads, options.concurrency));
  // One stub per channel per thread; slot s runs on thread s % threads and
  // channel s % channels, so calls spread evenly over both.
  std::vector<std::vector<std::unique_ptr<grpc::GenericStub>>> stubs(threads);
  std::vector<std::vector<grpc::GenericStub*>> slot_stubs(threads);
  for (int t = 0; t < threads; ++t) {
    for (const auto& channel : channels) {
      stubs[t].push_back(std::make_unique<grpc::GenericStub>(channel));
    }
  }
  for (int s = 0; s < options.concurrency; ++s) {
    slot_stubs[s % threads].push_back(stubs[s % threads][s % channels.size()].get());
  }
  std::vector<std::unique_ptr<ClientThread>> clients;
  for (int t = 0; t < threads; ++t) {
    clients.push_back(std::make_unique<ClientThread>(&shared, slot_stubs[t]));
  }
  shared.measure_from = Clock::now() + absl::ToChronoNanoseconds(options.warmup);
  shared.measure_until = shared.measure_from + absl::ToChronoNanoseconds(options.duration);
  std::vector<std::thread> running;
  for (auto& client : clients) {
    running.emplace_back([&client] { client->Run(); });
  }
  for (std::thread& t : running) {
    t.join();
  }
  std::vector<Recorder> recorders;
  for (auto& client : clients) {
    recorders.push_back(client->TakeRecorder());
  }
  return Summarise(std::move(recorders), options.duration);
}

}  // namespace crm::load
