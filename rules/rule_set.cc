#include "rules/rule_set.h"

#include <algorithm>
#include <set>

#include "base/duration.h"
#include "config/channel.h"
#include "config/toml_reader.h"
#include "rules/portrait_rules.h"
#include "rules/reads.h"

namespace portrait::rules {
namespace {

using config::Diagnostics;
using config::Located;
using config::SourcePos;
using config::TableReader;

bool Contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// " (through segment 'vip' -> tag 'value/high')", or nothing for a direct read.
std::string Through(std::string_view via) {
  return via.empty() ? "" : " (through " + std::string(via) + ")";
}

class RuleLoader {
 public:
  explicit RuleLoader(const config::Config& config) : config_(config) {}

  Result<RuleSet> Load(const std::vector<config::SourceFile>& files) {
    std::vector<std::unique_ptr<Diagnostics>> diags;
    std::vector<toml::table> tables;
    for (const auto& file : files) {
      diags.push_back(std::make_unique<Diagnostics>(file.path));
      std::optional<toml::table> table = ParseToml(file.text, *diags.back());
      tables.push_back(table ? std::move(*table) : toml::table{});
    }
    // Metrics first, from every file, so triggers anywhere may use them; then stages; then
    // triggers.
    std::vector<std::unique_ptr<TableReader>> tops;
    for (size_t i = 0; i < tables.size(); ++i) {
      tops.push_back(std::make_unique<TableReader>(tables[i], "rule file", *diags[i]));
      for (const toml::table* t : tops[i]->Tables("metric")) {
        LoadMetric(*t, *diags[i]);
      }
    }
    schema_.config = &config_;
    schema_.metrics = set_.MetricTypes();
    LoadPortrait(tops, diags);
    for (size_t i = 0; i < tables.size(); ++i) {
      for (const toml::table* t : tops[i]->Tables("trigger")) {
        LoadTrigger(*t, *diags[i]);
      }
      tops[i]->Finish();
    }
    portrait_.MarkMarketing(config_);
    std::string all;
    for (const auto& d : diags) {
      Status s = d->ToStatus();
      if (!s.ok()) {
        all += all.empty() ? s.message() : "\n" + s.message();
      }
    }
    if (!all.empty()) {
      return Error(Status::InvalidArgument(all));
    }
    return std::move(set_);
  }

 private:
  // Scores and models (over the metrics), rule-driven tags, lifecycle stages, then segments (in
  // dependency order): each may use what comes before it.
  void LoadPortrait(const std::vector<std::unique_ptr<TableReader>>& tops,
                    const std::vector<std::unique_ptr<Diagnostics>>& diags) {
    std::vector<const toml::table*> segments;
    for (size_t i = 0; i < tops.size(); ++i) {
      for (const toml::table* t : tops[i]->Tables("score")) {
        portrait_.LoadScore(*t, *diags[i]);
      }
      for (const toml::table* t : tops[i]->Tables("model")) {
        portrait_.LoadModel(*t, *diags[i], config_);
      }
      for (const toml::table* t : tops[i]->Tables("segment")) {
        segments.push_back(t);
      }
    }
    portrait_.AddNames(segments, schema_);
    for (size_t i = 0; i < tops.size(); ++i) {
      for (const toml::table* t : tops[i]->Tables("tag")) {
        portrait_.LoadTag(*t, *diags[i], schema_);
      }
    }
    for (size_t i = 0; i < tops.size(); ++i) {
      for (const toml::table* t : tops[i]->Tables("lifecycle")) {
        LoadStage(*t, *diags[i]);
      }
    }
    for (size_t i = 0; i < tops.size(); ++i) {
      for (const toml::table* t : tops[i]->Tables("segment")) {
        portrait_.LoadSegment(*t, *diags[i], schema_);
      }
    }
    if (!diags.empty()) {
      portrait_.OrderSegments(*diags.front());
    }
  }

  void LoadMetric(const toml::table& t, Diagnostics& diag) {
    TableReader r(t, "[[metric]]", diag);
    Metric m;
    m.pos = r.pos();
    auto name = r.String("name", true);
    if (name) {
      m.name = name->value;
      r.set_context("metric '" + m.name + "'");
      if (std::any_of(set_.metrics.begin(), set_.metrics.end(),
                      [&](const Metric& o) { return o.name == m.name; })) {
        r.Error(name->pos, "name", "duplicate metric name");
      }
    }
    static const std::pair<const char*, MetricKind> kKinds[] = {
        {"count", MetricKind::kCount}, {"sum", MetricKind::kSum},   {"min", MetricKind::kMin},
        {"max", MetricKind::kMax},     {"last", MetricKind::kLast}, {"top", MetricKind::kTop}};
    int kinds = 0;
    for (const auto& [key, kind] : kKinds) {
      auto v = r.String(key);
      if (!v) {
        continue;
      }
      ++kinds;
      m.kind = kind;
      auto colon = v->value.find(':');
      m.event_type = v->value.substr(0, colon);
      m.key = colon == std::string::npos ? "" : v->value.substr(colon + 1);
      bool needs_key = kind == MetricKind::kSum || kind == MetricKind::kMin ||
                       kind == MetricKind::kMax || kind == MetricKind::kTop;
      if (m.event_type.empty() || (needs_key && m.key.empty()) ||
          (kind == MetricKind::kCount && !m.key.empty())) {
        r.Error(v->pos, key,
                needs_key ? "expected \"EVENT_TYPE:DATA_KEY\", e.g. \"order.placed:amount\""
                          : "expected an event type, e.g. \"order.placed\"");
      }
    }
    if (kinds != 1) {
      diag.Add(m.pos, "[[metric]]: set exactly one of count, sum, min, max, last, top");
    }
    r.Finish();
    if (name) {
      set_.metrics.push_back(std::move(m));
    }
  }

  void LoadStage(const toml::table& t, Diagnostics& diag) {
    TableReader r(t, "[[lifecycle]]", diag);
    LifecycleStage s;
    s.pos = r.pos();
    auto stage = r.String("stage", true);
    auto when = r.String("when", true);
    if (stage && when) {
      s.stage = stage->value;
      r.set_context("lifecycle stage '" + s.stage + "'");
      s.source = when->value;
      if (auto e = Condition(r, *when, "when", schema_)) {
        std::vector<DerivedRead> reads;
        CollectDerived(*e, reads);
        for (const DerivedRead& d : reads) {
          if (d.kind == "segments") {
            r.Error(At(when->pos, d.offset), "when",
                    "a lifecycle stage may not read segments (they are computed after it)");
          }
        }
        s.when = std::move(*e);
        set_.lifecycle.push_back(std::move(s));
      }
    }
    r.Finish();
  }

  bool KnownStage(std::string_view stage) const {
    return std::any_of(set_.lifecycle.begin(), set_.lifecycle.end(),
                       [&](const LifecycleStage& s) { return s.stage == stage; });
  }

  void LoadAbsence(const toml::table& a, Trigger& trig, Diagnostics& diag) {
    trig.kind = TriggerKind::kAbsence;
    TableReader ar(a, "trigger '" + trig.id + "' on.absence", diag);
    trig.after = ar.String("after", true).value_or(Located{}).value;
    trig.missing = ar.String("missing", true).value_or(Located{}).value;
    if (auto within = ar.String("within", true)) {
      auto d = ParseDuration(within->value);
      if (!d || d->count() == 0) {
        ar.Error(within->pos, "within", d ? "must be longer than zero" : d.error().message());
      } else {
        trig.within_us = d->count() * 1'000'000;
      }
    }
    ar.Finish();
  }

  void LoadLifecycle(const toml::table& l, Trigger& trig, Diagnostics& diag) {
    trig.kind = TriggerKind::kLifecycle;
    TableReader lr(l, "trigger '" + trig.id + "' on.lifecycle", diag);
    for (const char* key : {"from", "to"}) {
      if (auto v = lr.String(key)) {
        (std::string_view(key) == "from" ? trig.from : trig.to) = v->value;
        if (!KnownStage(v->value)) {
          lr.Error(v->pos, key, "unknown lifecycle stage '" + v->value + "'");
        }
      }
    }
    lr.Finish();
  }

  void LoadOn(TableReader& r, const toml::table& on, Trigger& trig, Diagnostics& diag) {
    TableReader o(on, "trigger '" + trig.id + "' on", diag);
    int kinds = 0;
    if (auto v = o.String("event")) {
      ++kinds;
      trig.kind = TriggerKind::kEvent;
      trig.event_type = v->value;
    }
    if (const toml::table* a = o.Table("absence")) {
      ++kinds;
      LoadAbsence(*a, trig, diag);
    }
    if (auto v = o.String("anniversary")) {
      ++kinds;
      trig.kind = TriggerKind::kAnniversary;
      trig.field = v->value;
      const config::Field* f = config_.FindField(v->value);
      if (!f || f->type != config::FieldType::kDate) {
        o.Error(v->pos, "anniversary", "'" + v->value + "' is not a date field of the config");
      }
      trig.sensitive = trig.sensitive || (f && f->field_class == config::FieldClass::kSensitive);
    }
    if (const toml::table* l = o.Table("lifecycle")) {
      ++kinds;
      LoadLifecycle(*l, trig, diag);
    }
    if (auto v = o.String("schedule")) {
      ++kinds;
      trig.kind = TriggerKind::kSchedule;
      auto cron = ParseCron(v->value);
      if (!cron) {
        o.Error(v->pos, "schedule", cron.error());
      } else {
        trig.cron = *cron;
      }
    }
    if (const toml::table* s = o.Table("segment")) {
      ++kinds;
      portrait_.LoadSegmentOn(*s, trig, diag);
    }
    LoadAnniversaryOptions(o, trig);
    if (kinds != 1) {
      r.Error(r.PosOf("on"), "on",
              "set exactly one of on.event, on.absence, on.anniversary, on.lifecycle, "
              "on.schedule, on.segment");
    }
    o.Finish();
  }

  void LoadAnniversaryOptions(TableReader& o, Trigger& trig) {
    const bool anniversary = trig.kind == TriggerKind::kAnniversary;
    if (auto v = o.String("offset")) {
      auto negative = !v->value.empty() && v->value[0] == '-';
      auto d = ParseDuration(negative ? v->value.substr(1) : v->value);
      if (!anniversary) {
        o.Error(v->pos, "offset", "only anniversary triggers take an offset");
      } else if (!d || d->count() % 86400 != 0) {
        o.Error(v->pos, "offset", "expected whole days, e.g. \"-1d\" or \"7d\"");
      } else {
        trig.anniversary.offset_days = static_cast<int>(d->count() / 86400) * (negative ? -1 : 1);
      }
    }
    if (auto v = o.String("at")) {
      const std::string& s = v->value;
      bool ok = s.size() == 5 && s[2] == ':' && std::isdigit(s[0]) && std::isdigit(s[1]) &&
                std::isdigit(s[3]) && std::isdigit(s[4]);
      int minutes =
          ok ? ((s[0] - '0') * 10 + (s[1] - '0')) * 60 + (s[3] - '0') * 10 + (s[4] - '0') : -1;
      if (!anniversary) {
        o.Error(v->pos, "at", "only anniversary triggers take 'at'");
      } else if (!ok || minutes >= 24 * 60 || (s[3] - '0') >= 6) {
        o.Error(v->pos, "at", "expected a local time HH:MM, e.g. \"09:00\"");
      } else {
        trig.anniversary.at_minutes = minutes;
      }
    }
    if (auto leap = o.Enum<LeapDay>(
            "leap_day",
            {{"feb28", LeapDay::kFeb28}, {"mar1", LeapDay::kMar1}, {"skip", LeapDay::kSkip}})) {
      if (!anniversary) {
        o.Error(o.PosOf("leap_day"), "leap_day", "only anniversary triggers take leap_day");
      }
      trig.anniversary.leap_day = *leap;
    }
  }

  // The policy check for one field a trigger reads or sends; marks the trigger sensitive when
  // the field is.
  void CheckField(TableReader& r, Trigger& trig, const config::Purpose* purpose,
                  const std::string& field, const SourcePos& pos, std::string_view key,
                  std::string_view via = {}) {
    const config::Field* f = config_.FindField(field);
    trig.sensitive = trig.sensitive || (f && f->field_class == config::FieldClass::kSensitive);
    if (!purpose) {
      return;
    }
    const std::string through = Through(via);
    if (!f) {
      r.Error(pos, key, "unknown field '" + field + "'" + through);
    } else if (Contains(purpose->masked, field)) {
      r.Error(pos, key,
              "field '" + field + "'" + through + " is only visible masked to purpose '" +
                  purpose->name + "'; a trigger may not read or send it");
    } else if (!Contains(purpose->fields, field)) {
      r.Error(pos, key,
              "field '" + field + "'" + through + " is not among purpose '" + purpose->name +
                  "' fields (data minimisation); add it there or drop it here");
    } else if (f->field_class == config::FieldClass::kSensitive && !purpose->sensitive) {
      r.Error(pos, key,
              "field '" + field + "'" + through + " is sensitive and purpose '" + purpose->name +
                  "' does not declare sensitive = true");
    }
  }

  // The purpose's `derived` check for one piece of derived data a trigger reads.
  void CheckDerived(TableReader& r, const config::Purpose* purpose, const DerivedRead& read,
                    const SourcePos& pos, std::string_view key, std::string_view via = {}) {
    if (!purpose || (read.kind == "tags" && !read.item.empty()
                         ? purpose->derived.AllowsTag(read.item)
                         : purpose->derived.Allows(read.kind, read.item))) {
      return;
    }
    const std::string what = read.item.empty() ? read.kind : read.kind + "." + read.item;
    r.Error(pos, key,
            "reads " + what + Through(via) + ", which purpose '" + purpose->name +
                "' may not use; add \"" + what + "\" (or \"" + read.kind +
                "\") to its derived list, or drop it here");
  }

  // The check of one piece of derived data the trigger's decision reads, and of everything read
  // through it (a segment's or a rule-driven tag's conditions, transitively), at the use site.
  void CheckUse(TableReader& r, Trigger& trig, const config::Purpose* purpose,
                const DerivedRead& read, const SourcePos& pos, std::string_view key) {
    CheckDerived(r, purpose, read, pos, key);
    std::set<std::string> reported;
    for (const IndirectRead& i : ReadsThrough(read, set_)) {
      const std::string what = i.field.empty()
                                   ? i.derived.kind + "." + i.derived.item + "/" + i.derived.tag
                                   : "fields." + i.field;
      if (!reported.insert(what).second) {
        continue;
      }
      if (!i.field.empty()) {
        CheckField(r, trig, purpose, i.field, pos, key, i.via);
      } else {
        CheckDerived(r, purpose, i.derived, pos, key, i.via);
      }
    }
  }

  std::optional<MessageTemplate> Message(TableReader& r, const Located& text, const char* key,
                                         const Trigger& trig) {
    auto m = ParseTemplate(text.value, schema_, trig.vars);
    if (!m) {
      r.Error(At(text.pos, m.error().offset), key, m.error().message);
      return std::nullopt;
    }
    return std::move(*m);
  }

  void LoadTrigger(const toml::table& t, Diagnostics& diag) {
    TableReader r(t, "[[trigger]]", diag);
    Trigger trig;
    trig.pos = r.pos();
    auto id = r.String("id", true);
    if (id) {
      trig.id = id->value;
      r.set_context("trigger '" + trig.id + "'");
      if (set_.FindTrigger(trig.id)) {
        r.Error(id->pos, "id", "duplicate trigger id");
      }
    }
    const config::Purpose* purpose = nullptr;
    if (auto p = r.String("purpose", true)) {
      trig.purpose = p->value;
      purpose = config_.FindPurpose(p->value);
      if (!purpose) {
        r.Error(p->pos, "purpose", "unknown purpose '" + p->value + "'");
      }
    }
    if (const toml::table* on = r.Table("on")) {
      LoadOn(r, *on, trig, diag);
    } else {
      r.Error(r.pos(), "on", "missing (required): what makes the trigger fire");
    }
    portrait_.LoadSweep(r, trig);
    LoadVars(r, trig, diag);
    LoadWhen(r, trig, purpose);
    LoadDelivery(r, trig);
    LoadMessages(r, trig, purpose);
    for (auto& f : r.Strings("fields").value_or(std::vector<Located>{})) {
      CheckField(r, trig, purpose, f.value, f.pos, "fields");  // the fields that travel
      trig.fields.push_back(f.value);
    }
    LoadRepetition(r, trig);
    r.Finish();
    if (id) {
      set_.triggers.push_back(std::move(trig));
    }
  }

  void LoadVars(TableReader& r, Trigger& trig, Diagnostics& diag) {
    if (const toml::table* vars = r.Table("vars")) {
      TableReader vr(*vars, "trigger '" + trig.id + "' vars", diag);
      for (const auto& [k, v] : *vars) {
        if (auto s = vr.String(k.str())) {
          trig.vars[std::string(k.str())] = s->value;
        }
      }
      vr.Finish();
    }
  }

  // `when`, and every field and piece of derived data the trigger's decision reads.
  void LoadWhen(TableReader& r, Trigger& trig, const config::Purpose* purpose) {
    Schema schema = schema_;
    schema.event = trig.kind == TriggerKind::kEvent;
    if (auto when = r.String("when")) {
      trig.when_source = when->value;
      trig.when = Condition(r, *when, "when", schema);
      std::vector<std::pair<std::string, int>> read;
      std::vector<DerivedRead> derived;
      if (trig.when) {
        CollectFields(*trig.when, read);
        CollectDerived(*trig.when, derived);
      }
      for (const auto& [field, offset] : read) {
        CheckField(r, trig, purpose, field, At(when->pos, offset), "when");
      }
      for (const DerivedRead& d : derived) {
        CheckUse(r, trig, purpose, d, At(when->pos, d.offset), "when");
      }
    }
    if (!trig.segment.empty()) {
      const bool on = trig.kind == TriggerKind::kSegment;
      CheckUse(r, trig, purpose, {"segments", trig.segment, 0, ""}, r.PosOf(on ? "on" : "segment"),
               on ? "on.segment" : "segment");
    }
    if (trig.kind == TriggerKind::kLifecycle) {
      CheckUse(r, trig, purpose, {"lifecycle", "", 0, ""}, r.PosOf("on"), "on.lifecycle");
    }
    if (trig.kind == TriggerKind::kAnniversary && config_.FindField(trig.field)) {
      CheckField(r, trig, purpose, trig.field, r.PosOf("on"), "on.anniversary");
    }
  }

  // What the task is and where it goes.
  void LoadDelivery(TableReader& r, Trigger& trig) {
    trig.task = r.String("task", true).value_or(Located{}).value;
    if (auto channel = r.String("channel", true)) {
      if (auto known = config::ParseTriggerChannel(channel->value); !known) {
        r.Error(channel->pos, "channel", known.error().message());
      }
      trig.channel = channel->value;
    }
    if (auto sink = r.String("sink", true)) {
      if (!config_.FindSink(sink->value)) {
        r.Error(sink->pos, "sink", "unknown sink '" + sink->value + "' (declare it as a [[sink]])");
      }
      trig.sink = sink->value;
    }
  }

  void LoadMessages(TableReader& r, Trigger& trig, const config::Purpose* purpose) {
    if (auto message = r.String("message", true)) {
      if (auto m = Message(r, *message, "message", trig)) {
        for (const auto& [field, offset] : m->Fields()) {
          CheckField(r, trig, purpose, field, At(message->pos, offset), "message");
        }
        for (const MessageTemplate::Part& part : m->parts) {
          if (part.path.rfind("metrics.", 0) == 0) {
            CheckDerived(r, purpose, {"metrics", part.expr.name, 0, ""},
                         At(message->pos, part.offset), "message");
          }
        }
        trig.message = std::move(*m);
      }
    }
    if (auto plain = r.String("message_plain")) {
      if (auto m = Message(r, *plain, "message_plain", trig)) {
        if (m->UsesProfileData()) {
          r.Error(plain->pos, "message_plain",
                  "is for customers who opted out of personalisation: only {{vars.X}} may be used");
        }
        trig.message_plain = std::move(*m);
      }
    }
  }

  void LoadRepetition(TableReader& r, Trigger& trig) {
    if (auto once = r.Enum<Once>("once", {{"per_profile", Once::kPerProfile},
                                          {"per_year", Once::kPerYear},
                                          {"per_month", Once::kPerMonth},
                                          {"per_day", Once::kPerDay}})) {
      trig.once = *once;
    }
    if (auto grace = r.String("grace")) {
      auto d = ParseDuration(grace->value);
      if (!d) {
        r.Error(grace->pos, "grace", d.error().message());
      } else {
        trig.grace_us = d->count() * 1'000'000;
      }
    }
  }

  const config::Config& config_;
  Schema schema_;
  RuleSet set_;
  PortraitLoader portrait_{set_};
};

}  // namespace

const Trigger* RuleSet::FindTrigger(std::string_view id) const {
  auto it =
      std::find_if(triggers.begin(), triggers.end(), [&](const Trigger& t) { return t.id == id; });
  return it == triggers.end() ? nullptr : &*it;
}

const Segment* RuleSet::FindSegment(std::string_view name) const {
  auto it = std::find_if(segments.begin(), segments.end(),
                         [&](const Segment& s) { return s.name == name; });
  return it == segments.end() ? nullptr : &*it;
}

const Metric* RuleSet::FindMetric(std::string_view name) const {
  auto it =
      std::find_if(metrics.begin(), metrics.end(), [&](const Metric& m) { return m.name == name; });
  return it == metrics.end() ? nullptr : &*it;
}

std::map<std::string, Type> RuleSet::MetricTypes() const {
  std::map<std::string, Type> out;
  for (const Metric& m : metrics) {
    out[m.name] = m.type();
  }
  return out;
}

Result<RuleSet> ParseRules(const std::vector<config::SourceFile>& files,
                           const config::Config& config) {
  return RuleLoader(config).Load(files);
}

}  // namespace portrait::rules
