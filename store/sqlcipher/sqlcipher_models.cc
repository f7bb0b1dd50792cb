// The SQLCipher backend's fitted parameters (store.h ModelRow) and the fit's range read of the
// events of one type.
#include "store/sqlcipher/sqlcipher_store_impl.h"

namespace portrait::store {
namespace {

using sqlite::Stmt;

ModelRow ReadModel(const Stmt& s) {
  return ModelRow{s.Text(0), s.Text(1), s.Int(2), s.Text(3), s.Int(4)};
}

}  // namespace

Status SqlcipherStore::WriteModels(const std::vector<ModelRow>& models) {
  if (models.empty()) {
    return Status::Ok();
  }
  Stmt stored(main_, "SELECT version FROM models WHERE kind = ? AND name = ?;");
  Stmt put(main_,
           "INSERT OR REPLACE INTO models (kind, name, version, params, fitted_us) "
           "VALUES (?, ?, ?, ?, ?);");
  for (const ModelRow& m : models) {
    stored.Reset();
    stored.Bind(1, m.kind).Bind(2, m.name);
    PORTRAIT_ASSIGN_OR_RETURN(bool found, stored.Step());
    if (found && m.version <= stored.Int(0)) {
      return Status::Conflict(m.kind + " '" + m.name + "' has version " +
                              std::to_string(stored.Int(0)) + " already");
    }
    put.Reset();
    put.Bind(1, m.kind).Bind(2, m.name).Bind(3, m.version).Bind(4, m.params).Bind(5, m.fitted_us);
    PORTRAIT_RETURN_IF_ERROR(put.Run());
  }
  return Status::Ok();
}

Result<std::optional<ModelRow>> SqlcipherStore::GetModel(std::string_view kind,
                                                         std::string_view name) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main,
         "SELECT kind, name, version, params, fitted_us FROM models WHERE kind = ? AND name = ?;");
  s.Bind(1, kind).Bind(2, name);
  PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? std::optional<ModelRow>(ReadModel(s)) : std::nullopt;
}

Result<std::vector<ModelRow>> SqlcipherStore::ListModels() {
  auto reader = readers_.Acquire();
  Stmt s(reader->main,
         "SELECT kind, name, version, params, fitted_us FROM models ORDER BY kind, name;");
  return sqlite::ReadRows(s, ReadModel);
}

Result<std::vector<EventRow>> SqlcipherStore::EventsOfType(std::string_view type, int64_t until_us,
                                                           const EventCursor& after, int limit) {
  auto reader = readers_.Acquire();
  // events_by_type (type, time_us) bounds the range; the key orders events of one instant.
  Stmt s(reader->main,
         "SELECT key, profile_id, type, time_us, data FROM events "
         "WHERE type = ?1 AND time_us <= ?2 AND time_us >= ?3 "
         "AND (time_us > ?3 OR key > ?4) ORDER BY time_us, key LIMIT ?5;");
  s.Bind(1, type).Bind(2, until_us).Bind(3, after.time_us).BindBlob(4, after.key);
  s.Bind(5, int64_t{limit});
  return sqlite::ReadRows(s, [](const Stmt& r) {
    return EventRow{r.Text(0), r.Int(1), r.Text(2), r.Int(3), r.Text(4)};
  });
}

Result<std::optional<int64_t>> SqlcipherStore::LatestEventTime(std::string_view type) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main, "SELECT time_us FROM events WHERE type = ?1 ORDER BY time_us DESC LIMIT 1;");
  s.Bind(1, type);
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<int64_t> times,
                            sqlite::ReadRows(s, [](const Stmt& r) { return r.Int(0); }));
  if (times.empty()) {
    return std::optional<int64_t>();
  }
  return std::optional<int64_t>(times.front());
}

}  // namespace portrait::store
