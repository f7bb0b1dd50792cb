// test_postgres start|stop STATE_FILE: the ctest fixture that runs one PostgreSQL server for
// every test of a ctest run (tests/support/postgres_server.h).
#include <iostream>
#include <string>

#include "tests/support/postgres_server.h"

int main(int argc, char** argv) {
  const std::string verb = argc == 3 ? argv[1] : "";
  if (verb != "start" && verb != "stop") {
    std::cerr << "usage: test_postgres start|stop STATE_FILE\n";
    return 2;
  }
  std::string why;
  const bool done = verb == "start" ? portrait::testing::PostgresServer::StartDetached(argv[2], why)
                                    : portrait::testing::PostgresServer::StopDetached(argv[2], why);
  if (!done) {
    std::cerr << "test_postgres " << verb << ": " << why << "\n";
    return 1;
  }
  return 0;
}
