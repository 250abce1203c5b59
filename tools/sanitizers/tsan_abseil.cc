// Makes Debian's Abseil synchronization visible to ThreadSanitizer.
//
// Debian builds libabsl_synchronization without -fsanitize=thread, so the
// annotations a TSan-built Abseil carries in mutex.cc are compiled out: TSan
// sees no happens-before edge from absl::Mutex, CondVar, Notification or
// BlockingCounter, and reports every access they guard as a race. This file,
// linked into each TSan test binary only, defines those out-of-line entry
// points in the executable; the dynamic linker then binds every call to them
// here (also the library's own calls, which go through its PLT), and each
// wrapper calls the real one (dlsym RTLD_NEXT) and tells TSan what it
// synchronizes:
//   - a lock acquires, an unlock releases, on the mutex's address;
//   - Await and CondVar::Wait release before blocking and acquire after;
//   - Notify releases on the notification's flag, which the inline
//     HasBeenNotified() loads with acquire in instrumented code, and the waits
//     acquire on it; BlockingCounter likewise;
//   - inside the real call TSan's access tracking is off: the only
//     instrumented code that runs there is a waiter's Condition, which Abseil
//     evaluates on whichever thread is locking or unlocking, while the mutex
//     is logically held but before the wrapper's acquire or after its
//     release.
// Only happens-before is modelled (no lock-order checking for absl::Mutex;
// reader locks order readers too) and conditions go unchecked, so this can
// hide a race, never invent one.

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

extern "C" void __tsan_ignore_thread_begin();
extern "C" void __tsan_ignore_thread_end();

namespace {

#define CRM_TSAN_STR2(x) #x
#define CRM_TSAN_STR(x) CRM_TSAN_STR2(x)

// The real definition in libabsl_synchronization, by its Itanium-mangled name
// without the "_ZN[K]4absl<inline namespace>" prefix. Aborts if it is missing:
// another Abseil version must fail loudly, not run unannotated.
template <typename Fn>
Fn Real(bool is_const, const char* suffix) {
  std::string name = is_const ? "_ZNK4absl" : "_ZN4absl";
#if ABSL_OPTION_USE_INLINE_NAMESPACE
  const std::string ns = CRM_TSAN_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  name += std::to_string(ns.size()) + ns;
#endif
  name += suffix;
  void* fn = dlsym(RTLD_NEXT, name.c_str());
  if (fn == nullptr) {
    std::fprintf(stderr, "tsan_abseil: %s not found in Abseil\n", name.c_str());
    std::abort();
  }
  return reinterpret_cast<Fn>(fn);
}

// Calls the real function with TSan's access tracking off (see above).
template <typename Fn>
class Untracked {
 public:
  explicit Untracked(Fn fn) : fn_(fn) {}
  template <typename... Args>
  auto operator()(Args... args) const {
    struct Ignore {
      Ignore() { __tsan_ignore_thread_begin(); }
      ~Ignore() { __tsan_ignore_thread_end(); }
    } ignore;
    return fn_(args...);
  }

 private:
  Fn fn_;
};

#define CRM_REAL(type, is_const, suffix)                               \
  static const Untracked<type> real(Real<type>((is_const), (suffix))); \
  (void)0

// Notification keeps its flag right after its mutex (notification.h).
static_assert(sizeof(absl::Notification) == 2 * sizeof(absl::Mutex));
void* FlagOf(const absl::Notification* n) {
  return const_cast<char*>(reinterpret_cast<const char*>(n) + sizeof(absl::Mutex));
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

Mutex::~Mutex() {
  CRM_REAL(void (*)(Mutex*), false, "5MutexD1Ev");
  __tsan_mutex_destroy(this, 0);  // a later mutex at this address starts clean
  real(this);
}

void Mutex::Lock() {
  CRM_REAL(void (*)(Mutex*), false, "5Mutex4LockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderLock() {
  CRM_REAL(void (*)(Mutex*), false, "5Mutex10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

bool Mutex::TryLock() {
  CRM_REAL(bool (*)(Mutex*), false, "5Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  CRM_REAL(bool (*)(Mutex*), false, "5Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::Unlock() {
  CRM_REAL(void (*)(Mutex*), false, "5Mutex6UnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  CRM_REAL(void (*)(Mutex*), false, "5Mutex12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::LockWhen(const Condition& cond) {
  CRM_REAL(void (*)(Mutex*, const Condition&), false, "5Mutex8LockWhenERKNS0_9ConditionE");
  real(this, cond);
  __tsan_acquire(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  CRM_REAL(void (*)(Mutex*, const Condition&), false, "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  real(this, cond);
  __tsan_acquire(this);
}

// The timed forms hold the lock on return whatever they answer.
bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  CRM_REAL(bool (*)(Mutex*, const Condition&, Duration), false,
           "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const bool met = real(this, cond, timeout);
  __tsan_acquire(this);
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  CRM_REAL(bool (*)(Mutex*, const Condition&, Time), false,
           "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const bool met = real(this, cond, deadline);
  __tsan_acquire(this);
  return met;
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, Duration timeout) {
  CRM_REAL(bool (*)(Mutex*, const Condition&, Duration), false,
           "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const bool met = real(this, cond, timeout);
  __tsan_acquire(this);
  return met;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, Time deadline) {
  CRM_REAL(bool (*)(Mutex*, const Condition&, Time), false,
           "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const bool met = real(this, cond, deadline);
  __tsan_acquire(this);
  return met;
}

void Mutex::Await(const Condition& cond) {
  CRM_REAL(void (*)(Mutex*, const Condition&), false, "5Mutex5AwaitERKNS0_9ConditionE");
  __tsan_release(this);
  real(this, cond);
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  CRM_REAL(bool (*)(Mutex*, const Condition&, Duration), false,
           "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  __tsan_release(this);
  const bool met = real(this, cond, timeout);
  __tsan_acquire(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  CRM_REAL(bool (*)(Mutex*, const Condition&, Time), false,
           "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  __tsan_release(this);
  const bool met = real(this, cond, deadline);
  __tsan_acquire(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  CRM_REAL(void (*)(CondVar*, Mutex*), false, "7CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  CRM_REAL(bool (*)(CondVar*, Mutex*, Duration), false,
           "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, timeout);
  __tsan_acquire(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  CRM_REAL(bool (*)(CondVar*, Mutex*, Time), false,
           "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, deadline);
  __tsan_acquire(mu);
  return timed_out;
}

void Notification::Notify() {
  CRM_REAL(void (*)(Notification*), false, "12Notification6NotifyEv");
  __tsan_release(FlagOf(this));
  real(this);
}

void Notification::WaitForNotification() const {
  CRM_REAL(void (*)(const Notification*), true, "12Notification19WaitForNotificationEv");
  real(this);
  __tsan_acquire(FlagOf(this));
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  CRM_REAL(bool (*)(const Notification*, Duration), true,
           "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool notified = real(this, timeout);
  if (notified) __tsan_acquire(FlagOf(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  CRM_REAL(bool (*)(const Notification*, Time), true,
           "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  const bool notified = real(this, deadline);
  if (notified) __tsan_acquire(FlagOf(this));
  return notified;
}

bool BlockingCounter::DecrementCount() {
  CRM_REAL(bool (*)(BlockingCounter*), false, "15BlockingCounter14DecrementCountEv");
  __tsan_release(this);
  return real(this);
}

void BlockingCounter::Wait() {
  CRM_REAL(void (*)(BlockingCounter*), false, "15BlockingCounter4WaitEv");
  real(this);
  __tsan_acquire(this);
}

ABSL_NAMESPACE_END
}  // namespace absl
