// The sinks on this machine. `file`: appends the task as one JSON line and fsyncs before it
// counts as delivered (a failed write is retried). `exec`: runs the command with /bin/sh, the
// task JSON on its stdin and PORTRAIT_TASK_ID in its environment; exit status 0 is delivered,
// any other is retried; past the sink's timeout the command's process group is killed and the
// attempt retried. The command's output is discarded (it could hold personal data).
#pragma once

#include <memory>

#include "dispatch/sink.h"

namespace portrait::dispatch {

Result<std::unique_ptr<Sink>> OpenFileSink(const config::Sink& config);
Result<std::unique_ptr<Sink>> OpenExecSink(const config::Sink& config);

}  // namespace portrait::dispatch
