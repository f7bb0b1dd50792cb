#include "dispatch/sink.h"

#include "dispatch/local_sinks.h"
#include "dispatch/webhook_sink.h"

namespace portrait::dispatch {

Result<std::unique_ptr<Sink>> OpenSink(const config::Sink& config) {
  switch (config.type) {
    case config::SinkType::kWebhook:
      return OpenWebhookSink(config);
    case config::SinkType::kFile:
      return OpenFileSink(config);
    case config::SinkType::kExec:
      return OpenExecSink(config);
  }
  return Error(Status::Internal("unknown sink type"));
}

}  // namespace portrait::dispatch
