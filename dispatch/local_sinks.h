// The sinks on this machine. `file`: appends the task as one JSON line and fsyncs before it
// counts as delivered (a failed write is retried). `exec`: runs the command with /bin/sh, the
// task JSON on its stdin; exit status 0 after reading the whole task is delivered, anything else
// (another status, a command that exits before reading it all) is retried; past the sink's
// timeout the command's process group is killed and the attempt retried. The command gets a
// minimal environment — PATH, LANG, PORTRAIT_TASK_ID and the variables the sink lists in `env` —
// no descriptor but 0-2 (stdout and stderr on /dev/null: its output could hold personal data),
// and default signal dispositions. Writing to a command that closed its stdin fails with EPIPE:
// the process must ignore SIGPIPE (portraitd does).
#pragma once

#include <memory>

#include "dispatch/sink.h"

namespace portrait::dispatch {

Result<std::unique_ptr<Sink>> OpenFileSink(const config::Sink& config);
Result<std::unique_ptr<Sink>> OpenExecSink(const config::Sink& config);

}  // namespace portrait::dispatch
