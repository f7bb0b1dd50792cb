// Message templates: text with {{fields.NAME}}, {{metrics.NAME}} and {{vars.NAME}}
// placeholders, each with an optional default: {{fields.name | default:'customer'}}. Unknown
// names are load errors. A missing value renders as its default, or as nothing. Immutable after
// parsing; thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "rules/evaluator.h"
#include "rules/expression.h"

namespace portrait::rules {

struct MessageTemplate {
  struct Part {
    std::string text;  // literal text, when `path` is empty
    std::string path;  // "fields.name", "metrics.spent", "vars.coupon"
    Expr expr;         // for fields and metrics
    std::string fallback;
    int offset = 0;
  };
  std::vector<Part> parts;

  // Field names the template reads, with offsets.
  std::vector<std::pair<std::string, int>> Fields() const;
  bool UsesProfileData() const;  // reads fields or metrics
};

tl::expected<MessageTemplate, ExprError> ParseTemplate(
    std::string_view text, const Schema& schema, const std::map<std::string, std::string>& vars);

std::string Render(const MessageTemplate& message, const Facts& facts,
                   const std::map<std::string, std::string>& vars);

// A value as message text: numbers without needless decimals, dates YYYY-MM-DD, times RFC 3339.
std::string ToText(const Value& value);

}  // namespace portrait::rules
