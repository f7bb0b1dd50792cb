// Lexer for rule expressions: splits a `when` expression into tokens (numbers, durations such as
// 2h, dates, RFC 3339 times, quoted strings, names and operators), each with its byte offset.
// Internal to the expression parser (expression_parser.cc). Not thread-safe; cheap to make.
#pragma once

#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "rules/expression.h"

namespace portrait::rules {

enum class Tok { kEnd, kNumber, kDuration, kDate, kTime, kString, kName, kOp };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  // the name, operator, or the string literal's contents
  Value value;       // literals
  int offset = 0;
  int length = 0;
};

// Whether `c` may continue a name (letters, digits, '_' and '.': `fields.name` is one name).
bool IsNameChar(char c);

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  // The next token; a kEnd token at the end of the text; an error naming the offset.
  tl::expected<Token, ExprError> Next();

 private:
  Token Finish(Token& t, Tok kind, size_t end);
  tl::expected<Token, ExprError> Number(Token& t);
  tl::expected<Token, ExprError> String(Token& t, char quote);

  std::string_view src_;
  size_t pos_ = 0;
};

}  // namespace portrait::rules
