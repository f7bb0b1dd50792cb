// JobRunner: a keyed job is refused while one of its key is queued or running, and accepted
// again once it has finished; jobs without a key, or of another key, queue as before.
#include "daemon/job_runner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace portrait::daemon {
namespace {

TEST(JobRunner, AKeyIsRefusedWhileItsJobIsQueuedOrRunningAndFreeAfter) {
  JobRunner runner;
  std::promise<void> started, release;
  std::shared_future<void> go = release.get_future().share();
  std::atomic<int> ran{0};
  ASSERT_TRUE(runner.Post(
      [&](bool) {
        started.set_value();
        go.wait();
        ++ran;
      },
      "model:clv"));
  started.get_future().wait();                                        // running now
  EXPECT_FALSE(runner.Post([&](bool) { ran += 100; }, "model:clv"));  // running: refused
  EXPECT_TRUE(runner.Post([&](bool) { ++ran; }, "score:rfm"));        // another key: queued
  EXPECT_FALSE(runner.Post([&](bool) { ran += 100; }, "score:rfm"));  // queued: refused
  EXPECT_TRUE(runner.Post([&](bool) { ++ran; }));                     // no key
  EXPECT_TRUE(runner.Post([&](bool) { ++ran; }));
  EXPECT_EQ(runner.pending(), 4u);
  release.set_value();
  // Once the key's job has finished, the key is free again.
  std::promise<void> second;
  while (!runner.Post([&](bool) { second.set_value(); }, "model:clv")) {
    std::this_thread::yield();  // the first job is finishing (no sleep: it ends by itself)
  }
  second.get_future().wait();
  runner.Stop();
  EXPECT_EQ(ran.load(), 4);
}

TEST(JobRunner, AJobRefusedIsDestroyedUnrunAndWhatItHeldIsReleased) {
  JobRunner runner;
  std::promise<void> started, release;
  std::shared_future<void> go = release.get_future().share();
  ASSERT_TRUE(runner.Post(
      [&](bool) {
        started.set_value();
        go.wait();
      },
      "k"));
  started.get_future().wait();
  auto held = std::make_shared<int>(1);
  EXPECT_FALSE(runner.Post([held](bool) {}, "k"));
  EXPECT_EQ(held.use_count(), 1);  // the refused job's copy is gone
  release.set_value();
  runner.Stop();
  EXPECT_EQ(runner.pending(), 0u);
}

// A job frees its key before it answers: the client answered may post the next one at once,
// and the key is not freed again (taking the next job's) when the first job ends.
TEST(JobRunner, AJobReleasesItsKeyBeforeItAnswers) {
  JobRunner runner;
  std::promise<void> answered, finish;
  std::shared_future<void> go = finish.get_future().share();
  ASSERT_TRUE(runner.Post(
      [&](bool) {
        runner.Release("model:clv");
        answered.set_value();
        go.wait();
      },
      "model:clv"));
  answered.get_future().wait();
  std::promise<void> second_started, second_finish;
  std::shared_future<void> second_go = second_finish.get_future().share();
  EXPECT_TRUE(runner.Post(
      [&](bool) {
        second_started.set_value();
        second_go.wait();
      },
      "model:clv"));  // accepted while the first still runs
  finish.set_value();
  second_started.get_future().wait();                   // the first has ended
  EXPECT_FALSE(runner.Post([](bool) {}, "model:clv"));  // the second still holds the key
  second_finish.set_value();
  runner.Stop();
}

}  // namespace
}  // namespace portrait::daemon
