// What portraitctl's human output shares: text made safe for a terminal, aligned tables, small
// bar charts of counts (Unicode block elements), and whether stdout is a terminal. Pure but for
// IsTerminal; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace portrait::cli {

// `text` with every control character (C0, DEL, C1) and every byte of invalid UTF-8 shown as
// \xNN, so a stored value can't move the cursor or rewrite the screen.
std::string Printable(std::string_view text);

// Rows of cells printed with each column padded to its widest cell (display width: one column
// per code point), two spaces apart; every cell passed through Printable.
std::string Table(const std::vector<std::vector<std::string>>& rows);

// One line per (label, count): the label, the count right-aligned and, when `bars`, a bar of
// up to `width` eighth-block cells proportional to the largest count (a count above zero gets
// at least one eighth).
std::string BarChart(const std::vector<std::pair<std::string, int64_t>>& rows, bool bars,
                     int width = 30);

// Whether standard output is a terminal (bars are drawn only there).
bool StdoutIsTerminal();

}  // namespace portrait::cli
