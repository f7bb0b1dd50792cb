// The Engine's portrait: rule-driven tags, segment membership and its transitions (engine.h).
#include "rules/engine.h"

namespace portrait::rules {
namespace {

constexpr int64_t kMaxTransitions = int64_t{1} << 52;

// metrics[key], made an empty value of `type` (and the metrics an object) if it was not one.
nlohmann::json& Bookkeeping(nlohmann::json& metrics, const char* key,
                            nlohmann::json::value_t type) {
  if (!metrics.is_object()) {
    metrics = nlohmann::json::object();
  }
  nlohmann::json& at = metrics[key];
  if (at.type() != type) {
    at = nlohmann::json(type);
  }
  return at;
}

}  // namespace

bool Engine::Excluded(const Trigger& trigger, const ProfileFacts& profile) {
  return trigger.profiling && profile.objected_to_personalisation;
}

std::vector<std::string> Engine::RuleTags(const ProfileFacts& profile, int64_t now_us) const {
  std::vector<std::string> out;
  const Facts facts = FactsOf(profile, nullptr, now_us);
  for (const TagRule& t : rules_.tags) {
    if (Holds(t.when, facts)) {
      out.push_back(t.path);
    }
  }
  return out;
}

void Engine::UpdateTags(ProfileFacts& profile, int64_t now_us) const {
  nlohmann::json paths = nlohmann::json::array();
  for (std::string& path : RuleTags(profile, now_us)) {
    paths.push_back(std::move(path));
  }
  if (paths.empty() && !(profile.metrics.is_object() && profile.metrics.contains("$tags"))) {
    return;  // no bookkeeping for a rule set without tags
  }
  Bookkeeping(profile.metrics, "$tags", nlohmann::json::value_t::array) = std::move(paths);
}

std::vector<SegmentTransition> Engine::UpdateSegments(ProfileFacts& profile, int64_t now_us) const {
  std::vector<SegmentTransition> out;
  if (rules_.segments.empty()) {
    return out;
  }
  nlohmann::json& state =
      Bookkeeping(profile.metrics, "$segments", nlohmann::json::value_t::object);
  const Facts facts = FactsOf(profile, nullptr, now_us);  // its `segments` is `state`
  for (const Segment& s : rules_.segments) {
    const bool member =
        !(s.marketing && profile.objected_to_personalisation) && Holds(s.when, facts);
    if (member == IsMember(&state, s.name)) {
      continue;
    }
    auto it = state.find(s.name);
    int64_t count = it != state.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
    if (count < 0 || count > kMaxTransitions) {
      count = 0;  // not a count this engine wrote
    }
    // Odd: a member. A stored value of the wrong kind was read as 0 (not a member); when that
    // makes the next number's parity wrong, it steps one further.
    int64_t next = count + 1;
    if ((next % 2 != 0) != member) {
      ++next;
    }
    state[s.name] = next;
    out.push_back(SegmentTransition{s.name, member, next});
  }
  return out;
}

std::vector<std::string> Engine::Segments(const ProfileFacts& profile, int64_t now_us) const {
  ProfileFacts copy = profile;
  UpdateTags(copy, now_us);
  UpdateSegments(copy, now_us);
  std::vector<std::string> out;
  const auto state = copy.metrics.find("$segments");
  for (const Segment& s : rules_.segments) {
    if (state != copy.metrics.end() && IsMember(&*state, s.name)) {
      out.push_back(s.name);
    }
  }
  return out;
}

std::vector<Firing> Engine::SegmentFirings(const ProfileFacts& after,
                                           const std::vector<SegmentTransition>& transitions,
                                           int64_t now_us) const {
  std::vector<Firing> out;
  if (transitions.empty()) {
    return out;
  }
  const Facts facts = FactsOf(after, nullptr, now_us);
  for (const SegmentTransition& tr : transitions) {
    for (const Trigger* t : segment_) {
      if (t->segment != tr.segment || t->enter != tr.enter || Excluded(*t, after) ||
          (t->when && !Holds(*t->when, facts))) {
        continue;
      }
      const std::string occurrence =
          tr.segment + (tr.enter ? ":enter#" : ":exit#") + std::to_string(tr.number);
      out.push_back(Firing{t, DedupeKey(*t, after, now_us, occurrence), now_us});
    }
  }
  return out;
}

}  // namespace portrait::rules
