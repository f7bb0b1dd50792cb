// The import file readers: CSV (RFC 4180) and JSON lines, with hostile input (NUL bytes,
// invalid UTF-8, stray quotes, huge lines), and the row checks made before the daemon's.
#include <gtest/gtest.h>

#include <sstream>

#include "cli/import_rows.h"
#include "cli/record_reader.h"

namespace portrait::cli {
namespace {

using Format = RecordReader::Format;

std::vector<Record> ReadAll(const std::string& text, Format format, size_t max = 1024) {
  std::istringstream in(text);
  RecordReader reader(in, format, max);
  std::vector<Record> out;
  Record r;
  while (reader.Next(r)) {
    out.push_back(r);
  }
  return out;
}

TEST(CsvReader, ReadsQuotedCellsWithCommasQuotesAndLineBreaks) {
  auto records = ReadAll("id,name\r\n1,\"Doe, \"\"J\"\"\"\n2,\"two\nlines\"\n\n3,\n", Format::kCsv);
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].cells, (std::vector<std::string>{"id", "name"}));
  EXPECT_EQ(records[1].cells, (std::vector<std::string>{"1", "Doe, \"J\""}));
  EXPECT_EQ(records[1].line, 2);
  EXPECT_EQ(records[2].cells, (std::vector<std::string>{"2", "two\nlines"}));
  EXPECT_EQ(records[2].line, 3);
  EXPECT_EQ(records[3].line, 6);  // the blank line 5 is skipped, its number counted
  EXPECT_EQ(records[3].cells, (std::vector<std::string>{"3", ""}));
}

TEST(CsvReader, ReportsStrayQuotesNulAndInvalidUtf8AndGoesOn) {
  const std::string text =
      std::string("a\"b,c\n\"x\"y,z\nok,1\nn") + '\0' + "l,2\n\xff\xfe,3\nlast,4";
  auto records = ReadAll(text, Format::kCsv);
  ASSERT_EQ(records.size(), 6u);
  EXPECT_NE(records[0].error.find("quote inside an unquoted cell"), std::string::npos);
  EXPECT_NE(records[0].error.find("(column 1)"), std::string::npos);
  EXPECT_NE(records[1].error.find("text after a closing quote"), std::string::npos);
  EXPECT_TRUE(records[2].error.empty());
  EXPECT_NE(records[3].error.find("NUL"), std::string::npos);
  EXPECT_NE(records[4].error.find("not UTF-8 (column 1)"), std::string::npos);
  EXPECT_TRUE(records[4].cells.empty());
  EXPECT_EQ(records[5].cells, (std::vector<std::string>{"last", "4"}));
  EXPECT_EQ(records[5].line, 6);
}

// A stray quote costs its own record: the lines after it are read again, whether the file ends
// or the record outgrows the limit first.
TEST(CsvReader, AnUnclosedQuoteCostsOneRecordNotTheRestOfTheFile) {
  auto records = ReadAll("id,n\n1,\"open\n2,b\n3,c\n", Format::kCsv);
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[1].line, 2);
  EXPECT_NE(records[1].error.find("not closed before the end of the file (column 2)"),
            std::string::npos);
  EXPECT_TRUE(records[1].cells.empty());
  EXPECT_EQ(records[2].cells, (std::vector<std::string>{"2", "b"}));
  EXPECT_EQ(records[2].line, 3);
  EXPECT_EQ(records[3].cells, (std::vector<std::string>{"3", "c"}));
  EXPECT_EQ(records[3].line, 4);

  std::string text = "id,n\n1,\"open\n";
  for (int i = 2; i <= 400; ++i) {
    text += std::to_string(i) + ",x\n";
  }
  text += "401,\"closes it\"\n";
  records = ReadAll(text, Format::kCsv);  // the limit is 1,024 bytes
  ASSERT_EQ(records.size(), 402u);
  EXPECT_NE(records[1].error.find("not closed within 1024 bytes"), std::string::npos);
  for (int i = 2; i <= 401; ++i) {
    ASSERT_TRUE(records[i].error.empty()) << records[i].error;
    EXPECT_EQ(records[i].line, i + 1);
    EXPECT_EQ(records[i].cells[0], std::to_string(i));
  }
  EXPECT_EQ(records[401].cells[1], "closes it");
}

// Bytes past the kept tail are gone: a record that outgrew the limit only after its first quote
// closed is skipped to its end as before, never read again with a hole in it.
TEST(CsvReader, AReplayNeverSplicesARecordThatNeverExisted) {
  auto records =
      ReadAll("a,\"x\nqqqqqqqqq\n\",bbbbbbbbbbbbbbbbbbbb,\"c\",z\nd,e\n", Format::kCsv, 16);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_FALSE(records[0].error.empty());
  EXPECT_TRUE(records[0].cells.empty());
  EXPECT_EQ(records[1].cells, (std::vector<std::string>{"d", "e"}));
  EXPECT_EQ(records[1].line, 4);
}

TEST(CsvReader, AnErrorInARecordOfSeveralLinesNamesTheLines) {
  auto records = ReadAll("id,n\n1,\"a\nb\nc\"x\n2,d\n", Format::kCsv);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_NE(records[1].error.find("text after a closing quote"), std::string::npos);
  EXPECT_NE(records[1].error.find("runs from line 2 to line 4"), std::string::npos);
  EXPECT_EQ(records[2].line, 5);
}

TEST(CsvReader, AnOverLongRecordIsSkippedNotKept) {
  const std::string huge(1'000'000, 'x');
  auto records = ReadAll("a,b\n" + huge + ",\"" + huge + "\n" + huge + "\"\nc,d\n", Format::kCsv);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_NE(records[1].error.find("over 1024 bytes"), std::string::npos);
  EXPECT_TRUE(records[1].cells.empty());
  EXPECT_EQ(records[2].cells, (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(records[2].line, 4);
}

TEST(CsvReader, ARecordOfAMillionCommasIsReportedAndTheNextOneRead) {
  auto records = ReadAll("a,b\n" + std::string(1'000'000, ',') + "\nc,d\n", Format::kCsv);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_NE(records[1].error.find("over 1024 bytes"), std::string::npos);
  EXPECT_TRUE(records[1].cells.empty());
  EXPECT_EQ(records[2].cells, (std::vector<std::string>{"c", "d"}));
}

// A pipe can't seek back: the format comes from its first byte, and nothing is consumed.
class Unseekable : public std::stringbuf {
 public:
  using std::stringbuf::stringbuf;

 protected:
  pos_type seekoff(off_type, std::ios::seekdir, std::ios::openmode) override { return -1; }
  pos_type seekpos(pos_type, std::ios::openmode) override { return -1; }
};

TEST(DetectFormat, APipeIsReadFromItsFirstByteWithNothingLost) {
  Unseekable json_buf(R"({"id":"a"})"), csv_buf("id\na\n");
  std::istream json_in(&json_buf), csv_in(&csv_buf);
  EXPECT_EQ(DetectFormat("/dev/stdin", json_in), Format::kJsonLines);
  EXPECT_EQ(DetectFormat("/dev/stdin", csv_in), Format::kCsv);
  RecordReader reader(json_in, Format::kJsonLines);
  Record r;
  ASSERT_TRUE(reader.Next(r));
  EXPECT_EQ(r.text, R"({"id":"a"})");
}

TEST(JsonLinesReader, ReadsLinesAndReportsHostileOnes) {
  const std::string huge(5000, 'x');
  const std::string text = "{\"a\":1}\r\n\n  \n" + huge + "\n{\"b\":\"\xc3\x28\"}\nx" +
                           std::string(1, '\0') + "y\n{\"c\":2}";
  auto records = ReadAll(text, Format::kJsonLines);
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].text, "{\"a\":1}");
  EXPECT_EQ(records[1].line, 4);
  EXPECT_NE(records[1].error.find("over 1024"), std::string::npos);
  EXPECT_NE(records[2].error.find("not UTF-8"), std::string::npos);
  EXPECT_NE(records[3].error.find("NUL"), std::string::npos);
  EXPECT_EQ(records[4].text, "{\"c\":2}");
  EXPECT_EQ(records[4].line, 7);
}

Record Cells(int64_t line, std::vector<std::string> cells) {
  Record r;
  r.line = line;
  r.cells = std::move(cells);
  return r;
}

Record Line(int64_t line, std::string text) {
  Record r;
  r.line = line;
  r.text = std::move(text);
  return r;
}

TEST(ProfileRows, CsvHeaderMustNameIdOnceEach) {
  EXPECT_FALSE(ProfileRows::ForCsv(Cells(1, {"name", "email"})));
  EXPECT_FALSE(ProfileRows::ForCsv(Cells(1, {"id", "email", "email"})));
  EXPECT_FALSE(ProfileRows::ForCsv(Cells(1, {"id", ""})));
  EXPECT_TRUE(ProfileRows::ForCsv(Cells(1, {"id", "email", "tags", "timezone"})));
}

TEST(ProfileRows, CsvCellsBecomeARowAndEmptyCellsAreLeftOut) {
  auto rows = ProfileRows::ForCsv(Cells(1, {"id", "email", "city", "tags", "timezone"}));
  ASSERT_TRUE(rows);
  auto row = rows->Build(Cells(2, {"C1", "a@example.com", "", "vip;;news", "Asia/Shanghai"}));
  ASSERT_TRUE(row);
  EXPECT_EQ((*row)["line"], 2);
  EXPECT_EQ((*row)["id"], "C1");
  EXPECT_EQ((*row)["fields"], (nlohmann::json{{"email", "a@example.com"}}));
  EXPECT_EQ((*row)["tags"], (nlohmann::json{"vip", "news"}));
  EXPECT_EQ((*row)["timezone"], "Asia/Shanghai");
  auto short_row = rows->Build(Cells(3, {"C2", "x"}));
  ASSERT_FALSE(short_row);
  EXPECT_EQ(short_row.error().line, 3);
  EXPECT_NE(short_row.error().reason.find("2 cells"), std::string::npos);
  auto no_id = rows->Build(Cells(4, {"", "a@example.com", "", "", ""}));
  ASSERT_FALSE(no_id);
  EXPECT_EQ(no_id.error().field, "id");
}

TEST(ProfileRows, AnIdRepeatedInTheFileIsRefusedAtItsSecondLine) {
  ProfileRows rows = ProfileRows::ForJsonLines();
  ASSERT_TRUE(rows.Build(Line(7, R"({"id":"C1","fields":{}})")));
  auto again = rows.Build(Line(9, R"({"id":"C1"})"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().line, 9);
  EXPECT_EQ(again.error().field, "id");
  EXPECT_EQ(again.error().reason, "id repeated in this file at line 7");
  EXPECT_TRUE(rows.Build(Line(10, R"({"id":"C2"})")));
}

TEST(ProfileRows, HostileJsonLinesAreRefusedWithoutTheirValue) {
  ProfileRows rows = ProfileRows::ForJsonLines();
  const std::string secret = "secret@example.com";
  for (const std::string& text :
       {std::string("{\"id\":\"C1\",\"email\":\"" + secret + "\""), std::string("[1,2]"),
        std::string(200, '[') + std::string(200, ']'), std::string("{\"id\":42}"),
        std::string("{\"fields\":{\"email\":\"" + secret + "\"}}"),
        std::string("{\"id\":\"C1\",\"mail\":\"" + secret + "\"}")}) {
    auto row = rows.Build(Line(1, text));
    ASSERT_FALSE(row) << text.substr(0, 40);
    EXPECT_EQ(row.error().reason.find(secret), std::string::npos);
  }
  Record bad = Line(5, "");
  bad.error = "bytes that are not UTF-8";
  auto row = rows.Build(bad);
  ASSERT_FALSE(row);
  EXPECT_EQ(row.error().field, "line");
  EXPECT_EQ(row.error().line, 5);
}

TEST(EventLines, NeedAnObjectWithAStringIdTypeAndSubject) {
  EXPECT_TRUE(EventFromLine(Line(1, R"({"id":"e1","type":"t","subject":"s"})")));
  EXPECT_FALSE(EventFromLine(Line(1, R"({"type":"t","subject":"s"})")));
  EXPECT_EQ(EventFromLine(Line(1, R"({"id":"e1","subject":"s"})")).error().field, "type");
  EXPECT_EQ(EventFromLine(Line(1, R"({"id":"e1","type":"t","subject":5})")).error().field,
            "subject");
  EXPECT_FALSE(EventFromLine(Line(1, R"("e1")")));
  EXPECT_FALSE(EventFromLine(Line(1, "{")));
}

}  // namespace
}  // namespace portrait::cli
