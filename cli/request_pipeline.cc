#include "cli/request_pipeline.h"

namespace portrait::cli {

Result<std::unique_ptr<RequestPipeline>> RequestPipeline::Open(const DaemonOptions& options,
                                                               int depth, OnAnswer on_answer) {
  std::vector<DaemonConnection> slots;
  for (int i = 0; i < std::max(1, depth); ++i) {
    PORTRAIT_ASSIGN_OR_RETURN(DaemonConnection conn, DaemonConnection::Open(options));
    slots.push_back(std::move(conn));
  }
  return std::unique_ptr<RequestPipeline>(
      new RequestPipeline(std::move(slots), std::move(on_answer)));
}

RequestPipeline::RequestPipeline(std::vector<DaemonConnection> slots, OnAnswer on_answer)
    : slots_(std::move(slots)), on_answer_(std::move(on_answer)) {
  for (size_t i = slots_.size(); i > 0; --i) {
    free_.push_back(i - 1);
  }
}

RequestPipeline::~RequestPipeline() {
  for (InFlight& f : in_flight_) {
    f.answer.wait();
  }
}

bool RequestPipeline::Post(const std::string& target, std::string body) {
  if (free_.empty() && !TakeOldest()) {
    return false;
  }
  if (!ok_) {
    return false;
  }
  const size_t slot = free_.back();
  free_.pop_back();
  DaemonConnection* conn = &slots_[slot];
  in_flight_.push_back(InFlight{std::async(std::launch::async,
                                           [conn, target, body = std::move(body)] {
                                             return conn->Call("POST", target, body);
                                           }),
                                slot});
  return true;
}

bool RequestPipeline::TakeOldest() {
  InFlight oldest = std::move(in_flight_.front());
  in_flight_.pop_front();
  Result<nlohmann::json> answer = oldest.answer.get();
  free_.push_back(oldest.slot);
  ok_ = on_answer_(std::move(answer)) && ok_;  // handed on after a failure too, to be counted
  return ok_;
}

bool RequestPipeline::Drain() {
  while (!in_flight_.empty()) {
    TakeOldest();
  }
  return ok_;
}

}  // namespace portrait::cli
