#include "daemon/task_event.h"

#include "base/time_format.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

json Envelope(const store::TaskRow& task, std::string_view type, const std::string& subject,
              json data, int64_t now) {
  return json{{"specversion", "1.0"},
              {"id", std::to_string(task.id)},
              {"source", "portrait"},
              {"type", type},
              {"subject", subject},
              {"time", FormatRfc3339(now)},
              {"datacontenttype", "application/json"},
              {"data", std::move(data)}};
}

std::string RenderEvent(const store::TaskRow& task, const std::string& external_id,
                        const std::string& task_name, const std::string& message,
                        const json& fields, int64_t now) {
  json data = {{"task", task_name},       {"trigger", task.trigger},     {"purpose", task.purpose},
               {"channel", task.channel}, {"profile", external_id},      {"message", message},
               {"fields", fields},        {"attempt", task.attempts + 1}};
  return Envelope(task, "portrait.task", external_id, std::move(data), now).dump();
}

}  // namespace

Attempt::Bodies RenderTaskBodies(const store::TaskRow& task, const std::string& external_id,
                                 const json& payload, int64_t now) {
  auto text = [&](const char* key) {
    auto it = payload.find(key);
    return it != payload.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto flag = [&](const char* key, bool absent) {
    auto it = payload.find(key);
    return it == payload.end() ? absent : it->is_boolean() && it->get<bool>();
  };
  Attempt::Bodies out;
  out.personalised = flag("personalised", true);
  out.sensitive = flag("sensitive", false);
  auto fields = payload.find("fields");
  out.body =
      RenderEvent(task, external_id, text("task"), text("message"),
                  fields != payload.end() && fields->is_object() ? *fields : json::object(), now);
  if (out.personalised && payload.contains("plain")) {
    out.plain = RenderEvent(task, external_id, text("task"), text("plain"), json::object(), now);
  }
  return out;
}

std::string RenderErasureNotice(const store::TaskRow& task, const std::string& subject,
                                int64_t now) {
  return Envelope(task, "profile.erased", subject, json{{"subject", subject}}, now).dump();
}

}  // namespace portrait::daemon
