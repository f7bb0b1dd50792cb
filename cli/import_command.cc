#include "cli/import_command.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>

#include "cli/daemon_connection.h"
#include "cli/import_progress.h"
#include "cli/import_rows.h"
#include "cli/record_reader.h"
#include "cli/request_pipeline.h"

namespace portrait::cli {
namespace {

using nlohmann::json;

// A request's body stays well under the daemon's 1 MiB limit.
constexpr size_t kMaxBatchBytes = 512 * 1024;

struct ImportOptions {
  DaemonOptions daemon;
  std::string file;
  std::string errors_path;
  int batch = 1000;
  int in_flight = 3;               // profile requests in flight at once (1 with --match)
  std::vector<std::string> match;  // profiles: fields to resolve identity by (--match)
};

struct Summary {
  int64_t read = 0;
  int64_t imported = 0;  // profiles created or updated; events stored
  int64_t merged = 0;    // rows merged into a matching profile (identity resolution)
  int64_t failed = 0;
  int64_t duplicates = 0;  // rows already stored as given; events whose id was stored
};

// One import's state: the file, the connection, the bad lines, the counts.
class Import {
 public:
  Import(const ImportOptions& o, int64_t size, std::ostream* errors, DaemonConnection conn)
      : o_(o),
        errors_(errors),
        conn_(std::move(conn)),
        progress_(size, isatty(STDERR_FILENO) == 1) {}

  void Bad(const LineError& e) {
    ++s_.failed;
    if (errors_) {
      *errors_ << json{{"line", e.line}, {"field", e.field}, {"reason", e.reason}}.dump() << "\n";
    }
  }
  // Opens the connections profile requests go out on.
  Status OpenPipeline() {
    // A match depends on the rows committed before it: with --match, one request at a time.
    const int in_flight = o_.match.empty() ? o_.in_flight : 1;
    auto pipeline = RequestPipeline::Open(o_.daemon, in_flight, [this](Result<json> answer) {
      return AccountProfiles(std::move(answer));
    });
    if (!pipeline) {
      return pipeline.error();
    }
    pipeline_ = std::move(*pipeline);
    return Status::Ok();
  }
  // Sends the profile rows (up to --in-flight requests at once); false on a daemon error
  // (printed), also one answering an earlier request.
  bool SendProfiles(json& rows, bool text);
  // Waits for the profile requests in flight; false on a daemon error (printed).
  bool DrainProfiles() { return pipeline_->Drain(); }
  // Sends the events (their lines in `lines`); false on a daemon error (printed).
  bool SendEvents(json& events, std::vector<int64_t>& lines);
  void Progress(const RecordReader& reader) {
    progress_.Update(reader.bytes_read(), s_.read, s_.failed);
  }
  int Finish(const RecordReader& reader, bool ok);

  Summary s_;

 private:
  const ImportOptions& o_;
  std::ostream* errors_;
  // An import request's answer counted, its bad lines reported; false on a daemon error.
  bool AccountProfiles(Result<json> answer);

  DaemonConnection conn_;
  ImportProgress progress_;
  std::unique_ptr<RequestPipeline> pipeline_;
};

bool Import::SendProfiles(json& rows, bool text) {
  if (rows.empty()) {
    return true;
  }
  json body = {{"rows", rows}, {"text", text}};
  if (!o_.match.empty()) {
    body["match"] = o_.match;
  }
  rows = json::array();
  return pipeline_->Post("/v1/import/profiles", body.dump());
}

// `answer`'s member `name` if it is an integer, else 0 (an answer is read as untrusted).
int64_t Count(const json& answer, const char* name) {
  auto it = answer.find(name);
  return it != answer.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

std::string Text(const json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

bool Import::AccountProfiles(Result<json> answer) {
  if (answer && !answer->is_object()) {
    answer = Error(Status::Internal("the daemon's answer is not a JSON object"));
  }
  if (!answer) {
    Fail("import profiles", answer.error());
    return false;
  }
  s_.imported += Count(*answer, "created") + Count(*answer, "updated");
  s_.duplicates += Count(*answer, "unchanged");
  s_.merged += Count(*answer, "merged");
  auto errors = answer->find("errors");
  if (errors == answer->end() || !errors->is_array()) {
    return true;
  }
  for (const json& e : *errors) {
    if (e.is_object()) {
      Bad(LineError{Count(e, "line"), Text(e, "field"), Text(e, "reason")});
    }
  }
  return true;
}

// "HTTP 422: [3].time: expected …" -> {3, "time", "expected …"}.
std::optional<std::tuple<size_t, std::string, std::string>> EventRefusal(const std::string& m) {
  const std::string prefix = "HTTP 422: [";
  if (m.rfind(prefix, 0) != 0) {
    return std::nullopt;
  }
  size_t close = m.find("].", prefix.size());
  size_t colon = close == std::string::npos ? close : m.find(": ", close);
  if (colon == std::string::npos) {
    return std::nullopt;
  }
  size_t index = std::strtoull(m.c_str() + prefix.size(), nullptr, 10);
  return std::tuple(index, m.substr(close + 2, colon - close - 2), m.substr(colon + 2));
}

bool Import::SendEvents(json& events, std::vector<int64_t>& lines) {
  // The daemon refuses a request at its first bad event, naming it, having checked the ones
  // before it. That line is reported and taken out; the ones before it are sent next, alone;
  // each refusal halves at least the next request and each success doubles it again, so a
  // file dense with bad lines costs small requests, not a re-send of the whole rest each time.
  size_t size = events.size();
  while (!events.empty()) {
    size = std::clamp<size_t>(size, 1, events.size());
    const auto first = events.begin() + static_cast<std::ptrdiff_t>(size);
    auto answer = conn_.Call("POST", "/v1/events", json(events.begin(), first).dump());
    if (answer && answer->is_object()) {
      s_.imported += Count(*answer, "accepted");
      s_.duplicates += Count(*answer, "duplicates");
      events.erase(events.begin(), first);
      lines.erase(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(size));
      size *= 2;
      continue;
    }
    if (answer) {
      Fail("import events", Status::Internal("the daemon's answer is not a JSON object"));
      return false;
    }
    auto refusal = EventRefusal(answer.error().message());
    if (!refusal || std::get<0>(*refusal) >= size) {
      Fail("import events", answer.error());
      return false;
    }
    const size_t bad = std::get<0>(*refusal);
    Bad(LineError{lines[bad], std::get<1>(*refusal), std::get<2>(*refusal)});
    events.erase(bad);
    lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(bad));
    size = std::min(bad, size / 2);
  }
  lines.clear();
  return true;
}

int Import::Finish(const RecordReader& reader, bool ok) {
  progress_.Finish(reader.bytes_read(), s_.read, s_.failed);
  if (errors_) {
    errors_->flush();
  }
  if (o_.daemon.json) {
    std::cout << json{{"read", s_.read},
                      {"imported", s_.imported},
                      {"merged", s_.merged},
                      {"failed", s_.failed},
                      {"duplicates", s_.duplicates}}
                     .dump()
              << "\n";
  } else {
    std::cout << s_.read << " lines read: " << s_.imported << " imported, " << s_.merged
              << " merged, " << s_.duplicates << " already stored, " << s_.failed << " failed"
              << (o_.errors_path.empty() || s_.failed == 0 ? "" : " (see " + o_.errors_path + ")")
              << "\n";
  }
  return ok && s_.failed == 0 ? 0 : 1;
}

int ReadProfiles(Import& im, RecordReader& reader, ProfileRows rows, bool text, int batch) {
  json pending = json::array();
  size_t bytes = 0;
  Record record;
  while (reader.Next(record)) {
    ++im.s_.read;
    auto row = rows.Build(record);
    if (!row) {
      im.Bad(row.error());
      continue;
    }
    bytes += row->dump().size();
    pending.push_back(std::move(*row));
    if (pending.size() >= static_cast<size_t>(batch) || bytes >= kMaxBatchBytes) {
      if (!im.SendProfiles(pending, text)) {
        im.DrainProfiles();  // the requests already sent still count, their bad lines too
        return im.Finish(reader, false);
      }
      bytes = 0;
      im.Progress(reader);
    }
  }
  const bool sent = im.SendProfiles(pending, text);
  return im.Finish(reader, im.DrainProfiles() && sent);
}

int ReadEvents(Import& im, RecordReader& reader, int batch) {
  json pending = json::array();
  std::vector<int64_t> lines;
  size_t bytes = 0;
  Record record;
  while (reader.Next(record)) {
    ++im.s_.read;
    auto event = EventFromLine(record);
    if (!event) {
      im.Bad(event.error());
      continue;
    }
    bytes += record.text.size();
    pending.push_back(std::move(*event));
    lines.push_back(record.line);
    if (pending.size() >= static_cast<size_t>(batch) || bytes >= kMaxBatchBytes) {
      if (!im.SendEvents(pending, lines)) {
        return im.Finish(reader, false);
      }
      bytes = 0;
      im.Progress(reader);
    }
  }
  return im.Finish(reader, im.SendEvents(pending, lines));
}

int Usage(const std::string& verb, const std::string& message) {
  std::cerr << "portraitctl " << verb << ": " << message << "\n";
  return 2;
}

int Run(const ImportOptions& o, bool profiles) {
  const std::string verb = profiles ? "import profiles" : "import events";
  std::ifstream in(o.file, std::ios::binary);
  if (!in) {
    return Usage(verb, "cannot open " + o.file);
  }
  in.seekg(0, std::ios::end);
  const int64_t size = in.tellg();
  in.seekg(0);
  std::unique_ptr<std::ofstream> errors;
  if (!o.errors_path.empty()) {
    errors = std::make_unique<std::ofstream>(o.errors_path, std::ios::trunc);
    if (!*errors) {
      return Usage(verb, "cannot write " + o.errors_path);
    }
  }
  const RecordReader::Format format =
      profiles ? DetectFormat(o.file, in) : RecordReader::Format::kJsonLines;
  RecordReader reader(in, format);
  auto rows = tl::expected<ProfileRows, std::string>(ProfileRows::ForJsonLines());
  if (profiles && format == RecordReader::Format::kCsv) {
    Record header;
    rows = reader.Next(header) ? ProfileRows::ForCsv(header)
                               : tl::unexpected(std::string("the file is empty"));
    if (!rows) {
      return Usage(verb, o.file + ": " + rows.error());
    }
  }
  auto conn = DaemonConnection::Open(o.daemon);
  if (!conn) {
    return Fail(verb, conn.error());
  }
  Import im(o, size, errors.get(), std::move(*conn));
  if (!profiles) {
    return ReadEvents(im, reader, std::min(o.batch, 10'000));
  }
  if (Status opened = im.OpenPipeline(); !opened.ok()) {
    return Fail(verb, opened);
  }
  return ReadProfiles(im, reader, std::move(*rows), format == RecordReader::Format::kCsv,
                      std::min(o.batch, 5'000));
}

void AddOptions(CLI::App* cmd, ImportOptions& o) {
  cmd->add_option("file", o.file, "the file to import")->required();
  cmd->add_option("--errors", o.errors_path,
                  "write each bad line here as JSON {line, field, reason} (never the value)");
  cmd->add_option("--batch", o.batch, "lines per request (profiles at most 5000, events 10000)")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  AddDaemonOptions(cmd, o.daemon);
}

}  // namespace

void AddImportCommand(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ImportOptions>();
  CLI::App* import = app.add_subcommand(
      "import",
      "Bulk import through the running daemon, in batches; bad lines are reported and never "
      "stop the good ones; re-running a file changes nothing more. --json prints "
      "{read, imported, merged, failed, duplicates}. Exit 0 all imported, 1 a line failed or the "
      "daemon failed, 2 usage.");
  import->require_subcommand(1);
  CLI::App* profiles = import->add_subcommand(
      "profiles",
      "Import profiles from CSV (a header naming id, tags (';'-separated), timezone and "
      "fields; RFC 4180 quoting) or JSON lines ({\"id\", \"fields\", \"tags\", \"timezone\"}); "
      "chosen by the extension (.csv, .jsonl) or the first byte. An empty cell leaves the field "
      "as it is; tags are added. An id twice in the file: the second line is reported.\n"
      "  portraitctl import profiles customers.csv --errors bad-lines.jsonl\n"
      "  portraitctl import profiles crm.csv --match email,phone --json");
  AddOptions(profiles, *o);
  profiles
      ->add_option("--in-flight", o->in_flight,
                   "requests in flight at once (1-8; with --match always 1)")
      ->check(CLI::Range(1, 8))
      ->capture_default_str();
  profiles
      ->add_option("--match", o->match,
                   "resolve identity by these blind-indexed fields (e.g. email,phone): a row whose "
                   "id is new and whose values find one stored profile is merged into it, its id "
                   "becoming an alias; a row finding two is reported. Needs the fields readable "
                   "in clear by the token's role for its purpose.")
      ->delimiter(',');
  profiles->callback([o, &exit_code] { exit_code = Run(*o, true); });
  CLI::App* events = import->add_subcommand(
      "events",
      "Import CloudEvents, one JSON object per line (as POST /v1/events takes them); an event "
      "whose id is stored already counts as a duplicate and is not stored again.\n"
      "  portraitctl import events orders.jsonl --errors bad-lines.jsonl --json");
  AddOptions(events, *o);
  events->callback([o, &exit_code] { exit_code = Run(*o, false); });
}

}  // namespace portrait::cli
