#include "daemon/model_service.h"

#include "base/time_format.h"
#include "consent/access_policy.h"
#include "daemon/book_reader.h"
#include "daemon/consent_service.h"
#include "daemon/ingestor.h"
#include "daemon/purchase_log.h"
#include "rules/reads.h"

namespace portrait::daemon {
namespace {

using nlohmann::json;

store::AuditEntry FitRecord(int64_t now_us, const std::string& actor, const std::string& purpose,
                            const FittedModel& m, bool reevaluate) {
  json detail = {{"model", m.name},
                 {"version", m.version},
                 {"customers", m.customers},
                 {"read_from", m.read_from},
                 {"events", m.events},
                 {"without_amount", m.without_amount},
                 {"unreadable", m.unreadable},
                 {"dropped_customers", m.dropped_customers},
                 {"until", FormatRfc3339(m.until_us)},
                 {"r", m.bgnbd.r},
                 {"alpha", m.bgnbd.alpha},
                 {"a", m.bgnbd.a},
                 {"b", m.bgnbd.b},
                 {"log_likelihood", m.log_likelihood},
                 {"repeat_buyers", m.repeat_buyers},
                 {"reevaluate", reevaluate}};
  if (m.gamma_gamma) {
    detail["p"] = m.gamma_gamma->p;
    detail["q"] = m.gamma_gamma->q;
    detail["gamma"] = m.gamma_gamma->gamma;
  }
  return store::AuditEntry{now_us, actor, "model.fit", 0, purpose, detail.dump()};
}

}  // namespace

std::string ModelJobKey(std::string_view name) { return "model:" + std::string(name); }

const rules::Model* FindModel(const rules::RuleSet& set, std::string_view name) {
  for (const rules::Model& m : set.models) {
    if (m.name == name) {
      return &m;
    }
  }
  return nullptr;
}

void ModelService::Fit(const Caller& caller, const std::string& name, const FitOptions& options,
                       DerivedDone done) {
  if (!consent::HasPermission(*caller.role, "models.fit")) {
    return done(Error(RefuseRequest(d_.audit, d_.clock, caller, "models.fit")));
  }
  if (!FindModel(d_.rules.Get()->set, name)) {
    return done(Error(Status::NotFound("no [[model]] by that name in the rules in force")));
  }
  if (options.until_us && *options.until_us > d_.clock.NowUs()) {
    return done(Error(Status::InvalidArgument("until: must not be in the future")));
  }
  // The answer is shared with the job, which a refusal destroys unrun.
  auto answer = std::make_shared<DerivedDone>(std::move(done));
  const bool queued = d_.jobs.Post(
      [this, actor = caller.Actor(), purpose = caller.purpose->name, name, options,
       answer](bool stopping) {
        if (stopping) {
          return (*answer)(Error(Status::Unavailable("portraitd is shutting down")));
        }
        Result<json> result = FitNow(actor, purpose, name, options);
        d_.jobs.Release(ModelJobKey(name));  // answered: the next one may come
        (*answer)(std::move(result));
      },
      ModelJobKey(name));
  if (!queued) {
    (*answer)(Error(
        Status::Conflict("a fit of this model is queued or running: retry when it has finished")));
  }
}

Result<std::pair<std::vector<analytics::CustomerSummary>, FittedModel>> ModelService::Read(
    const rules::Model& model, int64_t until_us, bool from_events) {
  FittedModel counts;
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<int64_t> latest,
                            d_.store.LatestEventTime(model.purchases));
  const bool none_after = !latest || *latest <= until_us;  // the books hold no later day
  PORTRAIT_ASSIGN_OR_RETURN(bool complete, kept_.Complete(model));
  if (none_after && complete && !from_events) {
    PORTRAIT_ASSIGN_OR_RETURN(BookSummaries books, ReadBooks(d_.store, d_.vault, model, until_us));
    counts.read_from = "purchase_books";
    counts.dropped_customers = books.erased;
    return std::pair(std::move(books.customers), counts);
  }
  PORTRAIT_ASSIGN_OR_RETURN(
      PurchaseSummaries logs,
      ReadPurchases(d_.store, d_.vault, model.purchases, model.amount, until_us));
  counts.events = logs.events;
  counts.without_amount = logs.without_amount;
  counts.unreadable = logs.unreadable;
  counts.dropped_customers = static_cast<int64_t>(logs.dropped.size());
  return std::pair(Summaries(logs, {until_us, UnitOf(model)}), counts);
}

Result<json> ModelService::FitNow(const std::string& actor, const std::string& purpose,
                                  const std::string& name, const FitOptions& options) {
  const std::shared_ptr<const LoadedRules> rules = d_.rules.Get();
  const rules::Model* model = FindModel(rules->set, name);
  if (!model) {
    return Error(Status::NotFound("no [[model]] by that name in the rules in force"));
  }
  const int64_t started = d_.clock.NowUs();
  const int64_t until = options.until_us.value_or(started);
  PORTRAIT_ASSIGN_OR_RETURN(auto read, Read(*model, until, options.from_events));
  auto fitted = FitSummaries(*model, read.first, until);
  if (!fitted) {
    // The data's fault (nothing identifies a parameter), not the daemon's: 422.
    const Status& why = fitted.error();
    return Error(why.code() == Status::Code::kInternal
                     ? Status::InvalidArgument("model '" + name + "': " + why.message())
                     : why.WithContext("model '" + name + "'"));
  }
  fitted->read_from = read.second.read_from;
  fitted->events = read.second.events;
  fitted->without_amount = read.second.without_amount;
  fitted->unreadable = read.second.unreadable;
  fitted->dropped_customers = read.second.dropped_customers;
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<store::ModelRow> stored,
                            d_.store.GetModel(kModelKind, name));
  fitted->version = stored ? stored->version + 1 : 1;
  fitted->fitted_us = d_.clock.NowUs();
  // The portrait is re-evaluated only when it reads these predictions; the request commits
  // with them (DECISIONS 114).
  const bool reevaluate = rules::PortraitReads(rules->set, "predictions", name);
  store::Batch batch;
  batch.models.push_back(store::ModelRow{std::string(kModelKind), name, fitted->version,
                                         ModelParamsJson(*fitted), fitted->fitted_us});
  batch.audit.push_back(FitRecord(fitted->fitted_us, actor, purpose, *fitted, reevaluate));
  if (reevaluate) {
    PORTRAIT_RETURN_IF_ERROR(AddReevaluationRequest(d_.store, batch));
  }
  if (auto committed = d_.audit.Commit(batch); !committed) {
    return Error(committed.error());
  }
  auto next = std::make_shared<DerivedParams>(*d_.params.Get());
  next->models[name] = *fitted;
  d_.params.Set(std::move(next));
  d_.log.info(
      "model '{}' fitted from the {}: version {}, {} customers, {} events ({} without an "
      "amount, {} of profiles erased meanwhile skipped; {} customers erased or merged away "
      "meanwhile left out), {:.1f} s",
      name, fitted->read_from == "events" ? "events" : "purchase books", fitted->version,
      fitted->customers, fitted->events, fitted->without_amount, fitted->unreadable,
      fitted->dropped_customers, static_cast<double>(fitted->fitted_us - started) / 1e6);
  if (reevaluate) {
    changed_();
  }
  return ModelAnswer(*fitted);
}

Result<json> ModelService::Show(const Caller& caller, const std::string& name) {
  if (!consent::HasPermission(*caller.role, "models.read")) {
    return Error(RefuseRequest(d_.audit, d_.clock, caller, "models.read"));
  }
  const std::shared_ptr<const DerivedParams> params = d_.params.Get();
  auto it = params->models.find(name);
  if (it == params->models.end()) {
    return Error(Status::NotFound("no fitted model by that name"));
  }
  PORTRAIT_RETURN_IF_ERROR(d_.audit.Append(
      {store::AuditEntry{d_.clock.NowUs(), caller.Actor(), "model.read", 0, caller.purpose->name,
                         json{{"model", name}, {"version", it->second.version}}.dump()}}));
  return ModelAnswer(it->second);
}

}  // namespace portrait::daemon
