// ServiceFixture plus the rules of the shipped example and the services over the outbox and the
// rules: TaskService, ExportService, RulesTestService. Tasks are written straight to the store,
// sealed with their profile's key as the ingestor seals them.
#pragma once

#include <filesystem>

#include "daemon/export_service.h"
#include "daemon/rules_holder.h"
#include "daemon/rules_test_service.h"
#include "daemon/task_service.h"
#include "tests/daemon/service_fixture.h"

namespace portrait::daemon {

class OutboxFixture : public ServiceFixture {
 protected:
  std::shared_ptr<const LoadedRules> ExampleRules() {
    std::filesystem::copy(std::string(PORTRAIT_SOURCE_DIR) + "/examples/rules", dir_ / "rules");
    auto loaded = LoadRules(in_force_.Get());
    EXPECT_TRUE(loaded) << loaded.error().ToString();
    return *loaded;
  }

  // A profile written by an admin; its internal id.
  store::ProfileId Profile(std::string_view external_id, const nlohmann::json& fields) {
    auto written = profiles_.Write(As("admin", "service"), external_id, {{"fields", fields}});
    EXPECT_TRUE(written) << written.error().ToString();
    return written->at("internal_id").get<store::ProfileId>();
  }

  // A task of profile `id` in `state`, with `payload` sealed as the ingestor seals it; its id.
  int64_t AddTask(store::ProfileId id, std::string trigger, std::string purpose, std::string state,
                  const nlohmann::json& payload = nlohmann::json::object()) {
    store::TaskRow t;
    t.dedupe = "dedupe-" + std::to_string(++tasks_added_);
    t.profile_id = id;
    t.trigger = std::move(trigger);
    t.purpose = std::move(purpose);
    t.channel = "sms";
    t.sink = "crm";
    t.state = std::move(state);
    t.due_us = Now();
    t.attempts = 3;
    t.payload = vault_.SealFor(id, store::TaskPayloadName(t.trigger), payload.dump()).value();
    t.created_us = t.updated_us = Now();
    store::Batch batch;
    batch.tasks.push_back(t);
    EXPECT_TRUE(store_.Commit(batch));
    std::vector<store::TaskRow> all = store_.GetTasks(id).value();
    return all.back().id;
  }

  std::vector<store::AuditRecord> Audit() { return data_.store->ReadAudit(0, 100000).value(); }

  int tasks_added_ = 0;
  RulesHolder rules_{ExampleRules()};
  TaskService tasks_{store_, vault_, audit_, clock_};
  ExportService exports_{store_, vault_, consents_, rules_, audit_, clock_};
  RulesTestService rules_test_{store_, vault_, consents_, rules_, audit_, data_.blind, clock_};
};

}  // namespace portrait::daemon
