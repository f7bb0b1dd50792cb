#include "daemon/check_pipeline.h"

#include <memory>
#include <utility>

namespace portrait::daemon {
namespace {

// A Start that is ready already.
template <typename Value>
std::shared_future<Value> Ready(Value value) {
  std::promise<Value> done;
  done.set_value(std::move(value));
  return done.get_future().share();
}

}  // namespace

CheckPipeline::CheckPipeline(Read read, Check check, store::ProfileId after)
    : read_(std::move(read)), check_(std::move(check)) {
  current_ = Launch(Ready(std::optional<store::ProfileId>(after)));
  following_ = Launch(current_.read);
}

CheckPipeline::Range CheckPipeline::Launch(Start after) {
  auto read_done = std::make_shared<std::promise<std::optional<store::ProfileId>>>();
  Range range;
  range.read = read_done->get_future().share();
  range.checked =
      std::async(std::launch::async, [this, after, read_done]() -> Result<ReevaluationCheck> {
        Result<CheckInputs> inputs = CheckInputs{};  // none: nothing left, or cancelled
        try {
          const std::optional<store::ProfileId> from = after.get();
          if (from && !cancelled_) {
            inputs = read_(*from);
          }
        } catch (...) {  // no memory, or the range before failed so: the successor's wait throws
          read_done->set_exception(std::current_exception());
          throw;
        }
        if (!inputs || inputs->profiles.empty()) {
          read_done->set_value(std::nullopt);
          return inputs ? ReevaluationCheck{} : Result<ReevaluationCheck>(Error(inputs.error()));
        }
        read_done->set_value(inputs->profiles.back().row.id);
        return cancelled_ ? ReevaluationCheck{} : check_(*inputs);
      });
  return range;
}

CheckPipeline::~CheckPipeline() { cancelled_ = true; }

Result<ReevaluationCheck> CheckPipeline::Next() {
  Result<ReevaluationCheck> check = current_.checked.get();
  current_ = std::move(following_);
  following_ = Launch(current_.read);
  return check;
}

}  // namespace portrait::daemon
