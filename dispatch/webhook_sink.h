// The webhook sink: POSTs the task's CloudEvent over HTTP or HTTPS (OpenSSL; the system's CAs
// or the sink's ca_file; the certificate chain and the host name are verified), signed with the
// Standard Webhooks headers. 2xx is delivered; 408, 429, 5xx and network errors are retried
// (honouring Retry-After in seconds); any other status is dead. Each attempt, connection
// included, must finish within the sink's timeout. Connections are kept open between attempts
// (up to `concurrency`, each idle at most a few seconds) while the receiver allows it.
#pragma once

#include <memory>

#include "dispatch/sink.h"

namespace portrait::dispatch {

Result<std::unique_ptr<Sink>> OpenWebhookSink(const config::Sink& config);

}  // namespace portrait::dispatch
