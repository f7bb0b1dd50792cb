#include "daemon/server.h"

#include <pthread.h>

#include <boost/asio/steady_timer.hpp>
#include <thread>

#include "config/loader.h"
#include "crypto/audit_signer.h"
#include "daemon/api.h"
#include "daemon/cluster_node.h"
#include "daemon/derived_crons.h"
#include "daemon/derived_values.h"
#include "daemon/dispatcher.h"
#include "daemon/scheduler.h"
#include "rules/metrics.h"
#include "store/data_dir.h"
#include "store/key_rotation_protocol.h"

namespace portrait::daemon {

// Every component, in construction order (each refers only to those above it).
struct Server::Parts {
  Parts(store::DataDirLock data_dir_lock, std::shared_ptr<const LoadedRules> rules,
        const Clock& clock, spdlog::logger& log, store::DataDir data_dir,
        crypto::AuditSigner audit_signer, crypto::BlindIndex token_hasher_,
        std::shared_ptr<const DerivedParams> fitted, crypto::CursorSealer member_cursors,
        std::unique_ptr<ClusterNode> cluster_node)
      : lock(std::move(data_dir_lock)),
        config(rules->config),
        clock(clock),
        log(log),
        data(std::move(data_dir)),
        cluster(std::move(cluster_node)),
        signer(std::move(audit_signer)),
        token_hasher(std::move(token_hasher_)),
        audit(*data.store, signer, data.keys.audit_mac_key(), clock,
              store::AuditCadence{rules->config->audit.checkpoint_every,
                                  rules->config->audit.checkpoint_interval}),
        vault(config, *data.store, data.keys, data.blind, clock, &audit),
        tokens(*data.store, audit, token_hasher, clock),
        consents(*data.store, vault, audit, clock, log),
        profiles(vault, consents, audit, clock, log),
        tasks(*data.store, vault, audit, clock),
        rules_holder(std::move(rules)),
        segments(*data.store, vault, profiles, audit, rules_holder, clock,
                 std::move(member_cursors)),
        exports(*data.store, vault, consents, rules_holder, audit, clock),
        rules_test(*data.store, vault, consents, rules_holder, audit, data.blind, clock),
        merges(*data.store, vault, audit, rules_holder, clock, log),
        ingestor(*data.store, vault, consents, audit, rules_holder, data.blind, clock),
        writer(ingestor, audit, telemetry),
        imports(vault, profiles, *data.store, data.blind, writer, ingestor, audit, clock, log,
                cluster.get()),
        derived(std::move(fitted)),
        kept_marks(*data.store, audit),
        models(DerivedDeps{*data.store, vault, audit, rules_holder, derived, jobs, clock, log},
               kept_marks),
        scores(DerivedDeps{*data.store, vault, audit, rules_holder, derived, jobs, clock, log},
               profiles),
        crons(models, scores,
              DerivedDeps{*data.store, vault, audit, rules_holder, derived, jobs, clock, log}),
        stats(*data.store, audit, clock),
        timeline(*data.store, vault, profiles, audit, clock),
        auth(tokens, token_hasher, clock),
        api(ApiDeps{config,     *data.store,
                    vault,      tokens,
                    audit,      profiles,
                    consents,   tasks,
                    segments,   merges,
                    exports,    rules_test,
                    sends,      ingestor,
                    writer,     rules_holder,
                    auth,       telemetry,
                    data.blind, clock,
                    log,        [this] { return server->Reload(); },
                    imports,    models,
                    scores,     stats,
                    timeline,   cluster.get()}),
        http(io,
             HttpLimits{.read_timeout =
                            std::chrono::seconds(config.Get()->daemon.request_timeout_seconds)},
             [this](HttpRequest&& request, const std::string& remote, Reply reply) {
               api.Handle(std::move(request), remote, std::move(reply));
             }),
        drain(io),
        checkpoint_timer(io) {
    // A destroyed key leaves no copy in the ingestor's caches, whatever the operation.
    vault.OnKeyDestroyed([this](store::ProfileId id) { ingestor.Forget(id); });
    // After a fit or refresh changed parameters that a stage, tag or segment reads, every
    // profile is re-evaluated (in the scheduler's writer jobs; the request is already durable in
    // the fit's batch), so they follow at once, not at each profile's next event or daily timer.
    models.OnChanged([this] { server->RequestReevaluation(); });
    scores.OnChanged([this] { server->RequestReevaluation(); });
    // A profile view's and an export's scores and predictions: computed now, from the rules and
    // parameters in force; its rule-driven tags and segments as the purpose may see them.
    auto computer = [this](const config::Purpose& purpose, const nlohmann::json& metrics) {
      const std::shared_ptr<const LoadedRules> in_force = rules_holder.Get();
      const std::shared_ptr<const DerivedParams> params = derived.Get();
      const int64_t now = this->clock.NowUs();
      return ProfileService::Derived{ScoresOf(in_force->set, *params, metrics, now),
                                     PredictionsOf(in_force->set, *params, metrics, now),
                                     RuleTagsShown(purpose, *in_force, metrics),
                                     SegmentsShown(purpose, *in_force, metrics),
                                     rules::TimeMetricNames(in_force->set.metrics)};
    };
    profiles.SetDerived(computer);
    exports.SetDerived(computer);
    // The engine's scores and predictions: from the parameters in force when a group begins.
    auto values = [this](std::shared_ptr<const LoadedRules> in_force) {
      return std::shared_ptr<const rules::DerivedValues>(
          std::make_shared<const FittedValues>(std::move(in_force), derived.Get()));
    };
    ingestor.SetDerived(values);
    rules_test.SetDerived(values);
  }

  store::DataDirLock lock;  // held while the daemon lives: no rotation meanwhile
  Server* server = nullptr;
  config::ConfigHolder config;
  const Clock& clock;
  spdlog::logger& log;
  store::DataDir data;
  std::unique_ptr<ClusterNode> cluster;  // among several nodes; stopped after the writer
  crypto::AuditSigner signer;
  crypto::BlindIndex token_hasher;
  store::AuditLog audit;
  store::ProfileVault vault;
  store::TokenRegistry tokens;
  ConsentService consents;
  SendGate sends;
  ProfileService profiles;
  TaskService tasks;
  RulesHolder rules_holder;
  SegmentService segments;
  ExportService exports;
  RulesTestService rules_test;
  MergeService merges;
  Telemetry telemetry;
  Ingestor ingestor;
  Writer writer;
  ImportService imports;
  DerivedHolder derived;  // the fitted parameters in force
  KeptMarks kept_marks;   // which metrics and purchase books hold every stored event
  JobRunner jobs;         // fits and refreshes; stopped before the services it uses go
  ModelService models;
  ScoreService scores;
  DerivedCrons crons;  // the [[model]]s' and [[score]]s' refresh crons
  StatsService stats;
  TimelineService timeline;
  Authenticator auth;
  Api api;
  boost::asio::io_context io;
  HttpServer http;
  boost::asio::steady_timer drain;
  boost::asio::steady_timer checkpoint_timer;
  boost::asio::steady_timer crons_timer{io};
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<Dispatcher> dispatcher;
  int drain_ticks = 0;
  bool answers_written = false;
  bool checkpoint_armed = false;
};

Result<std::unique_ptr<Server>> Server::Open(const config::Config& config, const Clock& clock,
                                             spdlog::logger& log) {
  PORTRAIT_ASSIGN_OR_RETURN(std::shared_ptr<const LoadedRules> rules,
                            LoadRules(std::make_shared<const config::Config>(config)));
  // The daemon holds its data directory's lock for its whole life, and finishes a key
  // rotation a crash interrupted before it opens anything (docs/DECISIONS.md 128).
  Result<store::DataDirLock> lock = store::LockDataDir(config, "portraitd");
  if (!lock) {
    return Error(lock.error().code() == Status::Code::kUnavailable
                     ? Status::Unavailable(lock.error().message() +
                                           "; portraitd runs alone on its data directory (a key "
                                           "rotation runs offline)")
                     : lock.error());
  }
  const store::RotationState interrupted = store::InspectRotation(store::RotationPathsFor(config));
  if (interrupted != store::RotationState::kNone) {
    log.warn(interrupted == store::RotationState::kCommitted
                 ? "finishing a key rotation interrupted after its commit: the store moves to "
                   "the new master key"
                 : "rolling back a key rotation interrupted before its commit: the store stays "
                   "on the old master key");
  }
  PORTRAIT_ASSIGN_OR_RETURN(store::DataDir data, store::OpenDataDir(config, &*lock));
  PORTRAIT_ASSIGN_OR_RETURN(crypto::AuditSigner signer,
                            crypto::AuditSigner::Create(data.keys.audit_seed()));
  PORTRAIT_ASSIGN_OR_RETURN(crypto::BlindIndex token_hasher,
                            crypto::BlindIndex::Create(data.keys.token_key(), 32));
  PORTRAIT_ASSIGN_OR_RETURN(std::shared_ptr<const DerivedParams> fitted,
                            LoadDerivedParams(*data.store));
  PORTRAIT_ASSIGN_OR_RETURN(crypto::CursorSealer member_cursors, crypto::CursorSealer::Create());
  std::unique_ptr<ClusterNode> cluster;
  if (config.cluster.enabled) {
    PORTRAIT_ASSIGN_OR_RETURN(cluster, OpenClusterNode(config, *data.store, log));
  }
  auto parts = std::make_unique<Parts>(
      std::move(*lock), std::move(rules), clock, log, std::move(data), std::move(signer),
      std::move(token_hasher), std::move(fitted), std::move(member_cursors), std::move(cluster));
  return std::unique_ptr<Server>(new Server(std::move(parts)));
}

Server::Server(std::unique_ptr<Parts> parts) : p_(std::move(parts)) { p_->server = this; }

Server::~Server() {
  p_->jobs.Stop();
  if (p_->scheduler) {
    p_->scheduler->Stop();
  }
  if (p_->dispatcher) {
    p_->dispatcher->Stop();  // waits for the attempts in flight and records them
  }
  p_->writer.Stop();
  if (p_->cluster) {
    p_->cluster->Stop();  // gives back the partitions once nothing more is written
  }
}

Result<std::string> Server::Listen(const std::string& address) {
  PORTRAIT_ASSIGN_OR_RETURN(std::string bound, p_->http.Listen(address));
  if (!p_->scheduler) {
    // The rules may differ from the last run's: the kept marks follow them before any event.
    PORTRAIT_RETURN_IF_ERROR(p_->writer.Run([this]() -> Status {
      PORTRAIT_RETURN_IF_ERROR(p_->ingestor.NoteRulesInForce(*p_->rules_holder.Get()));
      return p_->kept_marks.Replace(p_->rules_holder, p_->rules_holder.Get());
    }));
    // Rules or the time zone changed while the daemon was stopped: the stored timers were armed
    // for others, and are brought in line before the first sweep. Among several nodes, the
    // scheduler passes each held partition whose mark differs (docs/DECISIONS.md 173).
    const bool several = p_->data.store->HeldPartitions().has_value();
    bool armed = several;
    if (!several) {
      PORTRAIT_ASSIGN_OR_RETURN(armed, p_->ingestor.RulesArmed());
    }
    if (!armed && profiles() == 0) {
      PORTRAIT_RETURN_IF_ERROR(p_->writer.Run([this] { return p_->ingestor.MarkRulesArmed(0); }));
      armed = true;
    } else if (!armed) {
      p_->log.info(
          "the rules or the time zone differ from those the timers were armed for; "
          "re-arming");
    }
    p_->scheduler = std::make_unique<Scheduler>(
        p_->writer, p_->ingestor, p_->kept_marks, p_->rules_holder, p_->config, *p_->data.store,
        p_->clock, p_->telemetry, p_->log, /*rearm_first=*/!armed);
  }
  if (!p_->checkpoint_armed) {
    p_->checkpoint_armed = true;
    CheckpointTick();
    CronsTick();
  }
  if (!p_->dispatcher) {
    DispatcherDeps deps{p_->writer,       *p_->data.store, p_->vault,     p_->consents,
                        p_->sends,        p_->data.keys,   p_->audit,     p_->config,
                        p_->rules_holder, p_->clock,       p_->telemetry, p_->log,
                        p_->cluster.get()};
    if (!p_->cluster) {  // among several nodes, the dispatcher's rounds recover what they take
      PORTRAIT_RETURN_IF_ERROR(Dispatcher::RecoverInterrupted(deps));
    }
    PORTRAIT_RETURN_IF_ERROR(p_->writer.Run([this] { return p_->merges.FinishInterrupted(); }));
    p_->dispatcher = std::make_unique<Dispatcher>(deps);
    p_->writer.OnTasksCreated([this] { p_->dispatcher->Wake(); });
  }
  return bound;
}

void Server::Run(int threads) {
  auto work = boost::asio::make_work_guard(p_->io);
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) {
    pool.emplace_back([this] {
      ::pthread_setname_np(::pthread_self(), "http-io");  // for top -H and profiles
      p_->io.run();
    });
  }
  p_->io.run();
  for (auto& t : pool) {
    t.join();
  }
}

void Server::CheckpointTick() {
  p_->checkpoint_timer.expires_after(p_->config.Get()->audit.checkpoint_interval);
  p_->checkpoint_timer.async_wait([this](const boost::system::error_code& error) {
    if (error) {
      return;  // cancelled: stopping
    }
    if (Status s = p_->audit.Checkpoint(); !s.ok()) {
      p_->log.error("cannot sign the audit checkpoint: {}", s.message());
    }
    CheckpointTick();
  });
}

void Server::CronsTick() {
  p_->crons_timer.expires_after(std::chrono::seconds(5));
  p_->crons_timer.async_wait([this](const boost::system::error_code& error) {
    if (error) {
      return;  // cancelled: stopping
    }
    p_->crons.Tick();
    CronsTick();
  });
}

void Server::Shutdown() {
  boost::asio::post(p_->io, [this] {
    p_->checkpoint_timer.cancel();
    p_->crons_timer.cancel();
    p_->http.StopAccepting();
    p_->api.StartShutdown();
    DrainTick();
  });
}

void Server::DrainTick() {
  // Wait (10 s at most) until every request in flight is answered, then one more tick for the
  // answers to be written.
  p_->drain.expires_after(std::chrono::milliseconds(20));
  p_->drain.async_wait([this](const boost::system::error_code&) {
    const bool busy = p_->api.in_flight() > 0 || p_->telemetry.writer_queue.load() > 0;
    if (busy && ++p_->drain_ticks < 500) {
      return DrainTick();
    }
    if (!p_->answers_written) {
      p_->answers_written = true;
      return DrainTick();
    }
    p_->io.stop();
  });
}

Status Server::Close() {
  p_->jobs.Stop();  // the fit under way finishes; those queued are answered 503
  if (p_->scheduler) {
    p_->scheduler->Stop();
  }
  if (p_->dispatcher) {
    p_->dispatcher->Stop();  // waits for the attempts in flight and records them
  }
  p_->writer.Stop();  // commits whatever is queued
  // Sign the audit chain's head, so that cutting records off its end is detectable.
  return p_->audit.Checkpoint();
}

Status Server::Reload() {
  const std::shared_ptr<const config::Config> in_force = p_->config.Get();
  auto refuse = [&](const Status& why) {
    p_->log.error("reload refused, keeping the config and rules in force:\n{}", why.message());
    return why;
  };
  auto loaded = config::LoadConfig(in_force->path);
  if (!loaded) {
    return refuse(loaded.error());
  }
  auto fresh = std::make_shared<config::Config>(std::move(*loaded));
  const std::vector<std::string> start_only = config::KeepStartOnlySettings(*in_force, *fresh);
  auto next = LoadRules(fresh);
  if (!next) {
    return refuse(next.error());
  }
  for (const std::string& setting : start_only) {
    p_->log.warn("{} changed in {}; it takes effect at the next start", setting, fresh->path);
  }
  const bool rules_changed = p_->rules_holder.Get()->fingerprint != (*next)->fingerprint;
  // Audited before it takes effect: if the record can't be written, the reload is refused and
  // the config in force stays, so no request is ever served under an unaudited config.
  Status audited = p_->audit.Append(
      {store::AuditEntry{p_->clock.NowUs(), "system", "config.reload", 0, "",
                         nlohmann::json{{"triggers", (*next)->set.triggers.size()},
                                        {"rules_fingerprint", (*next)->fingerprint},
                                        {"waiting_for_restart", start_only}}
                             .dump()}});
  if (!audited.ok()) {
    return refuse(audited.WithContext("cannot audit the reload"));
  }
  // On the writer, so no event group runs while the epoch and the kept values' marks follow the
  // rules.
  Status replaced = p_->writer.Run([&]() -> Status {
    PORTRAIT_RETURN_IF_ERROR(p_->ingestor.NoteRulesInForce(**next));
    return p_->kept_marks.Replace(p_->rules_holder, *next);
  });
  if (!replaced.ok()) {
    return refuse(replaced.WithContext("cannot update the kept values' marks"));
  }
  p_->config.Set(fresh);
  p_->log.info("config and rules reloaded: {} triggers{}", (*next)->set.triggers.size(),
               rules_changed ? "; re-arming timers" : " (rules unchanged)");
  if (rules_changed && p_->scheduler) {
    p_->scheduler->RequestRearm();
  }
  return Status::Ok();
}

void Server::RequestReevaluation() {
  if (p_->scheduler) {
    p_->scheduler->RequestReevaluation();
  }
}

boost::asio::io_context& Server::io() { return p_->io; }

Api& Server::api() { return p_->api; }

int64_t Server::profiles() const {
  auto n = p_->data.store->CountProfiles();
  return n ? *n : -1;
}

size_t Server::triggers() const { return p_->rules_holder.Get()->set.triggers.size(); }

}  // namespace portrait::daemon
