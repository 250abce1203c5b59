#include "common/testing/pg_cluster.h"

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/files/read_file.h"
#include "common/testing/subprocess.h"

namespace crm::testing {
namespace {

constexpr char kPgBin[] = "/usr/lib/postgresql/15/bin";

// The server log, for error messages ("" when there is none yet).
std::string ServerLog(const std::string& dir) {
  return ReadFileToString(dir + "/server.log").value_or("");
}

absl::Status ChownToPostgres(const std::string& path) {
  const passwd* pw = getpwnam("postgres");
  if (pw == nullptr) {
    return absl::FailedPreconditionError("running as root but there is no 'postgres' user");
  }
  if (chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    return absl::InternalError(absl::StrCat("chown ", path));
  }
  return absl::OkStatus();
}

}  // namespace

PgCluster::PgCluster(std::string dir, int port) : dir_(std::move(dir)), port_(port) {}

void PgCluster::ReapAbandoned() {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/tmp", error)) {
    const std::string dir = entry.path().string();
    if (!absl::StartsWith(entry.path().filename().string(), "crm-test-pg-")) {
      continue;
    }
    int owner = 0;
    absl::StatusOr<std::string> text = ReadFileToString(dir + "/owner");
    if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &owner) || owner <= 0 ||
        kill(owner, 0) == 0 || errno != ESRCH) {
      continue;  // being set up, or its test is still running
    }
    // The destructor stops the server (by the pid in its data directory)
    // and deletes the directory.
    PgCluster abandoned(dir, 0);
    abandoned.running_ = std::filesystem::exists(dir + "/data/postmaster.pid");
  }
}

absl::StatusOr<std::unique_ptr<PgCluster>> PgCluster::Create() {
  // A test killed from outside cannot clean up after itself; the next one does.
  ReapAbandoned();
  std::string pattern = "/tmp/crm-test-pg-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError("mkdtemp failed");
  }
  std::unique_ptr<PgCluster> cluster(new PgCluster(pattern, 0));
  if (FILE* f = fopen((pattern + "/owner").c_str(), "w"); f != nullptr) {
    fprintf(f, "%d\n", static_cast<int>(getpid()));
    fclose(f);
  }
  std::filesystem::create_directory(pattern + "/socket");
  if (RunningAsRoot()) {
    for (const std::string& path : {pattern, pattern + "/socket"}) {
      if (absl::Status s = ChownToPostgres(path); !s.ok()) {
        return s;
      }
    }
  }
  if (absl::Status s =
          cluster->RunPg({absl::StrCat(kPgBin, "/initdb"), "-D", pattern + "/data", "-U",
                          "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"});
      !s.ok()) {
    return s;
  }
  // A port can be taken between FreePort() and the server binding it; retry.
  absl::Status started;
  for (int attempt = 0; attempt < 3; ++attempt) {
    cluster->port_ = FreePort();
    started = cluster->Start();
    if (started.ok()) {
      return cluster;
    }
  }
  return started;
}

PgCluster::~PgCluster() {
  if (running_) {
    RunPg({absl::StrCat(kPgBin, "/pg_ctl"), "-D", dir_ + "/data", "-m", "immediate", "-w", "stop"})
        .IgnoreError();
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

absl::Status PgCluster::RunPg(const std::vector<std::string>& argv) {
  std::vector<std::string> command;
  if (RunningAsRoot()) {
    command = {"runuser", "-u", "postgres", "--"};
  }
  command.insert(command.end(), argv.begin(), argv.end());
  absl::StatusOr<CommandResult> result = RunCommand(command);
  if (!result.ok()) {
    return result.status();
  }
  if (result->exit_code != 0) {
    return absl::InternalError(absl::StrCat(argv[0], " exited ", result->exit_code, ": ",
                                            result->output, "\n", ServerLog(dir_)));
  }
  return absl::OkStatus();
}

absl::Status PgCluster::Start() {
  const std::string options =
      absl::StrCat("-p ", port_, " -c listen_addresses=127.0.0.1 -k ", dir_,
                   "/socket -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                   " -c max_connections=200");
  absl::Status status = RunPg({absl::StrCat(kPgBin, "/pg_ctl"), "-D", dir_ + "/data", "-l",
                               dir_ + "/server.log", "-w", "-t", "60", "-o", options, "start"});
  running_ = status.ok();
  return status;
}

namespace {

// Sends `signal` to the postmaster of `data_dir` and to each of its children.
absl::Status SignalServer(const std::string& data_dir, int signal) {
  std::ifstream pid_file(data_dir + "/postmaster.pid");
  pid_t postmaster = 0;
  if (!(pid_file >> postmaster) || postmaster <= 0) {
    return absl::FailedPreconditionError("the server is not running");
  }
  std::vector<pid_t> pids = {postmaster};
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    pid_t pid = 0;
    if (!absl::SimpleAtoi(name, &pid)) {
      continue;
    }
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    // pid (comm) state ppid ...: the comm may hold spaces, so parse after ')'.
    const size_t close = line.rfind(')');
    if (close == std::string::npos) {
      continue;
    }
    std::istringstream rest(line.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    if (rest >> state >> ppid && ppid == postmaster) {
      pids.push_back(pid);
    }
  }
  for (pid_t pid : pids) {
    kill(pid, signal);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status PgCluster::Freeze() { return SignalServer(dir_ + "/data", SIGSTOP); }

absl::Status PgCluster::Thaw() { return SignalServer(dir_ + "/data", SIGCONT); }

absl::Status PgCluster::Stop() {
  absl::Status status =
      RunPg({absl::StrCat(kPgBin, "/pg_ctl"), "-D", dir_ + "/data", "-m", "fast", "-w", "stop"});
  if (status.ok()) {
    running_ = false;
  }
  return status;
}

std::string PgCluster::Dsn(const std::string& dbname, const std::string& user) const {
  return absl::StrCat("host=127.0.0.1 port=", port_, " dbname=", dbname, " user=", user);
}

absl::Status PgCluster::Exec(const std::string& sql, const std::string& dbname) {
  try {
    pqxx::connection conn(Dsn(dbname));
    pqxx::nontransaction tx(conn);
    tx.exec(sql);
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("exec failed: ", e.what()));
  }
}

absl::Status PgCluster::TerminateConnections(const std::string& dbname) {
  try {
    pqxx::connection conn(Dsn("postgres"));
    pqxx::nontransaction tx(conn);
    tx.exec_params(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid()",
        dbname);
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("terminate failed: ", e.what()));
  }
}

absl::StatusOr<std::string> PgCluster::CreateServiceDatabase(const std::string& name) {
  if (absl::Status s = Exec(absl::StrCat("CREATE ROLE ", name, " LOGIN")); !s.ok()) {
    return s;
  }
  if (absl::Status s = Exec(absl::StrCat("CREATE DATABASE ", name, " OWNER ", name)); !s.ok()) {
    return s;
  }
  return Dsn(name, name);
}

}  // namespace crm::testing
