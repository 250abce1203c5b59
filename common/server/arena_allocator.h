#pragma once

// A gRPC callback method's request and response on one protobuf arena per
// call, for the methods that answer with many messages (a list page of 50
// leads is ~600 strings and submessages): the arena hands them out of one
// block and frees them at once when gRPC releases the call, where the heap
// would allocate and free each. The first block lives inside the holder, so a
// call that fits costs one allocation in all.
//
//   ArenaMessageAllocator<ListLeadsRequest, ListLeadsResponse, 32 * 1024> list_allocator_;
//   service.SetMessageAllocatorFor_ListLeads(&list_allocator_);
//
// The allocator must outlive the server (as the service does).

#include <google/protobuf/arena.h>
#include <grpcpp/support/message_allocator.h>

#include <cstddef>

namespace crm::server {

template <typename Request, typename Response, size_t kInitialBlockBytes = 8 * 1024>
class ArenaMessageAllocator final : public grpc::MessageAllocator<Request, Response> {
 public:
  grpc::MessageHolder<Request, Response>* AllocateMessages() override { return new Holder(); }

 private:
  class Holder final : public grpc::MessageHolder<Request, Response> {
   public:
    Holder() : arena_(Options(block_)) {
      this->set_request(google::protobuf::Arena::CreateMessage<Request>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Response>(&arena_));
    }
    void Release() override { delete this; }

   private:
    static google::protobuf::ArenaOptions Options(char* block) {
      google::protobuf::ArenaOptions options;
      options.initial_block = block;
      options.initial_block_size = kInitialBlockBytes;
      // A page larger than the first block grows in blocks of this size.
      options.max_block_size = kInitialBlockBytes;
      return options;
    }

    alignas(std::max_align_t) char block_[kInitialBlockBytes];
    google::protobuf::Arena arena_;
  };
};

}  // namespace crm::server
