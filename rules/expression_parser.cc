// Lexer and Pratt parser with type checking for rule expressions (see expression.h).
#include <algorithm>
#include <optional>

#include "base/time_format.h"
#include "rules/expression.h"
#include "rules/expression_lexer.h"

namespace portrait::rules {
namespace {

Op CodeOf(std::string_view op) {
  static const std::pair<std::string_view, Op> kCodes[] = {{"and", Op::kAnd},
                                                           {"or", Op::kOr},
                                                           {"not", Op::kNot},
                                                           {"==", Op::kEq},
                                                           {"!=", Op::kNe},
                                                           {"<", Op::kLt},
                                                           {"<=", Op::kLe},
                                                           {">", Op::kGt},
                                                           {">=", Op::kGe},
                                                           {"in", Op::kIn},
                                                           {"+", Op::kAdd},
                                                           {"-", Op::kSub},
                                                           {"*", Op::kMul},
                                                           {"/", Op::kDiv},
                                                           {"%", Op::kMod},
                                                           {"now", Op::kNow},
                                                           {"days_since", Op::kDaysSince},
                                                           {"hours_since", Op::kHoursSince},
                                                           {"age", Op::kAge},
                                                           {"has_tag", Op::kHasTag},
                                                           {"lower", Op::kLower},
                                                           {"len", Op::kLen},
                                                           {"in_segment", Op::kInSegment}};
  for (const auto& [name, code] : kCodes) {
    if (name == op) {
      return code;
    }
  }
  return Op::kNone;
}

bool Orderable(Type t) {
  return t == Type::kNumber || t == Type::kString || t == Type::kTime || t == Type::kDuration ||
         t == Type::kDate || t == Type::kAny;
}
bool Fits(Type actual, std::initializer_list<Type> wanted) {
  if (actual == Type::kAny || actual == Type::kNull) {
    return true;
  }
  for (Type w : wanted) {
    if (actual == w) {
      return true;
    }
  }
  return false;
}

// The arithmetic the language knows: operator, left and right operand types, result.
struct Arithmetic {
  std::string_view op;
  Type left;
  Type right;
  Type result;
};
constexpr Arithmetic kArithmetic[] = {
    {"+", Type::kNumber, Type::kNumber, Type::kNumber},
    {"+", Type::kString, Type::kString, Type::kString},
    {"+", Type::kTime, Type::kDuration, Type::kTime},
    {"+", Type::kDuration, Type::kTime, Type::kTime},
    {"+", Type::kDuration, Type::kDuration, Type::kDuration},
    {"+", Type::kDate, Type::kDuration, Type::kDate},
    {"-", Type::kNumber, Type::kNumber, Type::kNumber},
    {"-", Type::kTime, Type::kDuration, Type::kTime},
    {"-", Type::kTime, Type::kTime, Type::kDuration},
    {"-", Type::kDuration, Type::kDuration, Type::kDuration},
    {"-", Type::kDate, Type::kDate, Type::kDuration},
    {"-", Type::kDate, Type::kDuration, Type::kDate},
    {"*", Type::kNumber, Type::kNumber, Type::kNumber},
    {"*", Type::kDuration, Type::kNumber, Type::kDuration},
    {"/", Type::kNumber, Type::kNumber, Type::kNumber},
    {"/", Type::kDuration, Type::kNumber, Type::kDuration},
    {"%", Type::kNumber, Type::kNumber, Type::kNumber},
};

// The type of `a op b`, or nothing when the operator can't combine the two. kAny (a value only
// known when evaluated: event data, a metric of no declared kind) passes the load-time check.
std::optional<Type> BinaryType(std::string_view op, Type a, Type b) {
  const bool any = a == Type::kAny || b == Type::kAny;
  if (op == "and" || op == "or") {
    return Fits(a, {Type::kBool}) && Fits(b, {Type::kBool}) ? std::optional(Type::kBool)
                                                            : std::nullopt;
  }
  if (op == "==" || op == "!=") {
    return any || a == b || a == Type::kNull || b == Type::kNull ? std::optional(Type::kBool)
                                                                 : std::nullopt;
  }
  if (op == "<" || op == "<=" || op == ">" || op == ">=") {
    return Orderable(a) && Orderable(b) && (any || a == b) ? std::optional(Type::kBool)
                                                           : std::nullopt;
  }
  if (op == "in") {
    return Fits(b, {Type::kList}) ? std::optional(Type::kBool) : std::nullopt;
  }
  if (any) {
    return Type::kAny;
  }
  for (const Arithmetic& rule : kArithmetic) {
    if (rule.op == op && rule.left == a && rule.right == b) {
      return rule.result;
    }
  }
  return std::nullopt;
}

class Parser {
 public:
  Parser(std::string_view src, const Schema& schema) : lexer_(src), src_(src), schema_(schema) {}

  tl::expected<Expr, ExprError> Parse() {
    if (src_.size() > kMaxExpressionLength) {
      return Fail(0, "expression longer than " + std::to_string(kMaxExpressionLength) + " bytes");
    }
    if (!Advance()) {
      return tl::unexpected(error_);
    }
    auto e = ParseExpr(0);
    if (!e) {
      return e;
    }
    if (tok_.kind != Tok::kEnd) {
      return Fail(tok_.offset, "unexpected '" + tok_.text + "' after a complete expression");
    }
    if (e->type != Type::kBool && e->type != Type::kAny) {
      return Fail(e->offset,
                  "a condition must be true or false, not a " + std::string(TypeName(e->type)));
    }
    return e;
  }

 private:
  tl::unexpected<ExprError> Fail(int offset, std::string message) {
    return tl::unexpected(ExprError{offset, std::move(message)});
  }

  bool Advance() {
    last_end_ = tok_.offset + tok_.length;
    auto t = lexer_.Next();
    if (!t) {
      error_ = t.error();
      return false;
    }
    tok_ = std::move(*t);
    return true;
  }
  bool IsOp(std::string_view op) const {
    return (tok_.kind == Tok::kOp || tok_.kind == Tok::kName) && tok_.text == op;
  }

  static int InfixPrecedence(const Token& t) {
    if (t.kind == Tok::kName) {
      if (t.text == "or") return 1;
      if (t.text == "and") return 2;
      if (t.text == "in") return 4;
      return 0;
    }
    if (t.kind != Tok::kOp) return 0;
    if (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == "<=" || t.text == ">" ||
        t.text == ">=") {
      return 4;
    }
    if (t.text == "+" || t.text == "-") return 5;
    if (t.text == "*" || t.text == "/" || t.text == "%") return 6;
    return 0;
  }

  tl::expected<Expr, ExprError> ParseExpr(int min_precedence) {
    if (++depth_ > kMaxNesting) {
      return Fail(tok_.offset,
                  "expression nested more than " + std::to_string(kMaxNesting) + " levels deep");
    }
    auto left = ParsePrefix();
    if (left) {
      left->length = last_end_ - left->offset;
    }
    while (left) {
      int prec = InfixPrecedence(tok_);
      if (prec == 0 || prec <= min_precedence) {
        break;
      }
      Token op = tok_;
      if (!Advance()) {
        return tl::unexpected(error_);
      }
      auto right = ParseExpr(prec);
      if (!right) {
        return right;
      }
      left = Binary(op, std::move(*left), std::move(*right));
      if (left) {
        left->length = last_end_ - left->offset;
      }
    }
    --depth_;
    return left;
  }

  tl::expected<Expr, ExprError> ParsePrefix() {
    Token t = tok_;
    if (t.kind == Tok::kEnd) {
      return Fail(t.offset, "expression ends too soon");
    }
    if (!Advance()) {
      return tl::unexpected(error_);
    }
    switch (t.kind) {
      case Tok::kNumber:
      case Tok::kDuration:
      case Tok::kDate:
      case Tok::kTime:
      case Tok::kString:
        return Literal(t, t.value);
      case Tok::kName:
        return Name(t);
      default:
        break;
    }
    if (t.text == "(") {
      auto inner = ParseExpr(0);
      if (!inner) {
        return inner;
      }
      if (!IsOp(")")) {
        return Fail(tok_.offset, "expected ')'");
      }
      if (!Advance()) {
        return tl::unexpected(error_);
      }
      return inner;
    }
    if (t.text == "-") {
      auto operand = ParseExpr(6);
      if (!operand) {
        return operand;
      }
      if (!Fits(operand->type, {Type::kNumber, Type::kDuration})) {
        return Fail(t.offset, "'-' needs a number or a duration");
      }
      Expr e = Node(Expr::Kind::kUnary, operand->type, t.offset);
      e.op = "-";
      e.code = Op::kNeg;
      e.args.push_back(std::move(*operand));
      return e;
    }
    if (t.text == "[") {
      return ListLiteral(t);
    }
    return Fail(t.offset, "unexpected '" + t.text + "'");
  }

  static Expr Literal(const Token& t, Value v) {
    Expr e = Node(Expr::Kind::kLiteral, v.type, t.offset, t.length);
    e.literal = std::move(v);
    return e;
  }

  tl::expected<Expr, ExprError> ListLiteral(const Token& open) {
    Expr e = Node(Expr::Kind::kList, Type::kList, open.offset);
    while (!IsOp("]")) {
      auto item = ParseExpr(0);
      if (!item) {
        return item;
      }
      e.args.push_back(std::move(*item));
      if (IsOp(",")) {
        if (!Advance()) {
          return tl::unexpected(error_);
        }
      } else if (!IsOp("]")) {
        return Fail(tok_.offset, "expected ',' or ']' in a list");
      }
    }
    if (!Advance()) {
      return tl::unexpected(error_);
    }
    return e;
  }

  tl::expected<Expr, ExprError> Name(const Token& t) {
    const std::string& n = t.text;
    if (n == "true" || n == "false") {
      return Literal(t, Value::Bool(n == "true"));
    }
    if (n == "null") {
      return Literal(t, Value::Null());
    }
    if (n == "not") {
      auto operand = ParseExpr(3);
      if (!operand) {
        return operand;
      }
      if (!Fits(operand->type, {Type::kBool})) {
        return Fail(t.offset,
                    "'not' needs a condition, not a " + std::string(TypeName(operand->type)));
      }
      Expr e = Node(Expr::Kind::kUnary, Type::kBool, t.offset);
      e.op = "not";
      e.code = Op::kNot;
      e.args.push_back(std::move(*operand));
      return e;
    }
    if (IsOp("(")) {
      return Call(t);
    }
    return Path(t);
  }

  tl::expected<Expr, ExprError> Path(const Token& t) {
    const std::string& n = t.text;
    Expr e = Node(Expr::Kind::kPath, Type::kAny, t.offset, t.length);
    auto rest = [&](std::string_view prefix) { return n.substr(prefix.size()); };
    if (n.rfind("fields.", 0) == 0) {
      const config::Field* f =
          schema_.config ? schema_.config->FindField(rest("fields.")) : nullptr;
      if (!f) {
        return Fail(t.offset, "unknown field '" + rest("fields.") + "'");
      }
      e.root = PathRoot::kField;
      e.name = f->name;
      e.type = FieldValueType(*f);
    } else if (n.rfind("metrics.", 0) == 0) {
      auto it = schema_.metrics.find(rest("metrics."));
      if (it == schema_.metrics.end()) {
        return Fail(t.offset,
                    "unknown metric '" + rest("metrics.") + "' (declare it as a [[metric]])");
      }
      e.root = PathRoot::kMetric;
      e.name = it->first;
      e.type = it->second;
    } else if (n == "tags") {
      e.root = PathRoot::kTags;
      e.type = Type::kList;
    } else if (n == "lifecycle" || n == "timezone") {
      e.root = n == "lifecycle" ? PathRoot::kLifecycle : PathRoot::kTimezone;
      e.type = Type::kString;
    } else if (n.rfind("scores.", 0) == 0 || n.rfind("predict.", 0) == 0) {
      return Derived(t, std::move(e));
    } else if (n.rfind("event.", 0) == 0) {
      if (!schema_.event) {
        return Fail(t.offset, "'" + n + "' is only available to on.event triggers");
      }
      if (n == "event.type") {
        e.root = PathRoot::kEventType;
        e.type = Type::kString;
      } else if (n == "event.time") {
        e.root = PathRoot::kEventTime;
        e.type = Type::kTime;
      } else if (n.rfind("event.data.", 0) == 0 && n.size() > 11) {
        e.root = PathRoot::kEventData;
        e.name = rest("event.data.");
      } else {
        return Fail(t.offset, "unknown name '" + n + "' (event.type, event.time, event.data.KEY)");
      }
    } else {
      return Fail(t.offset, "unknown name '" + n +
                                "' (fields.X, metrics.X, tags, lifecycle, timezone, scores.X.*, "
                                "predict.X.*, event.*)");
    }
    return e;
  }

  // scores.NAME.r|f|m|group or predict.NAME.p_alive|purchases_90d|value_1y.
  tl::expected<Expr, ExprError> Derived(const Token& t, Expr e) {
    const std::string& n = t.text;
    const bool score = n.rfind("scores.", 0) == 0;
    const std::string rest = n.substr(score ? 7 : 8);
    const size_t dot = rest.find('.');
    const std::string name = rest.substr(0, dot);
    const std::string key = dot == std::string::npos ? "" : rest.substr(dot + 1);
    const auto& known = score ? schema_.scores : schema_.models;
    if (known.find(name) == known.end()) {
      return Fail(t.offset, score ? "unknown score '" + name + "' (declare it as a [[score]])"
                                  : "unknown model '" + name + "' (declare it as a [[model]])");
    }
    static const std::vector<std::string_view> kScoreKeys = {"r", "f", "m", "group"};
    static const std::vector<std::string_view> kModelKeys = {"p_alive", "purchases_90d",
                                                             "value_1y"};
    const auto& keys = score ? kScoreKeys : kModelKeys;
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      return Fail(t.offset, score ? "unknown output of score '" + name + "' (r, f, m, group)"
                                  : "unknown output of model '" + name +
                                        "' (p_alive, purchases_90d, value_1y)");
    }
    e.root = score ? PathRoot::kScore : PathRoot::kPrediction;
    e.name = name;
    e.key = key;
    e.type = key == "group" ? Type::kString : Type::kNumber;
    return e;
  }

  tl::expected<Expr, ExprError> Call(const Token& t) {
    if (!Advance()) {  // '('
      return tl::unexpected(error_);
    }
    Expr e = Node(Expr::Kind::kCall, Type::kAny, t.offset);
    e.op = t.text;
    e.code = CodeOf(t.text);
    while (!IsOp(")")) {
      auto arg = ParseExpr(0);
      if (!arg) {
        return arg;
      }
      e.args.push_back(std::move(*arg));
      if (IsOp(",")) {
        if (!Advance()) {
          return tl::unexpected(error_);
        }
      } else if (!IsOp(")")) {
        return Fail(tok_.offset, "expected ',' or ')' in the call of " + t.text);
      }
    }
    if (!Advance()) {
      return tl::unexpected(error_);
    }
    struct Signature {
      std::string_view name;
      std::initializer_list<Type> arg;  // accepted types of its one argument; empty: none
      Type result;
    };
    static const Signature kFunctions[] = {
        {"now", {}, Type::kTime},
        {"days_since", {Type::kTime, Type::kDate}, Type::kNumber},
        {"hours_since", {Type::kTime}, Type::kNumber},
        {"age", {Type::kDate}, Type::kNumber},
        {"has_tag", {Type::kString}, Type::kBool},
        {"lower", {Type::kString}, Type::kString},
        {"len", {Type::kString, Type::kList}, Type::kNumber},
        {"in_segment", {Type::kString}, Type::kBool},
    };
    for (const Signature& s : kFunctions) {
      if (s.name != t.text) {
        continue;
      }
      size_t want = s.arg.size() == 0 ? 0 : 1;
      if (e.args.size() != want) {
        return Fail(t.offset, t.text + "() takes " + std::to_string(want) + " argument" +
                                  (want == 1 ? "" : "s"));
      }
      if (want == 1 && !Fits(e.args[0].type, s.arg)) {
        return Fail(e.args[0].offset,
                    t.text + "() does not take a " + std::string(TypeName(e.args[0].type)));
      }
      e.type = s.result;
      return e.code == Op::kInSegment ? KnownSegment(std::move(e))
                                      : tl::expected<Expr, ExprError>(std::move(e));
    }
    return Fail(t.offset, "unknown function '" + t.text +
                              "' (now, days_since, hours_since, age, has_tag, lower, len, "
                              "in_segment)");
  }

  // in_segment('NAME'): the name is a literal, so every use is known when the rules load.
  tl::expected<Expr, ExprError> KnownSegment(Expr e) {
    const Expr& arg = e.args[0];
    if (arg.kind != Expr::Kind::kLiteral || arg.literal.type != Type::kString) {
      return Fail(arg.offset, "in_segment() takes a segment's name in quotes");
    }
    if (schema_.segments.find(arg.literal.s) == schema_.segments.end()) {
      return Fail(arg.offset,
                  "unknown segment '" + arg.literal.s + "' (declare it as a [[segment]])");
    }
    return e;
  }

  tl::expected<Expr, ExprError> Binary(const Token& op, Expr a, Expr b) {
    const std::optional<Type> result = BinaryType(op.text, a.type, b.type);
    if (!result) {
      return Fail(op.offset, "'" + op.text + "' can't combine a " + std::string(TypeName(a.type)) +
                                 " and a " + std::string(TypeName(b.type)));
    }
    Expr e = Node(Expr::Kind::kBinary, *result, a.offset);
    e.op = op.text;
    e.code = CodeOf(op.text);
    e.length = b.offset + b.length - a.offset;
    e.args.push_back(std::move(a));
    e.args.push_back(std::move(b));
    return e;
  }

  Lexer lexer_;
  std::string_view src_;
  const Schema& schema_;
  Token tok_;
  ExprError error_;
  int depth_ = 0;
  int last_end_ = 0;  // end offset of the last token consumed
};

// Sets `reads_fields` throughout `expr` (whose depth the parser bounded); returns its own.
bool MarkFieldReads(Expr& expr) {
  expr.reads_fields = expr.kind == Expr::Kind::kPath && expr.root == PathRoot::kField;
  for (Expr& child : expr.args) {
    expr.reads_fields = MarkFieldReads(child) || expr.reads_fields;
  }
  return expr.reads_fields;
}

}  // namespace

tl::expected<Expr, ExprError> ParseExpression(std::string_view text, const Schema& schema) {
  tl::expected<Expr, ExprError> parsed = Parser(text, schema).Parse();
  if (parsed) {
    MarkFieldReads(*parsed);
  }
  return parsed;
}

void CollectFields(const Expr& expr, std::vector<std::pair<std::string, int>>& out) {
  if (expr.kind == Expr::Kind::kPath && expr.root == PathRoot::kField) {
    out.emplace_back(expr.name, expr.offset);
  }
  for (const Expr& child : expr.args) {
    CollectFields(child, out);
  }
}

Type FieldValueType(const config::Field& field) {
  switch (field.type) {
    case config::FieldType::kDate:
      return Type::kDate;
    case config::FieldType::kNumber:
      return Type::kNumber;
    case config::FieldType::kBool:
      return Type::kBool;
    default:
      return Type::kString;
  }
}

}  // namespace portrait::rules
