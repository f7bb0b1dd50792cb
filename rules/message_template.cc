#include "rules/message_template.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "base/time_format.h"
#include "rules/calendar.h"

namespace portrait::rules {
namespace {

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(' ');
  size_t e = s.find_last_not_of(' ');
  return b == std::string_view::npos ? "" : std::string(s.substr(b, e - b + 1));
}

}  // namespace

std::vector<std::pair<std::string, int>> MessageTemplate::Fields() const {
  std::vector<std::pair<std::string, int>> out;
  for (const Part& p : parts) {
    if (p.path.rfind("fields.", 0) == 0) {
      out.emplace_back(p.expr.name, p.offset);
    }
  }
  return out;
}

bool MessageTemplate::UsesProfileData() const {
  for (const Part& p : parts) {
    if (p.path.rfind("fields.", 0) == 0 || p.path.rfind("metrics.", 0) == 0) {
      return true;
    }
  }
  return false;
}

tl::expected<MessageTemplate, ExprError> ParseTemplate(
    std::string_view text, const Schema& schema, const std::map<std::string, std::string>& vars) {
  MessageTemplate t;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      t.parts.emplace_back().text = std::string(text.substr(pos));
      break;
    }
    if (open > pos) {
      t.parts.emplace_back().text = std::string(text.substr(pos, open - pos));
    }
    size_t close = text.find("}}", open);
    if (close == std::string_view::npos) {
      return tl::unexpected(ExprError{static_cast<int>(open), "'{{' without a closing '}}'"});
    }
    std::string_view inner = text.substr(open + 2, close - open - 2);
    MessageTemplate::Part part;
    part.offset = static_cast<int>(open + 2);
    size_t bar = inner.find('|');
    part.path = Trim(inner.substr(0, bar));
    if (bar != std::string_view::npos) {
      std::string filter = Trim(inner.substr(bar + 1));
      if (filter.rfind("default:", 0) != 0 || filter.size() < 10 ||
          (filter[8] != '\'' && filter[8] != '"') || filter.back() != filter[8]) {
        return tl::unexpected(ExprError{part.offset, "expected | default:'text'"});
      }
      part.fallback = filter.substr(9, filter.size() - 10);
    }
    if (part.path.rfind("vars.", 0) == 0) {
      if (!vars.contains(part.path.substr(5))) {
        return tl::unexpected(ExprError{part.offset, "unknown variable '" + part.path.substr(5) +
                                                         "' (declare it in the trigger's vars)"});
      }
    } else if (part.path.rfind("fields.", 0) == 0 || part.path.rfind("metrics.", 0) == 0) {
      // One name, nothing else: an expression here would read what the access checks of the
      // placeholder (its field or metric) never see.
      const bool one_name = std::all_of(part.path.begin(), part.path.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
      });
      if (!one_name) {
        return tl::unexpected(ExprError{part.offset, "a placeholder is one name"});
      }
      auto e = ParseExpression(part.path + " != null", schema);
      if (!e) {
        return tl::unexpected(ExprError{part.offset, e.error().message});
      }
      if (e->args.size() != 2 || e->args[0].kind != Expr::Kind::kPath) {
        return tl::unexpected(ExprError{part.offset, "a placeholder is one name"});
      }
      part.expr = std::move(e->args[0]);
    } else {
      return tl::unexpected(ExprError{
          part.offset, "unknown placeholder '" + part.path + "' (fields.X, metrics.X or vars.X)"});
    }
    t.parts.push_back(std::move(part));
    pos = close + 2;
  }
  return t;
}

std::string ToText(const Value& v) {
  switch (v.type) {
    case Type::kString:
      return v.s;
    case Type::kBool:
      return v.b ? "true" : "false";
    case Type::kNumber: {
      if (std::floor(v.n) == v.n && std::fabs(v.n) < 1e15) {
        return std::to_string(static_cast<int64_t>(v.n));
      }
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2f", v.n);
      return buf;
    }
    case Type::kDate:
      return FormatDate(v.days);
    case Type::kTime:
      return FormatRfc3339(v.us);
    default:
      return "";
  }
}

std::string Render(const MessageTemplate& message, const Facts& facts,
                   const std::map<std::string, std::string>& vars) {
  std::string out;
  for (const auto& part : message.parts) {
    if (part.path.empty()) {
      out += part.text;
    } else if (part.path.rfind("vars.", 0) == 0) {
      out += vars.at(part.path.substr(5));
    } else {
      std::string text = ToText(Evaluate(part.expr, facts));
      out += text.empty() ? part.fallback : text;
    }
  }
  return out;
}

}  // namespace portrait::rules
