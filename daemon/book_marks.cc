#include "daemon/book_marks.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

constexpr char kMarksKey[] = "purchase_books";

std::string Definition(const rules::Model& model) { return model.purchases + "\n" + model.amount; }

// Whether `set` defines a model `name` as `definition`.
bool Keeps(const rules::RuleSet& set, const std::string& name, const json& definition) {
  for (const rules::Model& m : set.models) {
    if (m.name == name) {
      return definition.is_string() && definition.get<std::string>() == Definition(m);
    }
  }
  return false;
}

}  // namespace

Result<json> BookMarks::Read() {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> stored, store_.GetMeta(kMarksKey));
  json marks = stored ? json::parse(*stored, nullptr, /*allow_exceptions=*/false) : json::object();
  return marks.is_object() ? marks : json::object();  // stored state is never trusted
}

Status BookMarks::Write(const json& marks) {
  store::Batch batch;
  batch.meta[kMarksKey] = marks.dump();
  if (auto committed = audit_.Commit(batch); !committed) {
    return committed.error();
  }
  return Status::Ok();
}

Status BookMarks::Replace(RulesHolder& holder, std::shared_ptr<const LoadedRules> next) {
  const rules::RuleSet& set = next->set;
  MutexLock lock(mu_);
  PORTRAIT_ASSIGN_OR_RETURN(json marks, Read());
  json kept = json::object();
  for (const auto& [name, definition] : marks.items()) {
    if (Keeps(set, name, definition)) {
      kept[name] = definition;
    }
  }
  if (kept != marks) {
    PORTRAIT_RETURN_IF_ERROR(Write(kept));
  }
  holder.Set(std::move(next));
  ++generation_;
  bool added = false;
  for (const rules::Model& m : set.models) {
    auto latest = store_.LatestEventTime(m.purchases);
    if (!kept.contains(m.name) && latest && !latest->has_value()) {
      kept[m.name] = Definition(m);
      added = true;
    }
  }
  if (added) {
    (void)Write(kept);  // on the writer: no event of those types came in since the check
  }
  return Status::Ok();
}

Result<bool> BookMarks::Complete(const rules::Model& model) {
  PORTRAIT_ASSIGN_OR_RETURN(json marks, Read());
  auto it = marks.find(model.name);
  return it != marks.end() && it->is_string() && it->get<std::string>() == Definition(model);
}

uint64_t BookMarks::generation() {
  MutexLock lock(mu_);
  return generation_;
}

Status BookMarks::MarkVerified(const rules::Model& model, uint64_t generation) {
  MutexLock lock(mu_);
  if (generation != generation_) {
    return Status::Ok();  // rules came into force meanwhile: the next fit checks again
  }
  PORTRAIT_ASSIGN_OR_RETURN(json marks, Read());
  marks[model.name] = Definition(model);
  return Write(marks);
}

}  // namespace portrait::daemon
