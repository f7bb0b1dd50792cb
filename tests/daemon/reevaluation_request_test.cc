// AddReevaluationRequest (daemon/ingestor.h) over a store's meta "portrait.requested": the
// next number, and a stored value that does not parse is Corruption naming the key instead of
// a silent 0 (review s26, finding 8: the request would be lost).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/ingestor.h"
#include "store/store.h"

namespace portrait::daemon {
namespace {

constexpr const char* kKey = "portrait.requested";

// The request number AddReevaluationRequest puts into a batch over `stored` (nullopt: none).
Result<std::string> NextRequest(const std::optional<std::string>& stored) {
  std::unique_ptr<store::Store> store = store::NewMemoryStore();
  if (stored) {
    store::Batch seed;
    seed.meta[kKey] = *stored;
    if (auto c = store->Commit(seed); !c) {
      return Error(c.error());
    }
  }
  store::Batch batch;
  PORTRAIT_RETURN_IF_ERROR(AddReevaluationRequest(*store, batch));
  return batch.meta.at(kKey);
}

TEST(ReevaluationRequest, NumbersFollowTheLastOne) {
  EXPECT_EQ(NextRequest(std::nullopt).value(), "1");
  EXPECT_EQ(NextRequest("1").value(), "2");
  EXPECT_EQ(NextRequest("41").value(), "42");
}

TEST(ReevaluationRequest, AStoredValueThatIsNotANumberIsCorruptionNamingTheKey) {
  const std::vector<std::string> bads = {
      "", "x", "7x", " 7", "-3", "1e3", "99999999999999999999", std::string("4\0", 2)};
  for (const std::string& bad : bads) {
    auto next = NextRequest(bad);
    ASSERT_FALSE(next.has_value()) << "'" << bad << "' gave " << *next;
    EXPECT_EQ(next.error().code(), Status::Code::kCorruption);
    EXPECT_NE(next.error().message().find(kKey), std::string::npos) << next.error().ToString();
  }
}

}  // namespace
}  // namespace portrait::daemon
