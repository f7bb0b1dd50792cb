// A profile's fields as one role, acting for one purpose, may see them: clear fields copied,
// masked fields replaced by their mask (the clear value never enters the view), everything else
// left out and named in `withheld`. `withheld` lists every declared field the caller can't see,
// whether or not this profile has a value for it, so it reveals nothing about the profile.
// Pure; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/config.h"

namespace portrait::consent {

struct ProfileView {
  nlohmann::json fields = nlohmann::json::object();
  std::vector<std::string> masked;    // names of the fields shown masked
  std::vector<std::string> withheld;  // names of the declared fields not shown
};

// `fields`: the decrypted field values, name -> value.
ProfileView BuildView(const config::Config& config, const config::Role& role,
                      const config::Purpose& purpose, const nlohmann::json& fields);

// A profile's derived data as a purpose may use it (its `derived` declaration): the metrics it
// names (all of them for "metrics"), the tags under the roots it names (all for "tags"), and the
// lifecycle stage (null unless it declares "lifecycle"). What it may not use is left out, and so
// is every metric entry whose name starts with '$' (the rules engine's bookkeeping: "$top",
// "$last", "$tags", "$segments", "$purchases", …), whatever `derived` says. The metrics named in
// `time_metrics` (a `last` without a key: microseconds since 1970) are shown as RFC 3339 times;
// a stored value that is no integer time from 1970 to 9999 is shown as stored.
struct DerivedView {
  nlohmann::json metrics = nlohmann::json::object();
  std::vector<std::string> tags;
  nlohmann::json lifecycle;  // a string, or null
};

DerivedView BuildDerivedView(const config::Purpose& purpose, const nlohmann::json& metrics,
                             const std::vector<std::string>& tags, const std::string& lifecycle,
                             const std::vector<std::string>& time_metrics);

// `value` as a person reads a time metric: RFC 3339 when it is an integer count of microseconds
// from 1970 to the end of 9999, else `value` itself.
nlohmann::json ReadableTime(const nlohmann::json& value);

// The entries NAME -> value of `computed` (a profile's scores or predictions) that `purpose` may
// use: all of them for `kind` ("scores", "predictions") in its `derived` list, else those it
// names as KIND.NAME. What it may not use is left out.
nlohmann::json AllowedDerived(const config::Purpose& purpose, std::string_view kind,
                              const nlohmann::json& computed);

}  // namespace portrait::consent
