#include "rules/portrait_rules.h"

#include <algorithm>
#include <map>
#include <set>

#include "base/tag_path.h"
#include "rules/reads.h"

namespace portrait::rules {

using config::Diagnostics;
using config::Located;
using config::SourcePos;
using config::TableReader;

SourcePos At(const SourcePos& value, int offset) {
  return SourcePos{value.file, value.line, value.column + 1 + offset};
}

std::optional<Expr> Condition(TableReader& r, const Located& text, std::string_view key,
                              const Schema& schema) {
  auto e = ParseExpression(text.value, schema);
  if (!e) {
    r.Error(At(text.pos, e.error().offset), key, e.error().message);
    return std::nullopt;
  }
  return std::move(*e);
}

namespace {

constexpr size_t kMaxName = 64;

// A score or model name (it is written in paths: scores.NAME.r) or, with `dash`, a segment name.
bool ValidName(std::string_view name, bool dash) {
  if (name.empty() || name.size() > kMaxName || std::isdigit(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || (dash && c == '-');
  });
}

// Reads `name` of a [[score]], [[model]] or [[segment]]: required, well-formed, not taken.
std::optional<Located> TakeName(TableReader& r, const std::string& what, bool dash,
                                std::set<std::string>& taken) {
  auto name = r.String("name", true);
  if (!name) {
    return std::nullopt;
  }
  r.set_context(what + " '" + name->value + "'");
  if (!ValidName(name->value, dash)) {
    r.Error(name->pos, "name",
            std::string("expected 1-64 letters, digits") + (dash ? ", '_' or '-'" : " or '_'") +
                ", not starting with a digit");
    return std::nullopt;
  }
  if (!taken.insert(name->value).second) {
    r.Error(name->pos, "name", "duplicate " + what + " name");
    return std::nullopt;
  }
  return name;
}

// Any kind other than the one this table supports is an error listing it.
bool KindIs(TableReader& r, std::string_view kind) {
  auto k = r.String("kind", true);
  if (k && k->value != kind) {
    r.Error(k->pos, "kind",
            "unknown kind '" + k->value + "' (expected \"" + std::string(kind) + "\")");
    return false;
  }
  return k.has_value();
}

}  // namespace

std::optional<CronSpec> PortraitLoader::Refresh(TableReader& r) {
  auto v = r.String("refresh");
  if (!v) {
    return std::nullopt;
  }
  auto cron = ParseCron(v->value);
  if (!cron) {
    r.Error(v->pos, "refresh", cron.error());
    return std::nullopt;
  }
  return *cron;
}

void PortraitLoader::LoadScore(const toml::table& t, Diagnostics& diag) {
  TableReader r(t, "[[score]]", diag);
  Score s;
  s.pos = r.pos();
  auto name = TakeName(r, "score", false, scores_);
  bool ok = KindIs(r, "rfm") && name;
  static const std::pair<const char*, MetricKind> kInputs[] = {{"recency", MetricKind::kLast},
                                                               {"frequency", MetricKind::kCount},
                                                               {"monetary", MetricKind::kSum}};
  for (const auto& [key, kind] : kInputs) {
    auto v = r.String(key, true);
    if (!v) {
      ok = false;
      continue;
    }
    const Metric* m = set_.FindMetric(v->value);
    // Recency is the time of the latest purchase: a `last` of the event itself, not of a key.
    if (!m || m->kind != kind || (kind == MetricKind::kLast && !m->key.empty())) {
      const char* wanted = kind == MetricKind::kLast    ? "`last = \"EVENT_TYPE\"` (a time)"
                           : kind == MetricKind::kCount ? "`count`"
                                                        : "`sum`";
      r.Error(v->pos, key,
              (m ? "metric '" + v->value + "' is not" : "unknown metric '" + v->value + "': need") +
                  " a " + wanted + " metric");
      ok = false;
      continue;
    }
    (std::string_view(key) == "recency"     ? s.recency
     : std::string_view(key) == "frequency" ? s.frequency
                                            : s.monetary) = v->value;
  }
  s.refresh = Refresh(r);
  r.Finish();
  if (ok) {
    s.name = name->value;
    set_.scores.push_back(std::move(s));
  }
}

void PortraitLoader::LoadModel(const toml::table& t, Diagnostics& diag,
                               const config::Config& config) {
  TableReader r(t, "[[model]]", diag);
  Model m;
  m.pos = r.pos();
  auto name = TakeName(r, "model", false, models_);
  bool ok = KindIs(r, "bgnbd") && name;
  auto purchases = r.String("purchases", true);
  auto amount = r.String("amount", true);
  ok = ok && purchases && amount;
  if (purchases && purchases->value.empty()) {
    r.Error(purchases->pos, "purchases", "expected an event type, e.g. \"order.placed\"");
    ok = false;
  }
  for (const config::Retention& kept : config.retention) {
    if (purchases && !kept.event_type.empty() && kept.event_type == purchases->value) {
      // The purchase book would keep dated purchases past the retention, and the fit would see
      // histories cut at the retention while the books do not.
      r.Error(purchases->pos, "purchases",
              "these events are deleted by the [[retention]] rule at " + kept.pos.ToString() +
                  ", but a model keeps its customers' purchase history: remove that "
                  "[[retention]] rule or this [[model]], then start or reload the daemon "
                  "(releases before 2026-12 accepted both: docs/CONFIG.md, [[retention]])");
      ok = false;
    }
  }
  if (amount && (amount->value.empty() || amount->value.front() == '.' ||
                 amount->value.back() == '.' || amount->value.find("..") != std::string::npos)) {
    r.Error(amount->pos, "amount", "expected a key of the event's data, e.g. \"amount\"");
    ok = false;
  }
  if (auto unit =
          r.Enum<ModelUnit>("unit", {{"day", ModelUnit::kDay}, {"week", ModelUnit::kWeek}})) {
    m.unit = *unit;
  }
  m.discount = r.Number("discount", 0, 10).value_or(m.discount);
  m.refresh = Refresh(r);
  r.Finish();
  if (ok) {
    m.name = name->value;
    m.purchases = purchases->value;
    m.amount = amount->value;
    set_.models.push_back(std::move(m));
  }
}

void PortraitLoader::AddNames(const std::vector<const toml::table*>& segment_tables,
                              Schema& schema) const {
  for (const Score& s : set_.scores) {
    schema.scores.insert(s.name);
  }
  for (const Model& m : set_.models) {
    schema.models.insert(m.name);
  }
  for (const toml::table* t : segment_tables) {
    if (auto name = (*t)["name"].value<std::string>(); name && ValidName(*name, true)) {
      schema.segments.insert(*name);
    }
  }
}

void PortraitLoader::LoadTag(const toml::table& t, Diagnostics& diag, const Schema& schema) {
  TableReader r(t, "[[tag]]", diag);
  TagRule tag;
  tag.pos = r.pos();
  auto path = r.String("path", true);
  auto when = r.String("when", true);
  bool ok = path && when;
  if (path) {
    r.set_context("tag '" + path->value + "'");
    if (!CheckTagPath(path->value).ok()) {
      r.Error(path->pos, "path",
              "a tag is 1-3 levels of 1-64 bytes without spaces (e.g. interest/sports/running)");
      ok = false;
    } else if (!tags_.insert(path->value).second) {
      r.Error(path->pos, "path", "duplicate tag path (join the conditions with `or`)");
      ok = false;
    }
  }
  std::optional<Expr> e = when ? Condition(r, *when, "when", schema) : std::nullopt;
  if (e) {
    std::vector<DerivedRead> reads;
    CollectDerived(*e, reads);
    for (const DerivedRead& d : reads) {
      if (d.kind == "tags" || d.kind == "segments" || d.kind == "lifecycle") {
        r.Error(At(when->pos, d.offset), "when",
                "a [[tag]] may not read " + d.kind +
                    " (they are computed after it); use a [[segment]] for that");
        ok = false;
      }
    }
  }
  r.Finish();
  if (ok && e) {
    tag.path = path->value;
    tag.source = when->value;
    tag.when = std::move(*e);
    set_.tags.push_back(std::move(tag));
  }
}

void PortraitLoader::LoadSegment(const toml::table& t, Diagnostics& diag, const Schema& schema) {
  TableReader r(t, "[[segment]]", diag);
  Segment s;
  s.pos = r.pos();
  auto name = TakeName(r, "segment", true, segments_);
  auto when = r.String("when", true);
  std::optional<Expr> e = when ? Condition(r, *when, "when", schema) : std::nullopt;
  r.Finish();
  if (name && e) {
    s.name = name->value;
    s.source = when->value;
    s.when = std::move(*e);
    set_.segments.push_back(std::move(s));
  }
}

namespace {

// The segments `s` names through in_segment().
std::vector<std::string> Dependencies(const Segment& s) {
  std::vector<DerivedRead> reads;
  CollectDerived(s.when, reads);
  std::vector<std::string> out;
  for (const DerivedRead& d : reads) {
    if (d.kind == "segments") {
      out.push_back(d.item);
    }
  }
  return out;
}

}  // namespace

void PortraitLoader::OrderSegments(Diagnostics& diag) {
  std::vector<Segment>& all = set_.segments;
  const size_t n = all.size();
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < n; ++i) {
    index.emplace(all[i].name, i);
  }
  // Kahn's algorithm, linear: a segment is placed once every segment it names is. (A name of no
  // segment was reported when its condition was parsed.)
  std::vector<std::vector<size_t>> deps(n), users(n);
  std::vector<size_t> waiting(n, 0);
  for (size_t i = 0; i < n; ++i) {
    for (const std::string& name : Dependencies(all[i])) {
      if (auto it = index.find(name); it != index.end()) {
        deps[i].push_back(it->second);
        users[it->second].push_back(i);
        ++waiting[i];
      }
    }
  }
  std::vector<size_t> order;
  for (size_t i = 0; i < n; ++i) {
    if (waiting[i] == 0) {
      order.push_back(i);
    }
  }
  for (size_t next = 0; next < order.size(); ++next) {
    for (size_t user : users[order[next]]) {
      if (--waiting[user] == 0) {
        order.push_back(user);
      }
    }
  }
  ReportCycles(deps, waiting, diag);
  std::vector<bool> placed(n, false);
  std::vector<Segment> ordered;
  ordered.reserve(n);
  for (size_t i : order) {
    placed[i] = true;
    ordered.push_back(std::move(all[i]));
  }
  for (size_t i = 0; i < n; ++i) {
    if (!placed[i]) {
      ordered.push_back(std::move(all[i]));  // the load fails; kept only for their names
    }
  }
  all = std::move(ordered);
}

void PortraitLoader::ReportCycles(const std::vector<std::vector<size_t>>& deps,
                                  const std::vector<size_t>& waiting, Diagnostics& diag) const {
  // What is left (still waiting) lies on or behind a cycle: walk from each, over segments no
  // walk visited before (so each is visited once), until the walk meets itself; report that.
  const size_t n = deps.size();
  std::vector<bool> walked(n, false);
  for (size_t start = 0; start < n; ++start) {
    if (waiting[start] == 0 || walked[start]) {
      continue;
    }
    std::vector<size_t> chain;
    std::map<size_t, size_t> position;
    size_t at = start;
    while (!walked[at]) {
      walked[at] = true;
      position[at] = chain.size();
      chain.push_back(at);
      // One exists: `at` is still waiting for a segment that was never placed.
      at = *std::find_if(deps[at].begin(), deps[at].end(), [&](size_t d) { return waiting[d]; });
    }
    auto first = position.find(at);
    if (first != position.end()) {  // else it ran into an earlier walk, whose cycle is reported
      ReportCycle(std::vector<size_t>(chain.begin() + first->second, chain.end()), diag);
    }
  }
}

void PortraitLoader::ReportCycle(const std::vector<size_t>& cycle, Diagnostics& diag) const {
  constexpr size_t kShown = 8;
  std::string text;
  for (size_t i = 0; i < cycle.size() && i < kShown; ++i) {
    text += "'" + set_.segments[cycle[i]].name + "' -> ";
  }
  if (cycle.size() > kShown) {
    text += "... (" + std::to_string(cycle.size()) + " segments) -> ";
  }
  const Segment& first = set_.segments[cycle.front()];
  diag.Add(first.pos, "segments depend on each other in a cycle: " + text + "'" + first.name + "'");
}

// on.segment = { enter = "vip" } or { exit = "vip" }.
void PortraitLoader::LoadSegmentOn(const toml::table& s, Trigger& trig, Diagnostics& diag) {
  trig.kind = TriggerKind::kSegment;
  TableReader sr(s, "trigger '" + trig.id + "' on.segment", diag);
  auto enter = sr.String("enter");
  auto exit = sr.String("exit");
  if (enter.has_value() == exit.has_value()) {
    sr.Error(sr.pos(), "segment", "set exactly one of enter, exit");
  }
  if (auto& v = enter ? enter : exit) {
    trig.enter = enter.has_value();
    trig.segment = v->value;
    if (!set_.FindSegment(v->value)) {
      sr.Error(v->pos, enter ? "enter" : "exit",
               "unknown segment '" + v->value + "' (declare it as a [[segment]])");
    }
  }
  sr.Finish();
}

// `segment = "vip"` of a schedule trigger: it sweeps only the segment's members.
void PortraitLoader::LoadSweep(TableReader& r, Trigger& trig) {
  auto v = r.String("segment");
  if (!v) {
    return;
  }
  if (trig.kind != TriggerKind::kSchedule) {
    r.Error(v->pos, "segment", "only on.schedule triggers take 'segment' (use on.segment)");
  } else if (!set_.FindSegment(v->value)) {
    r.Error(v->pos, "segment", "unknown segment '" + v->value + "' (declare it as a [[segment]])");
  } else {
    trig.segment = v->value;
  }
}

void PortraitLoader::MarkMarketing(const config::Config& config) {
  for (Trigger& t : set_.triggers) {
    const config::Purpose* purpose = config.FindPurpose(t.purpose);
    if (!purpose || !purpose->marketing) {
      continue;
    }
    std::vector<DerivedRead> direct;
    if (t.when) {
      CollectDerived(*t.when, direct);
    }
    if (!t.segment.empty()) {
      direct.push_back({"segments", t.segment, 0, ""});
    }
    if (t.kind == TriggerKind::kLifecycle) {
      direct.push_back({"lifecycle", "", 0, ""});
    }
    std::vector<DerivedRead> all = direct;
    for (const DerivedRead& d : direct) {
      for (IndirectRead& i : ReadsThrough(d, set_)) {
        if (i.field.empty()) {
          all.push_back(std::move(i.derived));
        }
      }
    }
    for (const DerivedRead& d : all) {
      if (d.kind == "segments" || d.kind == "scores" || d.kind == "predictions") {
        t.profiling = true;
      }
      if (d.kind == "segments") {
        for (Segment& s : set_.segments) {
          s.marketing = s.marketing || s.name == d.item;
        }
      }
    }
  }
}

}  // namespace portrait::rules
