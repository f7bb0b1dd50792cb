#include "rules/reads.h"

#include <algorithm>
#include <deque>
#include <set>

#include "rules/purchase_book.h"
#include "rules/rule_set.h"

namespace portrait::rules {

void CollectDerived(const Expr& e, std::vector<DerivedRead>& out) {
  if (e.kind == Expr::Kind::kCall && e.code == Op::kHasTag && !e.args.empty() &&
      e.args[0].kind == Expr::Kind::kLiteral && e.args[0].literal.type == Type::kString) {
    const std::string& tag = e.args[0].literal.s;
    out.push_back({"tags", tag.substr(0, tag.find('/')), e.offset, tag});
    return;
  }
  if (e.kind == Expr::Kind::kCall && e.code == Op::kInSegment && !e.args.empty()) {
    out.push_back({"segments", e.args[0].literal.s, e.offset, ""});
    return;
  }
  if (e.kind == Expr::Kind::kCall && e.code == Op::kHasTag) {
    out.push_back({"tags", "", e.offset, ""});
  }
  if (e.kind == Expr::Kind::kPath) {
    if (e.root == PathRoot::kMetric) {
      out.push_back({"metrics", e.name, e.offset, ""});
    } else if (e.root == PathRoot::kTags) {
      out.push_back({"tags", "", e.offset, ""});
    } else if (e.root == PathRoot::kLifecycle) {
      out.push_back({"lifecycle", "", e.offset, ""});
    } else if (e.root == PathRoot::kScore) {
      out.push_back({"scores", e.name, e.offset, ""});
    } else if (e.root == PathRoot::kPrediction) {
      out.push_back({"predictions", e.name, e.offset, ""});
    }
  }
  for (const Expr& child : e.args) {
    CollectDerived(child, out);
  }
}

namespace {

// Calls `visit` with the condition of every lifecycle stage, [[tag]] and [[segment]] the pass of
// `scope` evaluates.
template <typename Visit>
void EachPassCondition(const RuleSet& rules, PassScope scope, Visit&& visit) {
  if (scope == PassScope::kPortrait) {
    for (const LifecycleStage& s : rules.lifecycle) visit(s.when);
    for (const TagRule& t : rules.tags) visit(t.when);
  }
  for (const Segment& s : rules.segments) visit(s.when);
}

}  // namespace

bool PortraitReads(const RuleSet& rules, std::string_view kind, std::string_view name,
                   PassScope scope) {
  std::vector<DerivedRead> reads;
  EachPassCondition(rules, scope, [&](const Expr& when) { CollectDerived(when, reads); });
  return std::any_of(reads.begin(), reads.end(), [&](const DerivedRead& r) {
    return r.kind == kind && (r.item == name || r.item.empty());
  });
}

bool ReadsDerivedValues(const RuleSet& rules, PassScope scope) {
  std::vector<DerivedRead> reads;
  EachPassCondition(rules, scope, [&](const Expr& when) { CollectDerived(when, reads); });
  return std::any_of(reads.begin(), reads.end(), [](const DerivedRead& r) {
    return r.kind == "scores" || r.kind == "predictions";
  });
}

std::vector<std::string> PortraitFields(const RuleSet& rules, PassScope scope) {
  std::vector<std::pair<std::string, int>> named;
  EachPassCondition(rules, scope, [&](const Expr& when) { CollectFields(when, named); });
  std::vector<std::string> out;
  for (auto& [field, offset] : named) {
    out.push_back(std::move(field));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<std::string> PortraitMetrics(const RuleSet& rules, PassScope scope) {
  std::vector<DerivedRead> reads;
  EachPassCondition(rules, scope, [&](const Expr& when) { CollectDerived(when, reads); });
  std::vector<std::string> out = {"$segments", "$tags"};
  for (const DerivedRead& r : reads) {
    if (r.kind == "metrics") {
      out.push_back(r.item);
    }
  }
  for (const Score& s : rules.scores) {
    if (PortraitReads(rules, "scores", s.name, scope)) {
      out.insert(out.end(), {s.recency, s.frequency, s.monetary});
    }
  }
  if (std::any_of(rules.models.begin(), rules.models.end(), [&](const Model& m) {
        return PortraitReads(rules, "predictions", m.name, scope);
      })) {
    out.emplace_back(kPurchasesKey);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

void CollectPredictions(const Expr& e, std::set<std::pair<std::string, std::string>>& out) {
  if (e.kind == Expr::Kind::kPath && e.root == PathRoot::kPrediction) {
    out.emplace(e.name, e.key);
  }
  for (const Expr& child : e.args) {
    CollectPredictions(child, out);  // nesting is bounded when an expression is parsed
  }
}

}  // namespace

std::set<std::pair<std::string, std::string>> PredictionsRead(const RuleSet& rules) {
  std::set<std::pair<std::string, std::string>> out;
  for (const LifecycleStage& s : rules.lifecycle) CollectPredictions(s.when, out);
  for (const TagRule& t : rules.tags) CollectPredictions(t.when, out);
  for (const Segment& s : rules.segments) CollectPredictions(s.when, out);
  for (const Trigger& t : rules.triggers) {
    if (t.when) {
      CollectPredictions(*t.when, out);
    }
  }
  return out;
}

std::set<std::string> ScoresRead(const RuleSet& rules) {
  std::vector<DerivedRead> reads;
  for (const LifecycleStage& s : rules.lifecycle) CollectDerived(s.when, reads);
  for (const TagRule& t : rules.tags) CollectDerived(t.when, reads);
  for (const Segment& s : rules.segments) CollectDerived(s.when, reads);
  for (const Trigger& t : rules.triggers) {
    if (t.when) {
      CollectDerived(*t.when, reads);
    }
  }
  std::set<std::string> out;
  for (const DerivedRead& r : reads) {
    if (r.kind == "scores") {
      out.insert(r.item);
    }
  }
  return out;
}

bool TagVisible(const DerivedRead& read, std::string_view path) {
  if (read.kind != "tags") {
    return false;
  }
  if (read.tag.empty()) {
    return true;  // `tags`, or has_tag() of a computed argument: every tag
  }
  return path == read.tag ||
         (path.size() > read.tag.size() && path.compare(0, read.tag.size(), read.tag) == 0 &&
          path[read.tag.size()] == '/');
}

namespace {

// A segment, tag rule or lifecycle stage reached, and the chain that reached it.
struct Reached {
  const Expr* when = nullptr;
  std::string via;
  bool stage = false;  // a lifecycle stage: the metrics it reads are not followed
};

}  // namespace

std::vector<IndirectRead> ReadsThrough(const DerivedRead& read, const RuleSet& rules) {
  std::vector<IndirectRead> out;
  std::set<std::string> seen;  // "s:NAME" or "t:PATH"
  std::deque<std::pair<DerivedRead, std::string>> pending = {{read, ""}};
  while (!pending.empty()) {
    auto [at, via] = std::move(pending.front());
    pending.pop_front();
    std::vector<Reached> reached;
    if (at.kind == "segments") {
      const Segment* s = rules.FindSegment(at.item);
      if (s && seen.insert("s:" + s->name).second) {
        reached.push_back(
            {&s->when, (via.empty() ? "" : via + " -> ") + "segment '" + s->name + "'"});
      }
    } else if (at.kind == "tags") {
      for (const TagRule& t : rules.tags) {
        if (TagVisible(at, t.path) && seen.insert("t:" + t.path).second) {
          reached.push_back({&t.when, (via.empty() ? "" : via + " -> ") + "tag '" + t.path + "'"});
        }
      }
    } else if (at.kind == "lifecycle" && seen.insert("l:").second) {
      for (const LifecycleStage& s : rules.lifecycle) {
        reached.push_back({&s.when,
                           (via.empty() ? "" : via + " -> ") + "lifecycle stage '" + s.stage + "'",
                           /*stage=*/true});
      }
    }
    for (const Reached& r : reached) {
      std::vector<std::pair<std::string, int>> fields;
      CollectFields(*r.when, fields);
      for (auto& [field, offset] : fields) {
        out.push_back(IndirectRead{field, {}, r.via});
      }
      std::vector<DerivedRead> derived;
      CollectDerived(*r.when, derived);
      for (DerivedRead& d : derived) {
        if (r.stage && d.kind == "metrics") {
          continue;
        }
        out.push_back(IndirectRead{"", d, r.via});
        pending.emplace_back(std::move(d), r.via);
      }
    }
  }
  return out;
}

namespace {

bool Allowed(const config::Purpose& purpose, const DerivedRead& read) {
  return read.kind == "tags" && !read.item.empty() ? purpose.derived.AllowsTag(read.item)
                                                   : purpose.derived.Allows(read.kind, read.item);
}

bool FieldAllowed(const config::Purpose& purpose, const config::Config& config,
                  const std::string& name) {
  const config::Field* f = config.FindField(name);
  auto listed = [](const std::vector<std::string>& list, const std::string& item) {
    return std::find(list.begin(), list.end(), item) != list.end();
  };
  return f && !listed(purpose.masked, name) && listed(purpose.fields, name) &&
         (f->field_class != config::FieldClass::kSensitive || purpose.sensitive);
}

}  // namespace

bool PurposeMayUse(const config::Purpose& purpose, const config::Config& config,
                   const DerivedRead& read, const RuleSet& rules) {
  if (!Allowed(purpose, read)) {
    return false;
  }
  for (const IndirectRead& i : ReadsThrough(read, rules)) {
    if (i.field.empty() ? !Allowed(purpose, i.derived) : !FieldAllowed(purpose, config, i.field)) {
      return false;
    }
  }
  return true;
}

}  // namespace portrait::rules
