#include "daemon/job_runner.h"

#include <pthread.h>

namespace portrait::daemon {

JobRunner::JobRunner() : thread_([this] { Loop(); }) {}

JobRunner::~JobRunner() { Stop(); }

bool JobRunner::Post(Job job, std::string key) {
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      if (!key.empty() && !keys_.insert(key).second) {
        return false;
      }
      queue_.emplace_back(std::move(key), std::move(job));
      wake_.Signal();
      return true;
    }
  }
  job(/*stopping=*/true);
  return true;
}

void JobRunner::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
    wake_.SignalAll();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

void JobRunner::Release(const std::string& key) {
  MutexLock lock(mu_);
  if (!key.empty() && key == running_key_) {
    keys_.erase(key);
    running_key_.clear();
  }
}

size_t JobRunner::pending() const {
  MutexLock lock(mu_);
  return queue_.size() + running_;
}

void JobRunner::Loop() {
  ::pthread_setname_np(::pthread_self(), "jobs");
  while (true) {
    std::pair<std::string, Job> job;
    bool stopping = false;
    {
      MutexLock lock(mu_);
      while (queue_.empty() && !stopping_) {
        wake_.Wait(mu_);
      }
      if (queue_.empty()) {
        return;  // stopping, and nothing left to answer
      }
      job = std::move(queue_.front());
      queue_.pop_front();
      stopping = stopping_;
      running_key_ = job.first;
      ++running_;
    }
    job.second(stopping);
    job.second = nullptr;  // what it holds goes before its key is free again
    MutexLock lock(mu_);
    --running_;
    if (!running_key_.empty()) {  // not released by the job
      keys_.erase(running_key_);
      running_key_.clear();
    }
  }
}

}  // namespace portrait::daemon
