#pragma once

// Minimal process control for test harnesses: run a command to completion, or
// start one in the background and stop it by pid. No shell is involved, so
// arguments need no quoting.

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace crm::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr, interleaved
};

// Runs `argv` and waits for it. `env` entries ("K=V") are added to the
// environment.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         const std::vector<std::string>& env = {});

// Starts `argv` in the background with stdout and stderr appended to
// `log_path`; returns its pid.
absl::StatusOr<pid_t> SpawnProcess(const std::vector<std::string>& argv,
                                   const std::vector<std::string>& env,
                                   const std::string& log_path);

// Sends `signal` and waits up to `timeout` for the process to exit, then
// SIGKILLs it. Returns the exit code (128+signal when killed by one).
int StopProcess(pid_t pid, int signal, absl::Duration timeout);

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreePort();

// Whether this process runs as root (PostgreSQL then runs as user postgres).
bool RunningAsRoot();

}  // namespace crm::testing
