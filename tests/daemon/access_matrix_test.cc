// Role × purpose × field × consent state, generated from the shipped example config: no
// withheld field's value and no masked field's clear value ever appears in a view, and every
// field the policy allows does.
#include <gtest/gtest.h>

#include "consent/access_policy.h"
#include "consent/masking.h"
#include "tests/daemon/service_fixture.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

// Field values that are easy to spot anywhere in a response.
const json kValues = {{"name", "Markername Zhou"},
                      {"phone", "+8613912345678"},
                      {"email", "markeremail@example.com"},
                      {"city", "Markercity"},
                      {"birthday", "1987-06-15"},
                      {"gender", "female"},
                      {"health_note", "Markerhealth allergy"}};

// The strings that must not appear when a field is not shown in clear.
std::vector<std::string> ClearForms(const std::string& field) {
  if (field == "phone") {
    return {"+8613912345678", "13912345678"};
  }
  if (field == "birthday") {
    return {"1987-"};
  }
  if (field == "gender") {
    return {"\"female\""};
  }
  if (field == "email") {
    return {"markeremail"};
  }
  std::string v = kValues[field];
  return {v.substr(0, v.find(' ') == std::string::npos ? v.size() : v.find(' '))};
}

enum class State { kNone, kGranted, kWithdrawn, kObjected, kExpired };
constexpr State kStates[] = {State::kNone, State::kGranted, State::kWithdrawn, State::kObjected,
                             State::kExpired};

class AccessMatrix : public ServiceFixture {
 protected:
  // A profile whose ledger holds `state` for `purpose`, and sensitive consent if asked.
  std::string MakeProfile(const std::string& purpose, State state, bool sensitive) {
    const std::string id =
        "m-" + purpose + "-" + std::to_string(static_cast<int>(state)) + (sensitive ? "-s" : "");
    Caller admin = As("admin", "service");
    auto w = profiles_.Write(admin, id, {{"fields", kValues}});
    EXPECT_TRUE(w) << w.error().ToString();
    auto record = [&](json body) {
      auto r = consents_.Record(admin, id, body);
      EXPECT_TRUE(r) << r.error().ToString();
    };
    const std::string past = At(Now() - 3'600'000'000);
    switch (state) {
      case State::kNone:
        break;
      case State::kGranted:
        record({{"purpose", purpose}, {"channel", "any"}, {"status", "granted"}});
        break;
      case State::kWithdrawn:
        record({{"purpose", purpose}, {"status", "granted"}, {"time", past}});
        record({{"purpose", purpose}, {"status", "withdrawn"}});
        break;
      case State::kObjected:
        record({{"purpose", purpose}, {"status", "objected"}});
        break;
      case State::kExpired:
        record({{"purpose", purpose},
                {"status", "granted"},
                {"time", past},
                {"expires", At(Now() - 1'000'000)}});
        break;
    }
    if (sensitive) {
      record({{"purpose", purpose}, {"scope", "sensitive"}, {"status", "granted"}});
    }
    return id;
  }
};

TEST_F(AccessMatrix, NoViewEverShowsWhatThePolicyWithholds) {
  int field_cases = 0;
  int refused = 0;
  for (const config::Purpose& purpose : config_.purposes) {
    for (State state : kStates) {
      for (bool sensitive : {false, true}) {
        const std::string id = MakeProfile(purpose.name, state, sensitive);
        const bool basis = purpose.basis == config::LawfulBasis::kConsent
                               ? state == State::kGranted
                               : state != State::kObjected;
        for (const config::Role& role : config_.roles) {
          auto caller = MakeCaller(in_force_.Get(), "t", role.name, purpose.name);
          if (!caller) {
            EXPECT_EQ(caller.error().code(), Status::Code::kPermissionDenied);
            ++refused;
            continue;
          }
          auto view = profiles_.Read(*caller, id);
          if (!consent::HasPermission(role, "profiles.read")) {
            ASSERT_FALSE(view);
            EXPECT_EQ(view.error().code(), Status::Code::kPermissionDenied);
            ++refused;
            continue;
          }
          ASSERT_TRUE(view) << view.error().ToString();
          const std::string text = view->dump();
          for (const config::Field& field : config_.fields) {
            ++field_cases;
            consent::Access access = consent::FieldAccess(role, purpose, field.name);
            bool shown = basis && access != consent::Access::kWithheld &&
                         (field.field_class != config::FieldClass::kSensitive || sensitive);
            const std::string where = role.name + "/" + purpose.name + "/" + field.name +
                                      " state " + std::to_string(static_cast<int>(state)) +
                                      (sensitive ? " +sensitive" : "");
            if (shown && access == consent::Access::kClear) {
              EXPECT_EQ(view->at("fields").value(field.name, json()), kValues[field.name]) << where;
              continue;
            }
            for (const std::string& clear : ClearForms(field.name)) {
              EXPECT_EQ(text.find(clear), std::string::npos) << where << " leaks " << clear;
            }
            if (shown) {  // masked
              EXPECT_EQ(view->at("fields").value(field.name, json()),
                        consent::Mask(field.mask, kValues[field.name]))
                  << where;
            } else {
              EXPECT_FALSE(view->at("fields").contains(field.name)) << where;
            }
          }
        }
      }
    }
  }
  EXPECT_GE(field_cases, 400);
  EXPECT_GT(refused, 0);
  std::cout << field_cases << " field cases checked, " << refused << " requests refused\n";
}

}  // namespace
}  // namespace portrait::daemon
