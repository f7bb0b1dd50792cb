// A check of TOML text before toml++ reads it (see toml_guard.h). One pass, no recursion.
#include "config/toml_guard.h"

#include <cstdint>

namespace portrait::config {
namespace {

constexpr char32_t kInvalid = 0xFFFFFFFF;

class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  std::optional<TomlHazard> Run() {
    while (pos_ < text_.size()) {
      const char32_t c = Peek();
      if (c == kInvalid) {
        return Here("not valid UTF-8");
      }
      if (c == '"' || c == '\'') {
        if (std::optional<TomlHazard> h = String(static_cast<char>(c))) {
          return h;
        }
        continue;
      }
      if (c >= 0x80) {
        return Here("a non-ASCII character outside a quoted string or a comment");
      }
      if (c == '#') {
        if (std::optional<TomlHazard> h = SkipComment()) {
          return h;
        }
        continue;
      }
      Advance();
    }
    return std::nullopt;
  }

 private:
  std::optional<TomlHazard> SkipComment() {
    while (pos_ < text_.size() && Peek() != '\n') {
      if (Peek() == kInvalid) {
        return Here("not valid UTF-8");
      }
      Advance();
    }
    return std::nullopt;
  }

  // Scans a string from its opening quote to past its closing one (or to the end of its line,
  // if it is not closed there: toml++ then reports it). Any character may be in a string; only
  // what follows a backslash is checked.
  std::optional<TomlHazard> String(char quote) {
    const std::string delimiter(3, quote);
    const bool multi_line = text_.substr(pos_, 3) == delimiter;
    Advance(multi_line ? 3 : 1);
    while (pos_ < text_.size()) {
      const char32_t c = Peek();
      if (c == kInvalid) {
        return Here("not valid UTF-8");
      }
      const bool closes = !multi_line || text_.substr(pos_, 3) == delimiter;
      if (c == static_cast<char32_t>(quote) && closes) {
        Advance(multi_line ? 3 : 1);
        while (multi_line && pos_ < text_.size() && text_[pos_] == quote) {
          Advance();  // up to two quotes just before the closing ones belong to the string
        }
        return std::nullopt;
      }
      if (c == '\n' && !multi_line) {
        return std::nullopt;
      }
      if (c == '\\' && quote == '"') {
        if (std::optional<TomlHazard> h = Escape(multi_line)) {
          return h;
        }
        continue;
      }
      Advance();
    }
    return std::nullopt;
  }

  std::optional<TomlHazard> Escape(bool multi_line) {
    Advance();  // the backslash
    if (pos_ >= text_.size()) {
      return std::nullopt;
    }
    const char32_t next = Peek();
    if (next >= 0x80) {
      return Here(next == kInvalid ? "not valid UTF-8"
                                   : "a backslash before a non-ASCII character");
    }
    if (!multi_line || (next != ' ' && next != '\t' && next != '\r' && next != '\n')) {
      Advance();
      return std::nullopt;
    }
    while (pos_ < text_.size() &&
           (Peek() == ' ' || Peek() == '\t' || Peek() == '\r' || Peek() == '\n')) {
      Advance();
    }
    if (pos_ < text_.size() && Peek() >= 0x80) {
      return Here(
          "a non-ASCII character first after a line-ending backslash; start the line "
          "with an ASCII character or an escape");
    }
    return std::nullopt;
  }

  // The character at pos_, or kInvalid if the bytes there are not UTF-8 (RFC 3629).
  char32_t Peek() const {
    const auto byte = [&](size_t i) { return static_cast<uint8_t>(text_[pos_ + i]); };
    const uint8_t b0 = byte(0);
    if (b0 < 0x80) {
      return b0;
    }
    const size_t length = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC2 ? 2 : 0;
    if (length == 0 || b0 > 0xF4 || pos_ + length > text_.size()) {
      return kInvalid;
    }
    char32_t c = b0 & (0x7F >> length);
    for (size_t i = 1; i < length; ++i) {
      if ((byte(i) & 0xC0) != 0x80) {
        return kInvalid;
      }
      c = (c << 6) | (byte(i) & 0x3F);
    }
    const char32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < least[length] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
      return kInvalid;
    }
    return c;
  }

  // Moves past `n` characters (each valid UTF-8 when called).
  void Advance(size_t n = 1) {
    for (size_t i = 0; i < n && pos_ < text_.size(); ++i) {
      const uint8_t b0 = static_cast<uint8_t>(text_[pos_]);
      if (b0 == '\n') {
        ++line_;
        column_ = 1;
      } else {
        ++column_;
      }
      pos_ += b0 < 0x80 ? 1 : b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : 2;
    }
  }

  TomlHazard Here(std::string message) const { return TomlHazard{line_, column_, message}; }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
  int column_ = 1;
};

}  // namespace

std::optional<TomlHazard> FindTomlHazard(std::string_view text) { return Scanner(text).Run(); }

}  // namespace portrait::config
