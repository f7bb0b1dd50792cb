#include "tests/support/postgres_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "store/postgres/pg.h"

extern char** environ;

namespace portrait::testing {
namespace {

namespace fs = std::filesystem;

// The server's binaries: $PORTRAIT_PG_BINDIR, else Debian's newest /usr/lib/postgresql/N/bin.
std::string BinDir() {
  if (const char* dir = std::getenv("PORTRAIT_PG_BINDIR")) {
    return dir;
  }
  std::string best;
  int best_version = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const int version = std::atoi(entry.path().filename().c_str());
    if (version >= 15 && version > best_version && fs::exists(entry.path() / "bin/initdb")) {
      best_version = version;
      best = (entry.path() / "bin").string();
    }
  }
  return best;
}

// Starts `argv` with stdout and stderr to `log` (if set), in a session of its own when
// `detached` (so no terminal's or ctest's signal to this process group reaches it); returns its
// pid, or 0.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log, bool detached = false) {
  std::vector<char*> args;
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!log.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (detached) {
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : 0;
}

int Wait(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

crypto::SecretBytes NewPassword() {
  static constexpr char kHex[] = "0123456789abcdef";
  crypto::SecretBytes raw = crypto::SecretBytes::Random(16).value();
  crypto::SecretBytes hex = crypto::SecretBytes::Allocate(32).value();
  for (size_t i = 0; i < 16; ++i) {
    hex.data()[2 * i] = static_cast<uint8_t>(kHex[raw.data()[i] >> 4]);
    hex.data()[2 * i + 1] = static_cast<uint8_t>(kHex[raw.data()[i] & 15]);
  }
  return hex;
}

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  const std::string text = all.str();
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

}  // namespace

PostgresServer* PostgresServer::Shared() {
  static std::unique_ptr<PostgresServer> server;
  static std::string failed;
  if (!server && failed.empty()) {
    auto made = std::unique_ptr<PostgresServer>(new PostgresServer());
    const char* bin_dir = std::getenv("PORTRAIT_BIN_DIR");
    if (bin_dir && made->Attach(std::string(bin_dir) + "/test-postgres.state")) {
      server = std::move(made);
    } else if (made = std::unique_ptr<PostgresServer>(new PostgresServer());
               made->Start(/*detached=*/false, failed)) {
      server = std::move(made);
    } else if (failed.empty()) {
      failed = "the test PostgreSQL server did not start";
    }
  }
  if (!server) {
    ADD_FAILURE() << failed;
  }
  return server.get();
}

bool PostgresServer::Start(bool detached, std::string& why) {
  owned_ = !detached;
  const std::string bin = BinDir();
  if (bin.empty()) {
    why = "no PostgreSQL 15 or later under /usr/lib/postgresql (scripts/deps.sh installs it)";
    return false;
  }
  std::string tmpl = (fs::temp_directory_path() / "portrait-pg-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) {
    why = "mkdtemp failed";
    return false;
  }
  dir_ = tmpl;
  // As root the server runs as the postgres system user, in a directory that user owns.
  std::vector<std::string> as_user;
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (!pw || chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      why = "running as root, and no postgres user to run the server as";
      return false;
    }
    as_user = {"setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups"};
  } else {
    as_user = {"setpriv"};
  }
  superuser_password_ = NewPassword();
  password_ = NewPassword();
  keystore_password_ = NewPassword();
  const std::string pwfile = dir_ + "/pwfile";
  {
    std::ofstream out(pwfile);
    out << superuser_password_.view() << "\n";
  }
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    (void)chown(pwfile.c_str(), pw->pw_uid, pw->pw_gid);
  }
  std::vector<std::string> initdb = as_user;
  initdb.insert(initdb.end(), {"--", bin + "/initdb", "-D", dir_ + "/data", "-U", "portrait_admin",
                               "--auth=scram-sha-256", "--pwfile=" + pwfile, "-E", "UTF8",
                               "--locale=C", "--no-sync"});
  const std::string log = dir_ + "/log";
  const pid_t init_pid = Spawn(initdb, log);
  if (init_pid == 0 || Wait(init_pid) != 0) {
    why = "initdb failed:\n" + Tail(log);
    return false;
  }
  fs::remove(pwfile);
  port_ = FreePort();
  std::vector<std::string> server = as_user;
  server.insert(server.end(),
                {detached ? "--pdeathsig=clear" : "--pdeathsig=SIGQUIT", "--", bin + "/postgres",
                 "-D", dir_ + "/data", "-p", std::to_string(port_), "-k", dir_, "-c",
                 "listen_addresses=127.0.0.1", "-c", "max_connections=300"});
  if (!durable_) {
    server.insert(server.end(), {"-c", "fsync=off", "-c", "synchronous_commit=off", "-c",
                                 "full_page_writes=off"});
  }
  for (const std::string& setting : settings_) {
    server.insert(server.end(), {"-c", setting});
  }
  pid_ = Spawn(server, log, detached);
  if (pid_ == 0) {
    why = "postgres did not start";
    return false;
  }
  const std::string ping = "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=postgres";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (PQping(ping.c_str()) != PQPING_OK) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_ || std::chrono::steady_clock::now() > deadline) {
      pid_ = 0;
      why = "postgres did not answer:\n" + Tail(log);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto admin = store::pg::Connection::Open(AdminUrl("postgres"), &superuser_password_);
  if (!admin) {
    why = admin.error().ToString();
    return false;
  }
  // One statement at a time: CREATE DATABASE can't run inside a multi-statement string.
  const std::vector<std::string> setup = {
      "CREATE ROLE portrait LOGIN PASSWORD '" + std::string(password_.view()) + "'",
      "CREATE ROLE portrait_keys LOGIN PASSWORD '" + std::string(keystore_password_.view()) + "'",
      "CREATE DATABASE portrait OWNER portrait",
      "CREATE DATABASE portrait_keys OWNER portrait_keys",
      "REVOKE ALL ON DATABASE portrait FROM PUBLIC",
      "REVOKE ALL ON DATABASE portrait_keys FROM PUBLIC"};
  for (const std::string& statement : setup) {
    Status s = admin->Exec(statement);
    if (!s.ok()) {
      why = s.ToString();
      return false;
    }
  }
  return detached || OpenAdminConnections(why);
}

bool PostgresServer::OpenAdminConnections(std::string& why) {
  for (auto [db, conn] : {std::pair{"portrait", &admin_main_}, {"portrait_keys", &admin_keys_}}) {
    auto opened = store::pg::Connection::Open(AdminUrl(db), &superuser_password_);
    if (!opened) {
      why = opened.error().ToString();
      return false;
    }
    *conn = std::make_unique<store::pg::Connection>(std::move(*opened));
  }
  return true;
}

std::string PostgresServer::AdminUrl(const std::string& db) const {
  return "postgresql://portrait_admin@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

std::unique_ptr<PostgresServer> PostgresServer::StartOwn(bool durable,
                                                         const std::vector<std::string>& settings,
                                                         std::string& why) {
  auto server = std::unique_ptr<PostgresServer>(new PostgresServer());
  server->durable_ = durable;
  server->settings_ = settings;
  if (!server->Start(/*detached=*/false, why)) {
    return nullptr;  // the destructor stops what started and removes the directory
  }
  return server;
}

PostgresServer::Databases PostgresServer::Fresh() {
  // Unique across the processes that share a server.
  const std::string schema = "t" + std::to_string(getpid()) + "_" + std::to_string(++next_schema_);
  Databases out;
  for (const auto& [db, admin, url] :
       {std::tuple<std::string, store::pg::Connection*, std::string*>{"portrait", admin_main_.get(),
                                                                      &out.url},
        {"portrait_keys", admin_keys_.get(), &out.keystore_url}}) {
    // Each database's owner role has its name.
    Status made = admin->Exec("CREATE SCHEMA " + schema + " AUTHORIZATION " + db + ";");
    EXPECT_TRUE(made.ok()) << made.ToString();
    *url = "postgresql://" + db + "@127.0.0.1:" + std::to_string(port_) + "/" + db +
           "?options=-csearch_path%3D" + schema;
  }
  return out;
}

PostgresServer::~PostgresServer() {
  admin_main_.reset();
  admin_keys_.reset();
  if (!owned_) {
    return;
  }
  if (pid_ != 0) {
    kill(pid_, SIGINT);  // fast shutdown: no client is left to wait for
    Wait(pid_);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

namespace {

// The state file: the server's directory, port and pid, then the three passwords (test-only,
// random), one a line.
constexpr int kStateLines = 6;

bool ReadState(const std::string& path, std::vector<std::string>& lines) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
  }
  return lines.size() == kStateLines;
}

crypto::SecretBytes Secret(const std::string& text) {
  return crypto::SecretBytes::CopyOf(text).value();
}

}  // namespace

bool PostgresServer::StartDetached(const std::string& state_file, std::string& why) {
  PostgresServer server;
  if (!server.Start(/*detached=*/true, why)) {
    server.owned_ = true;  // stop what started, remove the directory
    return false;
  }
  const std::string partial = state_file + ".new";
  {
    std::ofstream out(partial);
    out << server.dir_ << "\n"
        << server.port_ << "\n"
        << server.pid_ << "\n"
        << server.superuser_password_.view() << "\n"
        << server.password_.view() << "\n"
        << server.keystore_password_.view() << "\n";
  }
  ::chmod(partial.c_str(), 0600);
  std::error_code ec;
  fs::rename(partial, state_file, ec);
  if (ec) {
    why = "cannot write " + state_file + ": " + ec.message();
    server.owned_ = true;
    return false;
  }
  return true;
}

bool PostgresServer::StopDetached(const std::string& state_file, std::string& why) {
  std::vector<std::string> lines;
  if (!ReadState(state_file, lines)) {
    why = "no server described in " + state_file;
    return false;
  }
  const pid_t pid = static_cast<pid_t>(std::atoi(lines[2].c_str()));
  if (pid > 0 && kill(pid, SIGINT) == 0) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (kill(pid, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::error_code ec;
  fs::remove_all(lines[0], ec);
  fs::remove(state_file, ec);
  return true;
}

bool PostgresServer::Attach(const std::string& state_file) {
  std::vector<std::string> lines;
  if (!ReadState(state_file, lines)) {
    return false;
  }
  dir_ = lines[0];
  port_ = std::atoi(lines[1].c_str());
  superuser_password_ = Secret(lines[3]);
  password_ = Secret(lines[4]);
  keystore_password_ = Secret(lines[5]);
  const std::string ping = "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=postgres";
  std::string why;
  return PQping(ping.c_str()) == PQPING_OK && OpenAdminConnections(why);
}

}  // namespace portrait::testing
