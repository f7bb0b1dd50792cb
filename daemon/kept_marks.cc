#include "daemon/kept_marks.h"

#include <algorithm>
#include <charconv>

#include "rules/reads.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

constexpr char kBooksKey[] = "purchase_books";
constexpr char kMetricsKey[] = "kept_metrics";

std::string Definition(const rules::Model& model) { return model.purchases + "\n" + model.amount; }

std::string Definition(const rules::Metric& metric) {
  static constexpr const char* kKinds[] = {"count", "sum", "min", "max", "last", "top"};
  return std::string(kKinds[static_cast<int>(metric.kind)]) + "\n" + metric.event_type + "\n" +
         metric.key;
}

// The entries of `marks` that `defs` define as they are marked.
template <typename Def>
json Kept(const json& marks, const std::vector<Def>& defs) {
  json kept = json::object();
  for (const Def& d : defs) {
    auto it = marks.find(d.name);
    if (it != marks.end() && it->is_string() && it->template get<std::string>() == Definition(d)) {
      kept[d.name] = *it;
    }
  }
  return kept;
}

template <typename Def>
bool Marked(const json& marks, const Def& d) {
  auto it = marks.find(d.name);
  return it != marks.end() && it->is_string() && it->template get<std::string>() == Definition(d);
}

// Stored state is never trusted: anything but an object of strings reads as no marks.
json ParseMarks(const std::optional<std::string>& stored) {
  json marks = stored ? json::parse(*stored, nullptr, /*allow_exceptions=*/false) : json::object();
  return marks.is_object() ? marks : json::object();
}

std::string_view EventType(const rules::Metric& m) { return m.event_type; }
std::string_view EventType(const rules::Model& m) { return m.purchases; }

// Marks each of `defs` that `marks` lacks and whose event type has no stored event; whether any.
template <typename Def>
bool MarkUnused(store::Store& store, const std::vector<Def>& defs, json& marks) {
  bool added = false;
  for (const Def& d : defs) {
    if (Marked(marks, d)) {
      continue;
    }
    auto latest = store.LatestEventTime(EventType(d));
    if (latest && !latest->has_value()) {
      marks[d.name] = Definition(d);
      added = true;
    }
  }
  return added;
}

}  // namespace

Result<int64_t> MetaCount(store::Store& store, std::string_view key) {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> stored, store.GetMeta(key));
  if (!stored) {
    return 0;
  }
  int64_t n = 0;
  const char* end = stored->data() + stored->size();
  auto [stop, error] = std::from_chars(stored->data(), end, n);
  if (stored->empty() || error != std::errc() || stop != end || n < 0) {
    return Error(Status::Corruption("meta '" + std::string(key) + "': expected a count"));
  }
  return n;
}

bool KeptTargets::Reads(std::string_view event_type) const {
  return std::any_of(metrics.begin(), metrics.end(),
                     [&](const rules::Metric& m) { return m.event_type == event_type; }) ||
         std::any_of(models.begin(), models.end(),
                     [&](const rules::Model& m) { return m.purchases == event_type; });
}

bool KeptTargets::ReadByPortrait(const rules::RuleSet& set) const {
  if (std::any_of(models.begin(), models.end(), [&](const rules::Model& m) {
        return rules::PortraitReads(set, "predictions", m.name);  // made from the books
      })) {
    return true;
  }
  const std::vector<std::string> read = rules::PortraitMetrics(set);
  return std::any_of(metrics.begin(), metrics.end(), [&](const rules::Metric& m) {
    return std::binary_search(read.begin(), read.end(), m.name);
  });
}

Result<KeptMarks::Marks> KeptMarks::Read() {
  Marks marks;
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> books, store_.GetMeta(kBooksKey));
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> metrics, store_.GetMeta(kMetricsKey));
  marks.books = ParseMarks(books);
  marks.metrics = ParseMarks(metrics);
  marks.metrics_stored = metrics.has_value();
  return marks;
}

void KeptMarks::Put(const Marks& marks, store::Batch& batch) {
  batch.meta[kBooksKey] = marks.books.dump();
  batch.meta[kMetricsKey] = marks.metrics.dump();
}

Status KeptMarks::Write(const Marks& marks) {
  store::Batch batch;
  Put(marks, batch);
  if (auto committed = audit_.Commit(batch); !committed) {
    return committed.error();
  }
  return Status::Ok();
}

Status KeptMarks::Replace(RulesHolder& holder, std::shared_ptr<const LoadedRules> next) {
  const rules::RuleSet& set = next->set;
  MutexLock lock(mu_);
  PORTRAIT_ASSIGN_OR_RETURN(Marks marks, Read());
  Marks kept;
  kept.books = Kept(marks.books, set.models);
  // Before metrics were marked, they were kept as the rules said: taken as complete.
  kept.metrics = marks.metrics_stored ? Kept(marks.metrics, set.metrics) : json::object();
  if (!marks.metrics_stored) {
    for (const rules::Metric& m : set.metrics) {
      kept.metrics[m.name] = Definition(m);
    }
  }
  if (kept.books != marks.books || kept.metrics != marks.metrics || !marks.metrics_stored) {
    PORTRAIT_RETURN_IF_ERROR(Write(kept));
  }
  holder.Set(std::move(next));
  ++generation_;
  const bool books = MarkUnused(store_, set.models, kept.books);
  if (MarkUnused(store_, set.metrics, kept.metrics) || books) {
    (void)Write(kept);  // on the writer: no event of those types came in since the check
  }
  return Status::Ok();
}

Result<bool> KeptMarks::Complete(const rules::Model& model) {
  MutexLock lock(mu_);
  PORTRAIT_ASSIGN_OR_RETURN(Marks marks, Read());
  return Marked(marks.books, model);
}

Result<KeptTargets> KeptMarks::Incomplete(const rules::RuleSet& set) {
  MutexLock lock(mu_);
  PORTRAIT_ASSIGN_OR_RETURN(Marks marks, Read());
  KeptTargets targets;
  for (const rules::Metric& m : set.metrics) {
    if (!Marked(marks.metrics, m)) {
      targets.metrics.push_back(m);
    }
  }
  for (const rules::Model& m : set.models) {
    if (!Marked(marks.books, m)) {
      targets.models.push_back(m);
    }
  }
  return targets;
}

uint64_t KeptMarks::generation() {
  MutexLock lock(mu_);
  return generation_;
}

Result<bool> KeptMarks::MarkRebuilt(const KeptTargets& targets, uint64_t generation,
                                    const RebuildCounts& counts, bool portrait_reads,
                                    int64_t now_us) {
  MutexLock lock(mu_);
  if (generation != generation_) {
    return false;
  }
  PORTRAIT_ASSIGN_OR_RETURN(Marks marks, Read());
  json names = {{"metrics", json::array()}, {"models", json::array()}};
  for (const rules::Metric& m : targets.metrics) {
    marks.metrics[m.name] = Definition(m);
    names["metrics"].push_back(m.name);
  }
  for (const rules::Model& m : targets.models) {
    marks.books[m.name] = Definition(m);
    names["models"].push_back(m.name);
  }
  store::Batch batch;
  Put(marks, batch);
  PORTRAIT_ASSIGN_OR_RETURN(int64_t changed_before, MetaCount(store_, kRebuildChangedKey));
  if ((counts.changed > 0 || changed_before > 0) && portrait_reads) {
    PORTRAIT_ASSIGN_OR_RETURN(int64_t rebuilds, MetaCount(store_, kRebuildsKey));
    batch.meta[std::string(kRebuildsKey)] = std::to_string(rebuilds + 1);
  }
  if (changed_before > 0) {
    batch.meta[std::string(kRebuildChangedKey)] = "0";
  }
  names["profiles"] = counts.profiles;
  names["changed"] = counts.changed;
  names["unreadable_profiles"] = counts.unreadable_profiles;
  names["unreadable_events"] = counts.unreadable_events;
  batch.audit.push_back(store::AuditEntry{now_us, "system", "kept.rebuild", 0, "", names.dump()});
  if (auto committed = audit_.Commit(batch); !committed) {
    return Error(committed.error());
  }
  return true;
}

}  // namespace portrait::daemon
