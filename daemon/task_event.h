// The CloudEvents the dispatcher sends: a task's (type portrait.task, its message and fields,
// and the plain variant when the trigger has a message_plain) and an erasure notice's (type
// profile.erased, data {"subject": external id}). Pure.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "daemon/attempt.h"
#include "store/store.h"

namespace portrait::daemon {

// The bodies of `task` from its opened payload (read defensively: a payload of an unexpected
// shape renders empty parts, never throws).
Attempt::Bodies RenderTaskBodies(const store::TaskRow& task, const std::string& external_id,
                                 const nlohmann::json& payload, int64_t now_us);

// The body of an erasure notice telling of `subject`'s erasure.
std::string RenderErasureNotice(const store::TaskRow& task, const std::string& subject,
                                int64_t now_us);

}  // namespace portrait::daemon
