#pragma once

// Runs a long-lived loop on one of the threads gRPC runs callback-API work
// on, instead of a thread of its own.
//
// Why: gRPC 1.51 (Debian 12's) has no callback queue of its own on Linux. It
// drains an ordinary completion queue with at least two "nexting" threads
// that take turns in epoll_wait, and each event wakes the polling thread,
// which first wakes another to poll in its place: two context switches per
// event where one would do, paid twice per call (the request, then the answer
// finished from another thread). A nexting thread that runs a loop of ours is
// out of those turns, so with the usual two the one left polls alone and
// hands nothing over. The pipelined reader runs there (docs/decisions.md, 109).
//
// What the loop must not do: wait for anything gRPC's callback threads do
// (another call's callback, a reactor's OnDone). Only one thread is lent per
// process, so at least one is left for gRPC: a second loan, while the first
// is out, gets a thread of its own.
//
//   std::function<void()> join = LendCallbackThread([&] { Run(); });
//   ...            // tell Run() to return
//   join();        // waits for it

#include <functional>

namespace crm::server {

// Runs `loop` on a callback thread (or, when one is lent already, on a new
// thread) and returns a function that waits until `loop` has returned; call
// it exactly once, from another thread, after telling the loop to return.
// The loan holds its own reference to gRPC's callback threads, so servers and
// channels may come and go around it.
std::function<void()> LendCallbackThread(std::function<void()> loop);

}  // namespace crm::server
