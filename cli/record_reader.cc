#include "cli/record_reader.h"

#include <algorithm>

#include "base/utf8.h"

namespace portrait::cli {
namespace {

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

int RecordReader::Get() {
  int c;
  if (replay_pos_ < replay_.size()) {
    c = static_cast<unsigned char>(replay_[replay_pos_++]);
  } else {
    c = in_.sbumpc();
    if (c == std::char_traits<char>::eof()) {
      return c;
    }
    ++bytes_;
  }
  ++record_bytes_;
  if (c == '\n') {
    ++line_;
  }
  if (keep_tail_ && tail_.size() <= max_bytes_) {
    tail_.push_back(static_cast<char>(c));
  }
  return c;
}

void RecordReader::KeepTail() {
  if (!keep_tail_) {
    keep_tail_ = true;
    tail_.clear();
    tail_line_ = line_;
  }
}

void RecordReader::ReplayTail() {
  replay_ = tail_ + replay_.substr(replay_pos_);
  replay_pos_ = 0;
  line_ = tail_line_;
  DropTail();
}

void RecordReader::DropTail() {
  keep_tail_ = false;
  tail_.clear();
}

bool RecordReader::Keep(std::string& into, char c) {
  if (record_bytes_ > max_bytes_) {
    return false;
  }
  into.push_back(c);
  return true;
}

int RecordReader::SkipBlankLines() {
  int c = Get();
  while (c == '\n' || c == '\r') {
    c = Get();
  }
  record_bytes_ = 1;
  return c;
}

bool RecordReader::Next(Record& record) {
  record = Record{};
  return format_ == Format::kCsv ? NextCsv(record) : NextLine(record);
}

void RecordReader::EndCell(Record& r, std::string& cell, bool& over) const {
  if (record_bytes_ <= max_bytes_) {
    r.cells.push_back(std::move(cell));
  } else {
    over = true;  // past the limit cells are dropped too: a line of commas holds no memory
  }
  cell.clear();
}

bool RecordReader::NextCsv(Record& r) {
  constexpr int kEof = std::char_traits<char>::eof();
  int c = SkipBlankLines();
  if (c == kEof) {
    return false;
  }
  r.line = line_ + 1;
  enum class State { kStart, kUnquoted, kQuoted, kAfterQuote } state = State::kStart;
  std::string cell;
  bool over = false;
  auto keep = [&](int ch) { over = !Keep(cell, static_cast<char>(ch)) || over; };
  auto fault = [&](const char* why) {
    if (r.error.empty()) {
      r.error = std::string(why) + " (column " + std::to_string(r.cells.size() + 1) + ")";
    }
  };
  for (;; c = Get()) {
    if (state == State::kQuoted && EndUnclosedQuote(r, c, over)) {
      over = false;
      break;
    }
    if (c == kEof) {
      EndCell(r, cell, over);
      break;
    }
    if (c == '\0') {
      fault("a NUL byte");
    }
    if (state == State::kQuoted) {
      // Past the record's first line (which fits the limit), its bytes are kept.
      c == '\n' && !over ? KeepTail() : void();
      c == '"' ? void(state = State::kAfterQuote) : keep(c);
      continue;
    }
    if ((state == State::kAfterQuote || state == State::kStart) && c == '"') {
      state == State::kAfterQuote ? keep('"') : void();
      state = State::kQuoted;
      continue;
    }
    if (c == ',') {
      EndCell(r, cell, over);
      state = State::kStart;
      continue;
    }
    if (c == '\n') {
      EndCell(r, cell, over);
      break;
    }
    if (c == '\r') {
      continue;
    }
    if (state == State::kAfterQuote) {
      fault("text after a closing quote");
    } else if (c == '"') {
      fault("a quote inside an unquoted cell (quote the whole cell and double the quote)");
    }
    keep(c);
    state = State::kUnquoted;
  }
  FinishCsv(r, over, c);
  return true;
}

bool RecordReader::EndUnclosedQuote(Record& r, int c, bool over) {
  // Replayable: the bytes after the record's first line are all kept, as they came.
  const bool replayable = keep_tail_ && tail_.size() <= max_bytes_;
  if (c != std::char_traits<char>::eof() && !(over && replayable)) {
    return false;
  }
  r.error = c == std::char_traits<char>::eof()
                ? "a quoted cell is not closed before the end of the file"
                : "a quoted cell is not closed within " + std::to_string(max_bytes_) + " bytes";
  r.error += " (column " + std::to_string(r.cells.size() + 1) + ")";
  replayable ? ReplayTail() : DropTail();
  return true;
}

void RecordReader::FinishCsv(Record& r, bool over, int last) {
  if (keep_tail_ && !r.error.empty()) {  // name the lines a stray quote may have joined
    r.error += " (the record runs from line " + std::to_string(r.line) + " to line " +
               std::to_string(last == '\n' ? line_ : line_ + 1) + ")";
  }
  DropTail();
  if (over) {
    r.error = "the record is over " + std::to_string(max_bytes_) + " bytes";
  }
  for (size_t i = 0; r.error.empty() && i < r.cells.size(); ++i) {
    if (!IsValidUtf8(r.cells[i])) {
      r.error = "bytes that are not UTF-8 (column " + std::to_string(i + 1) + ")";
    }
  }
  if (!r.error.empty()) {
    r.cells.clear();
  }
}

bool RecordReader::NextLine(Record& r) {
  constexpr int kEof = std::char_traits<char>::eof();
  while (true) {
    int c = Get();
    if (c == kEof) {
      return false;
    }
    record_bytes_ = 1;
    r = Record{};
    r.line = line_ + (c == '\n' ? 0 : 1);
    bool over = false;
    bool nul = false;
    for (; c != kEof && c != '\n'; c = Get()) {
      nul = nul || c == '\0';
      over = !Keep(r.text, static_cast<char>(c)) || over;
    }
    if (!r.text.empty() && r.text.back() == '\r') {
      r.text.pop_back();
    }
    if (over) {
      r.error = "the line is over " + std::to_string(max_bytes_) + " bytes";
    } else if (nul) {
      r.error = "a NUL byte";
    } else if (!IsValidUtf8(r.text)) {
      r.error = "bytes that are not UTF-8";
    } else if (std::all_of(r.text.begin(), r.text.end(),
                           [](char ch) { return ch == ' ' || ch == '\t'; })) {
      continue;  // a blank line
    }
    if (!r.error.empty()) {
      r.text.clear();
    }
    return true;
  }
}

RecordReader::Format DetectFormat(const std::string& path, std::istream& in) {
  std::string lower = path;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (EndsWith(lower, ".csv")) {
    return RecordReader::Format::kCsv;
  }
  if (EndsWith(lower, ".jsonl") || EndsWith(lower, ".ndjson") || EndsWith(lower, ".json")) {
    return RecordReader::Format::kJsonLines;
  }
  std::streambuf& buf = *in.rdbuf();
  const std::streampos start = buf.pubseekoff(0, std::ios::cur, std::ios::in);
  if (start == std::streampos(std::streamoff(-1))) {
    // A pipe or FIFO can't seek back: look at the first byte only, consuming nothing.
    return buf.sgetc() == '{' ? RecordReader::Format::kJsonLines : RecordReader::Format::kCsv;
  }
  // Peek: read up to the first non-blank byte, then seek back.
  RecordReader::Format format = RecordReader::Format::kCsv;
  for (int i = 0; i < 4096; ++i) {
    const int c = buf.sbumpc();
    if (c == std::char_traits<char>::eof()) {
      break;
    }
    if (!std::isspace(c)) {
      format = c == '{' ? RecordReader::Format::kJsonLines : RecordReader::Format::kCsv;
      break;
    }
  }
  buf.pubseekpos(start, std::ios::in);
  return format;
}

}  // namespace portrait::cli
