// Ingestor: the base-wide re-evaluation's check, off the writer (DECISIONS 120). It reads a
// range of profiles in one snapshot (Store::PortraitInputsAfter), opens what the portrait reads
// of each — tags, metrics and the fields a stage, [[tag]], [[segment]] or anniversary trigger
// names (a segments-only check opens a field only when a condition reads it), never the
// external id — and runs on a copy the steps the writer's pass runs
// (IngestGroup: Repair, Reevaluate, ReconcileMembers, Rearm). Only the profiles for which
// they would store something, or fire a task, go to the writer.
#include <algorithm>

#include "base/in_two_halves.h"
#include "consent/ledger.h"
#include "daemon/ingest_group.h"
#include "daemon/ingestor.h"
#include "daemon/on_demand_fields.h"
#include "daemon/timer_rearm.h"
#include "rules/reads.h"
#include "store/portrait_digest.h"

namespace portrait::daemon {
namespace {

// The fields the whole portrait's pass reads: those named by a lifecycle stage's, a [[tag]]'s or
// a [[segment]]'s condition and, unless `anchored` (re-arming then reads the anchors, as the
// re-arm after a rule change does), the date fields of anniversary triggers.
std::vector<std::string> PortraitFields(const rules::RuleSet& set, bool anchored) {
  std::vector<std::string> out = rules::PortraitFields(set, rules::PassScope::kPortrait);
  for (const rules::Trigger& t : set.triggers) {
    if (t.kind == rules::TriggerKind::kAnniversary && !anchored) {
      out.push_back(t.field);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Whether `facts`' membership of a segment of `set` differs from its members-index rows
// `indexed` (ascending).
bool IndexDiffers(const rules::RuleSet& set, const rules::ProfileFacts& facts,
                  const std::vector<std::string>& indexed) {
  const nlohmann::json* counts = SegmentCounts(facts);  // looked up once
  for (const rules::Segment& s : set.segments) {
    if (rules::IsMember(counts, s.name) !=
        std::binary_search(indexed.begin(), indexed.end(), s.name)) {
      return true;
    }
  }
  return false;
}

// Whether the writer's pass would store anything for `facts` (opened as IngestGroup opens a
// profile) or fire a task, given its members-index rows `indexed` (ascending) and its timers.
bool WouldChange(const rules::Engine& engine, const rules::RuleSet& set, rules::ProfileFacts facts,
                 const std::vector<std::string>& indexed,
                 const std::vector<store::TimerRow>& timers, int64_t now_us) {
  if (!rules::RepairMetrics(set.metrics, facts.metrics).empty()) {
    return true;
  }
  const rules::EventOutcome out = engine.Reevaluate(facts, now_us);
  if (out.metrics != facts.metrics || out.lifecycle != facts.lifecycle || !out.fired.empty() ||
      !out.timers.empty() || !out.transitions.empty()) {
    return true;
  }
  if (IndexDiffers(set, facts, indexed)) {
    return true;
  }
  return !RearmTimers(engine, facts, timers, now_us, /*late_ok=*/false, /*membership_known=*/true)
              .empty();
}

// Whether the pass after a change of [[segment]]s alone would store anything for `facts`
// (docs/DECISIONS.md 178): a repair of a metric the segments read, a segment's transition, or
// members-index rows `indexed` that differ. Nothing else it stores can change unless a
// membership does, which the writer's pass then re-evaluates whole.
bool SegmentsWouldChange(const rules::Engine& engine, const rules::RuleSet& set,
                         rules::ProfileFacts& facts, const std::vector<std::string>& indexed,
                         int64_t now_us) {
  if (!rules::RepairMetrics(set.metrics, facts.metrics).empty()) {
    return true;
  }
  if (facts.derived) {
    facts.derived->Fill(facts, now_us);
  }
  return !engine.UpdateSegments(facts, now_us).empty() || IndexDiffers(set, facts, indexed);
}

// What one thread of the check keeps from profile to profile, so that reading a million digests
// reuses their allocations: a digest's parts, lent to the facts while they are judged.
struct DigestScratch {
  store::PortraitDigest digest;
  rules::ProfileFacts facts;
};

// Swaps the parts a digest holds between `p` and `f`: lends them, or takes them back.
void SwapParts(store::Profile& p, rules::ProfileFacts& f) {
  std::swap(f.id, p.id);
  std::swap(f.fields, p.fields);
  std::swap(f.metrics, p.metrics);
  std::swap(f.tags, p.tags);
  std::swap(f.lifecycle, p.lifecycle);
  std::swap(f.timezone, p.timezone);
}

}  // namespace

Result<CheckInputs> Ingestor::ReadForCheck(store::ProfileId after, int limit,
                                           std::optional<int> part, rules::PassScope scope) {
  CheckInputs read;
  read.rules = rules_.Get();
  read.scope = scope;
  const rules::RuleSet& set = read.rules->set;
  read.metrics = rules::PortraitMetrics(set, scope);
  store::PortraitRead what;
  if (scope == rules::PassScope::kSegments) {
    read.objection = std::any_of(set.segments.begin(), set.segments.end(),
                                 [](const rules::Segment& s) { return s.marketing; });
    read.derived = rules::ReadsDerivedValues(set, scope);
    what.fields = rules::PortraitFields(set, scope);
    what.timers = false;
    if (store_.KeepsDigests()) {
      read.digest_spec = what.digest_spec = store::DigestSpec(read.metrics, what.fields);
    }
  } else {
    read.objection = ReadsObjection(set);
    PORTRAIT_ASSIGN_OR_RETURN(read.anchored, AnchorsComplete(part));
    what.fields = PortraitFields(set, read.anchored);
  }
  if (read.objection) {
    what.consent_purpose = kPersonalisation;
  }
  PORTRAIT_ASSIGN_OR_RETURN(read.profiles, part ? store_.PortraitInputsIn(*part, after, limit, what)
                                                : store_.PortraitInputsAfter(after, limit, what));
  return read;
}

ReevaluationCheck Ingestor::Check(const CheckInputs& read) const {
  const std::vector<store::PortraitInputs>& inputs = read.profiles;
  const rules::RuleSet& set = read.rules->set;
  const bool anchored = read.anchored;
  // Fields opened only when a condition reads them (OnDemandFields): in a segments-only check,
  // which reads no anchored dates into the fields.
  const bool on_demand = read.scope == rules::PassScope::kSegments && !anchored;
  const bool objection = read.objection;
  ReevaluationCheck check;
  if (inputs.empty()) {
    return check;
  }
  check.last = inputs.back().row.id;
  check.checked = static_cast<int64_t>(inputs.size());
  const int64_t now = clock_.NowUs();
  const std::shared_ptr<const rules::DerivedValues> derived =
      make_derived_ && read.derived ? make_derived_(read.rules) : nullptr;
  std::vector<char> changed(inputs.size(), 0);
  std::vector<std::optional<store::DigestWrite>> digests(inputs.size());
  // What the conditions read beside the profile: its objection and the derived values.
  auto complete = [&](rules::ProfileFacts& facts, const store::PortraitInputs& in) {
    facts.objected_to_personalisation = false;
    if (objection) {
      std::vector<consent::ConsentRecord> ledger;
      for (const store::ConsentRow& row : in.consents) {
        ledger.push_back(ToRecord(row));
      }
      facts.objected_to_personalisation = Objected(ledger, now);
    }
    facts.derived = derived.get();
  };
  // Whether profile `i` goes to the writer; when it does not and was read without a digest
  // where digests are read, its digest goes to `digests[i]`.
  auto judge_one = [&](size_t i, DigestScratch& scratch) -> bool {
    const store::PortraitInputs& in = inputs[i];
    if (!in.digest.empty()) {
      store::PortraitDigest& digest = scratch.digest;
      if (const Status opened = vault_.OpenDigest(in, read.digest_spec, digest); !opened.ok()) {
        if (opened.code() == Status::Code::kNotFound) {
          return false;  // gone
        }
        // A digest that does not open is emptied, so the next pass reads the profile whole; the
        // writer opens it whole now.
        digests[i] = store::DigestWrite{in.row.id, in.digest_stamp, "", ""};
        return true;
      }
      rules::ProfileFacts& facts = scratch.facts;
      SwapParts(digest.profile, facts);
      complete(facts, in);
      const bool goes = SegmentsWouldChange(read.rules->engine, set, facts, digest.segments, now);
      SwapParts(digest.profile, facts);
      return goes;
    }
    Result<store::ProfileVault::OpenedPortrait> opened =
        on_demand ? vault_.OpenPortraitButFields(in, &read.metrics)
                  : vault_.OpenPortrait(in, &read.metrics).map([](store::Profile p) {
                      return store::ProfileVault::OpenedPortrait{std::move(p), {}};
                    });
    if (!opened) {
      // Gone (erased meanwhile): the writer would skip it too. Anything else: the writer
      // opens it and reports what is wrong.
      return opened.error().code() != Status::Code::kNotFound;
    }
    const OnDemandFields fields(opened->key, in.row.id, in.fields);
    // Its digest holds every field the segments name: all of them are opened.
    std::string digest_text;
    if (!read.digest_spec.empty()) {
      nlohmann::json named = nlohmann::json::object();
      for (const auto& [name, envelope] : in.fields) {
        if (const nlohmann::json* value = fields.Find(name)) {
          named[name] = *value;
        }
      }
      digest_text = store::DigestText(opened->profile, named, in.segments);
    }
    rules::ProfileFacts facts = FactsOf(std::move(opened->profile));
    if (on_demand) {
      facts.field_source = &fields;
    }
    if (anchored) {
      rules::ProfileFacts dates = AnchoredFacts(in.timers);
      for (auto& [field, date] : dates.fields.items()) {
        if (!facts.fields.contains(field)) {
          facts.fields[field] = std::move(date);
        }
      }
    }
    complete(facts, in);
    if (read.scope != rules::PassScope::kSegments) {
      return WouldChange(read.rules->engine, set, std::move(facts), in.segments, in.timers.timers,
                         now);
    }
    const bool goes =
        SegmentsWouldChange(read.rules->engine, set, facts, in.segments, now) || fields.failed();
    if (!goes && !digest_text.empty()) {
      if (Result<std::string> sealed = store::ProfileVault::SealDigest(
              opened->key, in.row.id, in.digest_stamp, read.digest_spec, digest_text)) {
        digests[i] =
            store::DigestWrite{in.row.id, in.digest_stamp, read.digest_spec, std::move(*sealed)};
      }
    }
    return goes;
  };
  // Opening and evaluating is most of the cost: half of the range on a second thread. A
  // profile whose check throws (out of memory) goes to the writer, whose jobs are guarded.
  InTwoHalves(inputs.size(), [&](size_t from, size_t to) {
    DigestScratch scratch;
    for (size_t i = from; i < to; ++i) {
      try {
        changed[i] = judge_one(i, scratch);
      } catch (const std::exception&) {
        changed[i] = 1;
        digests[i].reset();
      }
    }
  });
  for (std::optional<store::DigestWrite>& d : digests) {
    if (d) {
      check.digests.push_back(std::move(*d));
    }
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (changed[i]) {
      check.changed.push_back(inputs[i].row.id);
    }
  }
  return check;
}

}  // namespace portrait::daemon
