// Lexer for rule expressions (see expression_lexer.h).
#include "rules/expression_lexer.h"

#include <cctype>
#include <charconv>
#include <cmath>

#include "base/time_format.h"

namespace portrait::rules {
namespace {

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
}

tl::expected<Token, ExprError> Lexer::Next() {
  while (pos_ < src_.size() && std::isspace(static_cast<unsigned char>(src_[pos_]))) {
    ++pos_;
  }
  Token t;
  t.offset = static_cast<int>(pos_);
  if (pos_ >= src_.size()) {
    return t;
  }
  const char c = src_[pos_];
  if (IsDigit(c)) {
    return Number(t);
  }
  if (c == '\'' || c == '"') {
    return String(t, c);
  }
  if (IsNameStart(c)) {
    size_t end = pos_;
    while (end < src_.size() && IsNameChar(src_[end])) {
      ++end;
    }
    return Finish(t, Tok::kName, end);
  }
  for (std::string_view op : {"==", "!=", "<=", ">="}) {
    if (src_.substr(pos_, 2) == op) {
      return Finish(t, Tok::kOp, pos_ + 2);
    }
  }
  if (std::string_view("<>+-*/%()[],").find(c) != std::string_view::npos) {
    return Finish(t, Tok::kOp, pos_ + 1);
  }
  return tl::unexpected(ExprError{t.offset, std::string("unexpected character '") + c + "'"});
}

Token Lexer::Finish(Token& t, Tok kind, size_t end) {
  t.kind = kind;
  t.text = std::string(src_.substr(pos_, end - pos_));
  t.length = static_cast<int>(end - pos_);
  pos_ = end;
  return t;
}

tl::expected<Token, ExprError> Lexer::Number(Token& t) {
  size_t end = pos_;
  while (end < src_.size() &&
         (IsDigit(src_[end]) || src_[end] == '.' || src_[end] == '-' || src_[end] == ':' ||
          src_[end] == 'T' || src_[end] == 'Z' || src_[end] == '+')) {
    // Dates and times contain '-', ':', 'T', 'Z', '+'; only take them in that shape.
    if ((src_[end] == '-' || src_[end] == 'T' || src_[end] == ':' || src_[end] == 'Z' ||
         src_[end] == '+') &&
        !(end - pos_ >= 4 && src_.size() - pos_ >= 10 && src_[pos_ + 4] == '-')) {
      break;
    }
    ++end;
  }
  std::string_view text = src_.substr(pos_, end - pos_);
  if (text.size() >= 10 && text[4] == '-') {
    int32_t days = 0;
    if (text.size() == 10 && ParseIsoDate(text, &days)) {
      Finish(t, Tok::kDate, end);
      t.value = Value::Date(days);
      return t;
    }
    auto time = ParseRfc3339(text);
    if (time) {
      Finish(t, Tok::kTime, end);
      t.value = Value::Time(*time);
      return t;
    }
    return tl::unexpected(ExprError{t.offset, "'" + std::string(text) +
                                                  "' is neither a date YYYY-MM-DD nor an "
                                                  "RFC 3339 time"});
  }
  // A duration: digits immediately followed by a unit letter and no more name characters.
  size_t digits = pos_;
  while (digits < src_.size() && IsDigit(src_[digits])) {
    ++digits;
  }
  if (digits < src_.size() &&
      std::string_view("smhdwy").find(src_[digits]) != std::string_view::npos &&
      (digits + 1 >= src_.size() || !IsNameChar(src_[digits + 1]))) {
    int64_t n = 0;
    std::from_chars(src_.data() + pos_, src_.data() + digits, n);
    static const std::string_view kUnits = "smhdwy";
    static const int64_t kSeconds[] = {1, 60, 3600, 86400, 7 * 86400, 365 * 86400};
    int64_t unit = kSeconds[kUnits.find(src_[digits])];
    if (n > (int64_t{1} << 40) / unit) {
      return tl::unexpected(ExprError{t.offset, "duration too long"});
    }
    Finish(t, Tok::kDuration, digits + 1);
    t.value = Value::Duration(n * unit * 1'000'000);
    return t;
  }
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v)) {
    return tl::unexpected(ExprError{t.offset, "'" + std::string(text) + "' is not a number"});
  }
  Finish(t, Tok::kNumber, end);
  t.value = Value::Number(v);
  return t;
}

tl::expected<Token, ExprError> Lexer::String(Token& t, char quote) {
  std::string out;
  size_t i = pos_ + 1;
  for (; i < src_.size() && src_[i] != quote; ++i) {
    if (src_[i] == '\\' && i + 1 < src_.size()) {
      ++i;
    }
    out += src_[i];
  }
  if (i >= src_.size()) {
    return tl::unexpected(ExprError{t.offset, "unterminated string"});
  }
  Finish(t, Tok::kString, i + 1);
  t.value = Value::String(out);
  t.text = std::move(out);
  return t;
}

}  // namespace portrait::rules
