#include "daemon/kept_marks.h"

#include <algorithm>
#include <charconv>
#include <random>

#include "daemon/pass_marks.h"
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

// Those of `defs` that `marks` lacks and whose event type has no stored event.
template <typename Def>
std::vector<Def> Unused(store::Store& store, const std::vector<Def>& defs, const json& marks) {
  std::vector<Def> unused;
  for (const Def& d : defs) {
    if (Marked(marks, d)) {
      continue;
    }
    auto latest = store.LatestEventTime(EventType(d));
    if (latest && !latest->has_value()) {
      unused.push_back(d);
    }
  }
  return unused;
}

// Marks each of `defs` that `marks` lacks; whether any.
template <typename Def>
bool MarkAll(const std::vector<Def>& defs, json& marks) {
  bool added = false;
  for (const Def& d : defs) {
    if (!Marked(marks, d)) {
      marks[d.name] = Definition(d);
      added = true;
    }
  }
  return added;
}

// The entries of `from` that `kept` does not hold as they are.
json Minus(const json& from, const json& kept) {
  json gone = json::object();
  for (const auto& [name, def] : from.items()) {
    if (!def.is_string() || !kept.contains(name) || kept[name] != def) {
      gone[name] = def;
    }
  }
  return gone;
}

// Adds `moved` (definitions the base-wide mark held) to a partition's `marks`; a name the
// partition marks for another definition is dropped, since its values hold one of them at most.
void Merge(const json& moved, json& marks) {
  for (const auto& [name, def] : moved.items()) {
    if (!def.is_string()) {
      continue;
    }
    auto it = marks.find(name);
    if (it == marks.end()) {
      marks[name] = def;
    } else if (*it != def) {
      marks.erase(it);
    }
  }
}

bool IsHeld(const std::vector<store::HeldPartition>& held, int part) {
  return std::any_of(held.begin(), held.end(),
                     [part](const store::HeldPartition& p) { return p.part == part; });
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

std::string KeptPartitionKey(int part) { return "kept/" + std::to_string(part); }

std::string RebuildChangedKey(std::optional<int> part) {
  return part ? std::string(kRebuildChangedKey) + "/" + std::to_string(*part)
              : std::string(kRebuildChangedKey);
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

Result<KeptMarks::Marks> KeptMarks::ReadPartition(int part) {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> stored,
                            store_.GetMeta(KeptPartitionKey(part)));
  const json whole = ParseMarks(stored);
  auto member = [&whole](const char* name) {
    auto it = whole.find(name);
    return it != whole.end() && it->is_object() ? *it : json::object();
  };
  Marks marks;
  marks.books = member("books");
  marks.metrics = member("metrics");
  return marks;
}

void KeptMarks::PutPartition(int part, const Marks& marks, store::Batch& batch) {
  batch.meta[KeptPartitionKey(part)] =
      json{{"books", marks.books}, {"metrics", marks.metrics}}.dump();
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
  store::Batch batch;
  if (kept.books != marks.books || kept.metrics != marks.metrics || !marks.metrics_stored) {
    Put(kept, batch);
  }
  // The partitions' marks (docs/DECISIONS.md 176): a node of several moves what the base-wide
  // mark forgets to the partitions it does not hold, whose holders may keep it still, and
  // forgets it, with what `next` does not keep, in its own; one node forgets it everywhere.
  const std::optional<std::vector<store::HeldPartition>> held = store_.HeldPartitions();
  const std::shared_ptr<const LoadedRules> before = holder.Get();
  const json gone_books = Minus(marks.books, kept.books);
  const json gone_metrics = Minus(marks.metrics, kept.metrics);
  bool wrote_parts = false;
  for (int part = 0; part < store_.PartitionCount(); ++part) {
    PORTRAIT_ASSIGN_OR_RETURN(Marks in_part, ReadPartition(part));
    Marks after = in_part;
    if (held && !IsHeld(*held, part)) {
      Merge(gone_books, after.books);
      Merge(gone_metrics, after.metrics);
    } else {
      // Only what both the rules in force until now (under which this node applied the
      // partition's events) and `next` keep: a mark the node has not vetted yet may name a
      // value its rules did not keep.
      after.books = Kept(in_part.books, set.models);
      after.metrics = Kept(in_part.metrics, set.metrics);
      if (before) {
        after.books = Kept(after.books, before->set.models);
        after.metrics = Kept(after.metrics, before->set.metrics);
      }
    }
    if (after.books != in_part.books || after.metrics != in_part.metrics) {
      PutPartition(part, after, batch);
      wrote_parts = true;
    }
  }
  if (held && wrote_parts) {
    // A value no other reload wrote: overlapping reloads of peers each see it change.
    std::random_device random;
    batch.meta[std::string(kKeptMovedKey)] = std::to_string(random()) + "." +
                                             std::to_string(random()) + "." +
                                             std::to_string(generation_);
  }
  if (!batch.meta.empty()) {
    if (auto committed = audit_.Commit(batch); !committed) {
      return committed.error();
    }
  }
  holder.Set(std::move(next));
  ++generation_;
  // On the writer: no event of those types came in since the check. Among several nodes only
  // the partitions held are marked: the others' holders may apply events under other rules.
  const std::vector<rules::Model> unused_models = Unused(store_, set.models, kept.books);
  const std::vector<rules::Metric> unused_metrics = Unused(store_, set.metrics, kept.metrics);
  if (unused_models.empty() && unused_metrics.empty()) {
    return Status::Ok();
  }
  if (!held) {
    MarkAll(unused_models, kept.books);
    MarkAll(unused_metrics, kept.metrics);
    (void)Write(kept);
    return Status::Ok();
  }
  store::Batch unused;
  for (const store::HeldPartition& p : *held) {
    Result<Marks> in_part = ReadPartition(p.part);
    if (!in_part) {
      return Status::Ok();  // left unmarked: the rebuild marks them
    }
    const bool books = MarkAll(unused_models, in_part->books);
    if (MarkAll(unused_metrics, in_part->metrics) || books) {
      PutPartition(p.part, *in_part, unused);
      unused.fenced_parts.push_back(p.part);
    }
  }
  if (!unused.meta.empty()) {
    (void)audit_.Commit(unused);
  }
  return Status::Ok();
}

Result<bool> KeptMarks::Complete(const rules::Model& model) {
  MutexLock lock(mu_);
  PORTRAIT_ASSIGN_OR_RETURN(Marks marks, Read());
  if (Marked(marks.books, model)) {
    return true;
  }
  const int parts = store_.PartitionCount();
  for (int part = 0; part < parts; ++part) {
    PORTRAIT_ASSIGN_OR_RETURN(Marks in_part, ReadPartition(part));
    if (!Marked(in_part.books, model)) {
      return false;
    }
  }
  return parts > 0;
}

Result<KeptTargets> KeptMarks::Incomplete(const rules::RuleSet& set, std::optional<int> part) {
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
  // Complete in one partition: its mark has it; base-wide: every partition's has it.
  const int parts = part ? 1 : store_.PartitionCount();
  std::vector<rules::Metric> everywhere_metrics = targets.metrics;
  std::vector<rules::Model> everywhere_models = targets.models;
  for (int i = 0; i < parts && !(everywhere_metrics.empty() && everywhere_models.empty()); ++i) {
    PORTRAIT_ASSIGN_OR_RETURN(Marks in_part, ReadPartition(part ? *part : i));
    std::erase_if(everywhere_metrics,
                  [&](const rules::Metric& m) { return !Marked(in_part.metrics, m); });
    std::erase_if(everywhere_models,
                  [&](const rules::Model& m) { return !Marked(in_part.books, m); });
  }
  if (parts > 0) {
    std::erase_if(targets.metrics, [&](const rules::Metric& m) {
      return std::any_of(everywhere_metrics.begin(), everywhere_metrics.end(),
                         [&](const rules::Metric& e) { return e.name == m.name; });
    });
    std::erase_if(targets.models, [&](const rules::Model& m) {
      return std::any_of(everywhere_models.begin(), everywhere_models.end(),
                         [&](const rules::Model& e) { return e.name == m.name; });
    });
  }
  return targets;
}

Status KeptMarks::Vet(const rules::RuleSet& set, const std::vector<int>& parts) {
  MutexLock lock(mu_);
  store::Batch batch;
  for (int part : parts) {
    PORTRAIT_ASSIGN_OR_RETURN(Marks in_part, ReadPartition(part));
    Marks after = in_part;
    after.books = Kept(in_part.books, set.models);
    after.metrics = Kept(in_part.metrics, set.metrics);
    if (after.books != in_part.books || after.metrics != in_part.metrics) {
      PutPartition(part, after, batch);
      batch.fenced_parts.push_back(part);  // a partition lost meanwhile is its next holder's
    }
  }
  if (!batch.meta.empty()) {
    if (auto committed = audit_.Commit(batch); !committed) {
      return committed.error();
    }
  }
  return Status::Ok();
}

uint64_t KeptMarks::generation() {
  MutexLock lock(mu_);
  return generation_;
}

Result<bool> KeptMarks::MarkRebuilt(const KeptTargets& targets, uint64_t generation,
                                    const RebuildCounts& counts, bool portrait_reads,
                                    int64_t now_us) {
  return Mark(targets, generation, counts, portrait_reads, now_us, std::nullopt);
}

Result<bool> KeptMarks::MarkRebuiltIn(const store::HeldPartition& p, const KeptTargets& targets,
                                      uint64_t generation, const RebuildCounts& counts,
                                      bool portrait_reads, int64_t now_us) {
  return Mark(targets, generation, counts, portrait_reads, now_us, p);
}

Result<bool> KeptMarks::Mark(const KeptTargets& targets, uint64_t generation,
                             const RebuildCounts& counts, bool portrait_reads, int64_t now_us,
                             const std::optional<store::HeldPartition>& p) {
  MutexLock lock(mu_);
  if (generation != generation_) {
    return false;
  }
  if (p && !StillHeld(store_.HeldPartitions(), *p)) {
    return Error(Status::Unavailable("partition " + std::to_string(p->part) +
                                     " changed hands during its rebuild"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(Marks marks, p ? ReadPartition(p->part) : Read());
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
  if (p) {
    PutPartition(p->part, marks, batch);
    batch.fenced_parts.push_back(p->part);  // the lease must hold at the commit
  } else {
    Put(marks, batch);
  }
  const std::string changed_key = RebuildChangedKey(p ? std::optional(p->part) : std::nullopt);
  // A flag that does not read as a count is taken as set, and cleared below: a damaged entry
  // must not stop every later rebuild from being marked.
  const Result<int64_t> changed_flag = MetaCount(store_, changed_key);
  const int64_t changed_before = changed_flag ? *changed_flag : 1;
  if ((counts.changed > 0 || changed_before > 0) && portrait_reads) {
    PORTRAIT_ASSIGN_OR_RETURN(int64_t rebuilds, MetaCount(store_, kRebuildsKey));
    batch.meta[std::string(kRebuildsKey)] = std::to_string(rebuilds + 1);
  }
  if (changed_before > 0) {
    batch.meta[changed_key] = "0";
  }
  names["profiles"] = counts.profiles;
  names["changed"] = counts.changed;
  names["unreadable_profiles"] = counts.unreadable_profiles;
  names["unreadable_events"] = counts.unreadable_events;
  if (p) {
    names["partition"] = p->part;
  }
  batch.audit.push_back(store::AuditEntry{now_us, "system", "kept.rebuild", 0, "", names.dump()});
  if (auto committed = audit_.Commit(batch); !committed) {
    return Error(committed.error());
  }
  return true;
}

}  // namespace portrait::daemon
