#include "base/process.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

namespace portrait {

void HardenProcess() {
  struct rlimit none {};
  ::setrlimit(RLIMIT_CORE, &none);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  ::umask(077);
}

}  // namespace portrait
