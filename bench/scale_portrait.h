// The portrait at scale, on the scale benchmark's loaded daemon: each customer's purchases drawn
// from the BG/NBD and Gamma-Gamma processes with the CDNOW parameters (analytics/simulation.h;
// the fixture's two orders each are no history a lifetime-value model can fit) sent as
// `purchase` events (the BG/NBD model over them in the rules from the start: WriteModelRules),
// then rule files adding an RFM score, two tags that read it and the model, and the ten segments
// of SegmentRules are written into
// the data directory's rules and reloaded; then the base-wide re-evaluation they cause, an RFM
// refresh over HTTP, a model fit over HTTP and the re-evaluation each of those two causes, each
// timed by the wall clock and by the daemon's own figure from its log. Not thread-safe.
#pragma once

#include <filesystem>
#include <string>

#include "bench/scale_daemon.h"

namespace portrait::bench {

struct PortraitFigures {
  int64_t purchases = 0;  // simulated purchase events sent
  // The re-evaluation after the reload (ten segments and two tags): the daemon's figure, the
  // wall time from the reload, and the daemon's CPU seconds in between.
  double pass_ms = -1, pass_wall_ms = -1, pass_cpu_s = -1;
  int64_t index_rows = 0;  // members-index rows the pass wrote (the daemon's figure)
  // POST /v1/scores/rfm/refresh and POST /v1/models/clv/fit: wall time of the request, and the
  // re-evaluation each caused (the daemon's figure).
  double refresh_ms = -1, refresh_pass_ms = -1;
  double fit_ms = -1, fit_pass_ms = -1;
  int64_t fit_customers = 0;
  std::string fit_read_from;  // "purchase_books" or "events"
};

// Writes the BG/NBD model into the rules of the data directory `dir`: before the daemon first
// starts, so that each customer's purchase book is kept from the first purchase and a fit reads
// the books (a model added later keeps books of the purchases after it only).
void WriteModelRules(const std::filesystem::path& dir);

// Runs the steps above on `daemon` (running, loaded with customers 0..customers-1) whose
// configuration lives in `dir`. Exits the process with a message when the daemon refuses a step.
PortraitFigures MeasurePortrait(const std::filesystem::path& dir, ChildDaemon& daemon,
                                const std::string& token, int64_t customers);

}  // namespace portrait::bench
