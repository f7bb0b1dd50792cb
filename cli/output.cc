#include "cli/output.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace portrait::cli {
namespace {

// The length of the UTF-8 sequence starting at text[i] when it is valid, else 0.
size_t Utf8Length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = byte(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > text.size()) {
    return 0;
  }
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      return 0;
    }
  }
  if ((n == 2 && c < 0xC2) || (n == 3 && c == 0xE0 && byte(i + 1) < 0xA0) ||
      (n == 3 && c == 0xED && byte(i + 1) >= 0xA0) ||
      (n == 4 &&
       (c > 0xF4 || (c == 0xF0 && byte(i + 1) < 0x90) || (c == 0xF4 && byte(i + 1) >= 0x90)))) {
    return 0;
  }
  // C1 controls (U+0080..U+009F) are two bytes: C2 80..C2 9F.
  if (n == 2 && c == 0xC2 && byte(i + 1) < 0xA0) {
    return 0;
  }
  return n;
}

// Whether code point `cp` takes two terminal columns (East Asian wide and fullwidth forms).
bool IsWide(uint32_t cp) {
  return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF && cp != 0x303F) ||
         (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
         (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1FAFF) ||
         (cp >= 0x20000 && cp <= 0x3FFFD);
}

// The columns `text` (valid UTF-8, as Printable leaves it) takes on a terminal.
size_t Width(std::string_view text) {
  size_t n = 0;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : 4;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len && i + k < text.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
    }
    n += IsWide(cp) ? 2 : 1;
    i += len;
  }
  return n;
}

}  // namespace

std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const size_t n = Utf8Length(text, i);
    if (n == 0 || c < 0x20 || c == 0x7F) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02X", c);
      out += escaped;
      ++i;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::vector<std::string>> cells;
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    auto& out = cells.emplace_back();
    for (size_t c = 0; c < row.size(); ++c) {
      out.push_back(Printable(row[c]));
      widths.resize(std::max(widths.size(), c + 1));
      widths[c] = std::max(widths[c], Width(out.back()));
    }
  }
  std::string text;
  for (const auto& row : cells) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) {
        line.append(widths[c] - Width(row[c]) + 2, ' ');
      }
    }
    line.erase(line.find_last_not_of(' ') + 1);
    text += line + "\n";
  }
  return text;
}

std::string BarChart(const std::vector<std::pair<std::string, int64_t>>& rows, bool bars,
                     int width) {
  static constexpr const char* kEighths[] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  int64_t most = 0;
  for (const auto& [label, n] : rows) {
    most = std::max(most, n);
  }
  std::vector<std::vector<std::string>> table;
  for (const auto& [label, n] : rows) {
    std::string bar;
    if (bars && most > 0 && n > 0) {
      const int64_t eighths =
          std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(n) / most * width * 8));
      for (int64_t i = 0; i < eighths / 8; ++i) {
        bar += "█";
      }
      bar += kEighths[eighths % 8];
    }
    table.push_back({label, std::to_string(n), bar});
  }
  // Counts right-aligned: pad them to the widest before the table aligns the columns.
  size_t digits = 0;
  for (const auto& row : table) {
    digits = std::max(digits, row[1].size());
  }
  for (auto& row : table) {
    row[1].insert(0, digits - row[1].size(), ' ');
    if (!bars) {
      row.pop_back();
    }
  }
  return Table(table);
}

bool StdoutIsTerminal() { return ::isatty(STDOUT_FILENO) == 1; }

}  // namespace portrait::cli
