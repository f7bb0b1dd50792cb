// Reading an import file record by record with bounded memory: CSV (RFC 4180: quoted cells
// with "" for a quote, commas and line breaks inside quotes, CRLF or LF) and JSON lines. A
// record longer than the limit is not kept: it is skipped to its end and reported as a bad
// record, so one over-long line costs no more memory than the limit. A quoted CSV cell not
// closed by the end of the file or within the limit (a stray quote) is reported at its first
// line, and the lines after that one are read again (at most the limit is kept for that), so
// it costs one record, not the rest of the file. A record holding a NUL
// byte or bytes that are not UTF-8 is reported too. Reasons name the rule broken, never the
// bytes. Not thread-safe.
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace portrait::cli {

// One record: its first line's number (1-based), its cells (CSV) or its text (JSON lines), and
// when it is bad, why (then cells/text are empty).
struct Record {
  int64_t line = 0;
  std::vector<std::string> cells;
  std::string text;
  std::string error;
};

class RecordReader {
 public:
  enum class Format { kCsv, kJsonLines };
  // Bytes in one record at most, by default.
  static constexpr size_t kDefaultMaxRecordBytes = 64 * 1024;

  RecordReader(std::istream& in, Format format, size_t max_record_bytes = kDefaultMaxRecordBytes)
      : in_(*in.rdbuf()), format_(format), max_bytes_(max_record_bytes) {}

  // The next record; false at the end of the input. Blank lines are skipped.
  bool Next(Record& record);
  // Bytes consumed so far (for progress).
  int64_t bytes_read() const { return bytes_; }

 private:
  int Get();
  // The first byte after any blank lines (or EOF); starts a record's byte count.
  int SkipBlankLines();
  bool NextCsv(Record& record);
  bool NextLine(Record& record);
  // A CSV record's last checks (`last`: the byte that ended it): the lines of a bad record of
  // several, over the limit, UTF-8 per cell.
  void FinishCsv(Record& record, bool over, int last);
  // At `c` inside a quoted cell: when the file ended, or the record outgrew the limit with the
  // bytes after its first line all kept, reports the record (most likely a stray quote) and
  // has those bytes read again as records; false, doing nothing, otherwise.
  bool EndUnclosedQuote(Record& record, int c, bool over);
  // Ends `cell` as the record's next cell, or drops it (setting `over`) past the size limit.
  void EndCell(Record& record, std::string& cell, bool& over) const;
  // Adds `c` to the record unless it is over the limit already; false once it is.
  bool Keep(std::string& into, char c);
  // From now on until DropTail, the bytes read are kept (up to the limit) so that ReplayTail
  // can make Get() read them again, from the line after the one KeepTail was called on.
  void KeepTail();
  void ReplayTail();
  void DropTail();

  std::streambuf& in_;
  Format format_;
  size_t max_bytes_;
  size_t record_bytes_ = 0;
  int64_t line_ = 0;   // lines started so far
  int64_t bytes_ = 0;  // of the input (bytes read again are not counted twice)
  std::string tail_;   // see KeepTail
  bool keep_tail_ = false;
  int64_t tail_line_ = 0;
  std::string replay_;  // what Get() reads before the input
  size_t replay_pos_ = 0;
};

// Whether `path` holds CSV or JSON lines: by its extension (.csv; .jsonl, .ndjson, .json), else
// by its first non-blank byte ('{' means JSON lines).
RecordReader::Format DetectFormat(const std::string& path, std::istream& in);

}  // namespace portrait::cli
