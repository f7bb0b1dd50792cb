// Process hardening shared by portraitd and portraitctl: no core dumps (they would hold key
// material and personal values in clear) and a umask that keeps every new file owner-only.
#pragma once

namespace portrait {

// Disables core dumps and ptrace-style dumping, and sets umask 077. Call first in main.
void HardenProcess();

}  // namespace portrait
