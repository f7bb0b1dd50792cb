#include "store/profile_vault.h"

#include <sodium.h>

#include <algorithm>
#include <set>

#include "base/caller_name.h"
#include "base/tag_path.h"
#include "config/loader.h"
#include "crypto/field_cipher.h"
#include "store/anchor_date.h"
#include "store/field_value.h"
#include "store/portrait_digest.h"
#include "store/stored_json.h"

namespace portrait::store {
namespace {

using crypto::FieldCipher;
using crypto::KeyView;
using nlohmann::json;

constexpr uint32_t kDataKeyGeneration = 1;
constexpr std::string_view kExternalIdField = "$external_id";
constexpr std::string_view kTagsField = "$tags";
constexpr std::string_view kMetricsField = "$metrics";
constexpr std::string_view kDigestField = "$digest";

Status CheckPatchShape(const json& patch) {
  if (!patch.is_object()) {
    return Status::InvalidArgument("the profile body must be a JSON object");
  }
  for (const auto& [key, value] : patch.items()) {
    if (key != "fields" && key != "tags" && key != "timezone") {
      return Status::InvalidArgument("unknown key '" + key +
                                     "' (expected fields, tags or timezone)");
    }
  }
  if (patch.contains("fields") && !patch["fields"].is_object()) {
    return Status::InvalidArgument("fields: expected an object of field name to value");
  }
  if (patch.contains("timezone") && !patch["timezone"].is_string()) {
    return Status::InvalidArgument("timezone: expected an IANA time zone name");
  }
  return Status::Ok();
}

Result<std::set<std::string>> ApplyTagPatch(const json& tags, std::set<std::string> current) {
  if (!tags.is_object()) {
    return Error(Status::InvalidArgument("tags: expected {\"add\": [...], \"remove\": [...]}"));
  }
  for (const auto& [op, list] : tags.items()) {
    if ((op != "add" && op != "remove") || !list.is_array()) {
      return Error(Status::InvalidArgument("tags: expected {\"add\": [...], \"remove\": [...]}"));
    }
    for (const json& tag : list) {
      if (!tag.is_string()) {
        return Error(Status::InvalidArgument("tags." + op + ": expected strings"));
      }
      const std::string& t = tag.get_ref<const std::string&>();
      PORTRAIT_RETURN_IF_ERROR(CheckTagPath(t));
      if (op == "add") {
        current.insert(t);
      } else {
        current.erase(t);
      }
    }
  }
  return current;
}

Result<json> OpenJson(KeyView key, ProfileId id, std::string_view name, std::string_view envelope) {
  PORTRAIT_ASSIGN_OR_RETURN(
      std::string text, FieldCipher::Open(key, FieldCipher::AssociatedData(id, name), envelope));
  std::optional<json> value = ParseStoredJson(text);
  if (!value) {
    return Error(Status::Corruption("profile " + std::to_string(id) + " field '" +
                                    std::string(name) + "' does not hold JSON"));
  }
  return std::move(*value);
}

// A stored external id, checked: stored state is never trusted to have the right type.
Result<std::string> ExternalIdOf(const json& stored, ProfileId id) {
  if (!stored.is_string()) {
    return Error(Status::Corruption("profile " + std::to_string(id) +
                                    ": the stored external id is not a string"));
  }
  return stored.get<std::string>();
}

// Stored tags, checked like the external id.
Result<std::vector<std::string>> TagList(const json& stored, ProfileId id) {
  std::vector<std::string> tags;
  for (const json& tag : stored.is_array() ? stored : json::array()) {
    if (!tag.is_string()) {
      break;
    }
    tags.push_back(tag.get<std::string>());
  }
  if (!stored.is_array() || tags.size() != stored.size()) {
    return Error(Status::Corruption("profile " + std::to_string(id) +
                                    ": the stored tags are not a list of strings"));
  }
  return tags;
}

Result<std::string> SealJson(KeyView key, ProfileId id, std::string_view name, const json& value) {
  return ProfileVault::SealWith(key, id, name, value.dump());
}

}  // namespace

Status ProfileVault::CheckExternalId(std::string_view id) {
  if (id.empty() || id.size() > 256 ||
      std::any_of(id.begin(), id.end(), [](unsigned char c) { return std::iscntrl(c); })) {
    return Status::InvalidArgument("external id must be 1-256 bytes without control characters");
  }
  return Status::Ok();
}

Status ProfileVault::Commit(const Batch& batch) {
  if (audit_log_) {
    PORTRAIT_RETURN_IF_ERROR(audit_log_->Commit(batch));
  } else {
    PORTRAIT_RETURN_IF_ERROR(store_.Commit(batch));
  }
  return Status::Ok();
}

std::string ProfileVault::ExtKey(std::string_view external_id) const {
  return blind_.Digest(kExternalIdField, external_id);
}

Result<crypto::SlabKey> ProfileVault::DataKey(ProfileId id) {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<std::string> wrapped, store_.GetDataKey(id));
  if (!wrapped) {
    return Error(
        Status::NotFound("profile " + std::to_string(id) + " has no data key (it was erased)"));
  }
  return Unwrap(id, *wrapped);
}

Result<crypto::SlabKey> ProfileVault::Unwrap(ProfileId id, std::string_view wrapped) {
  PORTRAIT_ASSIGN_OR_RETURN(crypto::SlabKey key, slab_.Acquire());
  PORTRAIT_RETURN_IF_ERROR(keys_.UnwrapDataKeyInto(id, wrapped, key.data()));
  return key;
}

Result<crypto::SlabKey> ProfileVault::NewDataKey() {
  PORTRAIT_ASSIGN_OR_RETURN(crypto::SlabKey key, slab_.Acquire());
  randombytes_buf(key.data(), crypto::SlabKey::kSize);
  return key;
}

tl::expected<CheckedPatch, PatchError> ProfileVault::CheckPatch(const json& patch) const {
  auto refuse = [](std::string field, Status s) {
    return tl::unexpected(PatchError{std::move(field), std::move(s)});
  };
  if (Status shape = CheckPatchShape(patch); !shape.ok()) {
    return refuse("body", shape);
  }
  CheckedPatch out;
  if (patch.contains("fields")) {
    const std::shared_ptr<const config::Config> config = config_.Get();
    for (const auto& [name, value] : patch["fields"].items()) {
      const config::Field* field = config->FindField(name);
      if (!field) {
        return refuse(CallerNameLabel(name),
                      Status::InvalidArgument("fields: unknown field " + QuotedCallerName(name) +
                                              " (declare it as a [[field]] in portrait.toml)"));
      }
      if (value.is_null()) {
        out.removed.push_back(name);
        continue;
      }
      auto checked = CheckFieldValue(*field, value, config->daemon.phone_region);
      if (!checked) {
        return refuse(name, checked.error());
      }
      out.set.emplace(name, std::move(*checked));
    }
  }
  if (patch.contains("tags")) {
    auto tags = ApplyTagPatch(patch["tags"], {});  // checks every tag and the shape
    if (!tags) {
      return refuse("tags", tags.error());
    }
    out.has_tags = true;
    for (const char* op : {"add", "remove"}) {
      for (const json& t : patch["tags"].value(op, json::array())) {
        (std::string_view(op) == "add" ? out.add_tags : out.remove_tags).push_back(t);
      }
    }
  }
  if (patch.contains("timezone")) {
    const std::string& tz = patch["timezone"].get_ref<const std::string&>();
    if (!config::IsKnownTimeZone(tz)) {
      return refuse("timezone",
                    Status::InvalidArgument("timezone: unknown time zone (use an IANA name such as "
                                            "Asia/Shanghai)"));
    }
    out.timezone = tz;
  }
  return out;
}

Status ProfileVault::SealPatch(const CheckedPatch& patch, KeyView key,
                               const std::vector<std::string>& old_tags, ProfileWrite& w) const {
  const ProfileId id = w.row.id;
  const std::shared_ptr<const config::Config> config = config_.Get();
  for (const std::string& name : patch.removed) {
    w.removed_fields.push_back(name);
    const config::Field* field = config->FindField(name);
    if (field && field->blind_index) {
      w.blind[name] = std::nullopt;
    }
  }
  for (const auto& [name, checked] : patch.set) {
    PORTRAIT_ASSIGN_OR_RETURN(w.set_fields[name], SealJson(key, id, name, checked.value));
    const config::Field* field = config->FindField(name);
    if (field && field->blind_index) {
      w.blind[name] = blind_.Digest(name, checked.index_key);
    }
  }
  AddAnchorChanges(*config, patch.set, patch.removed, w);  // the re-arm's plain dates
  if (patch.has_tags) {
    std::set<std::string> before(old_tags.begin(), old_tags.end());
    std::set<std::string> after = before;
    after.insert(patch.add_tags.begin(), patch.add_tags.end());
    for (const std::string& t : patch.remove_tags) {
      after.erase(t);
    }
    if (after != before) {
      w.row.tags.clear();
      if (!after.empty()) {
        PORTRAIT_ASSIGN_OR_RETURN(w.row.tags, SealJson(key, id, kTagsField, json(after)));
      }
    }
  }
  if (patch.timezone) {
    w.row.timezone = *patch.timezone;
  }
  return Status::Ok();
}

Result<std::vector<std::string>> ProfileVault::TagsOf(const ProfileRow& row, KeyView key) {
  if (row.tags.empty()) {
    return std::vector<std::string>{};
  }
  PORTRAIT_ASSIGN_OR_RETURN(json t, OpenJson(key, row.id, kTagsField, row.tags));
  return TagList(t, row.id);
}

Result<bool> ProfileVault::Unchanged(const ProfileRow& row, const CheckedPatch& patch,
                                     int64_t now_us, ProfileWrite& w) {
  PORTRAIT_ASSIGN_OR_RETURN(crypto::SlabKey key, DataKey(row.id));
  PORTRAIT_ASSIGN_OR_RETURN(auto stored, store_.GetFields(row.id));
  bool same = !patch.timezone || *patch.timezone == row.timezone;
  for (const std::string& name : patch.removed) {
    same = same && !stored.count(name);
  }
  for (auto it = patch.set.begin(); same && it != patch.set.end(); ++it) {
    auto found = stored.find(it->first);
    if (found == stored.end()) {
      same = false;
      break;
    }
    PORTRAIT_ASSIGN_OR_RETURN(json value, OpenJson(key, row.id, it->first, found->second));
    same = value == it->second.value;
  }
  PORTRAIT_ASSIGN_OR_RETURN(std::vector<std::string> tags, TagsOf(row, key));
  if (same && patch.has_tags) {
    std::set<std::string> after(tags.begin(), tags.end());
    after.insert(patch.add_tags.begin(), patch.add_tags.end());
    for (const std::string& t : patch.remove_tags) {
      after.erase(t);
    }
    same = after == std::set<std::string>(tags.begin(), tags.end());
  }
  if (same) {
    return true;
  }
  w.row = row;
  w.row.updated_us = now_us;
  PORTRAIT_RETURN_IF_ERROR(SealPatch(patch, key, tags, w));
  return false;
}

Status ProfileVault::SealNew(std::string_view external_id, const std::string& ext_key,
                             const CheckedPatch& patch, int64_t now_us, ProfileWrite& w,
                             std::string& wrapped_key, crypto::SlabKey& key) {
  // A new internal id (increasing: store/profile_ids.h) and a random data key.
  w.is_new = true;
  PORTRAIT_ASSIGN_OR_RETURN(w.row.id, ids_.Next(ext_key));
  w.row.ext_key = ext_key;
  w.row.created_us = w.row.updated_us = now_us;
  PORTRAIT_ASSIGN_OR_RETURN(key, NewDataKey());
  PORTRAIT_ASSIGN_OR_RETURN(w.row.external_id,
                            SealJson(key, w.row.id, kExternalIdField, json(external_id)));
  PORTRAIT_RETURN_IF_ERROR(SealPatch(patch, key, {}, w));
  PORTRAIT_ASSIGN_OR_RETURN(wrapped_key, keys_.WrapDataKey(w.row.id, key));
  return Status::Ok();
}

Result<UpsertResult> ProfileVault::Upsert(std::string_view external_id, const json& patch,
                                          std::optional<AuditEntry> audit) {
  PORTRAIT_RETURN_IF_ERROR(CheckExternalId(external_id));
  auto checked = CheckPatch(patch);
  if (!checked) {
    return Error(checked.error().status);
  }
  const std::string ext_key = ExtKey(external_id);
  const int64_t now = clock_.NowUs();
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<ProfileRow> existing, store_.GetProfileByKey(ext_key));
  Batch batch;
  ProfileWrite w;
  std::string wrapped;
  if (existing) {
    w.row = std::move(*existing);
    w.row.updated_us = now;
    PORTRAIT_ASSIGN_OR_RETURN(crypto::SlabKey key, DataKey(w.row.id));
    PORTRAIT_ASSIGN_OR_RETURN(std::vector<std::string> tags, TagsOf(w.row, key));
    PORTRAIT_RETURN_IF_ERROR(SealPatch(*checked, key, tags, w));
  } else {
    crypto::SlabKey key;
    PORTRAIT_RETURN_IF_ERROR(SealNew(external_id, ext_key, *checked, now, w, wrapped, key));
    // The key is durable before any ciphertext made with it; a crash in between leaves only an
    // orphan wrapped key, never an unreadable profile.
    PORTRAIT_RETURN_IF_ERROR(store_.PutDataKey(w.row.id, wrapped));
  }
  const ProfileId id = w.row.id;
  if (audit) {
    audit->profile_id = id;
    batch.audit.push_back(std::move(*audit));
  }
  batch.profiles.push_back(std::move(w));
  if (Status committed = Commit(batch); !committed.ok()) {
    if (!existing) {
      (void)DestroyKey(id);
    }
    return Error(committed);
  }
  return UpsertResult{id, !existing};
}

Result<ProfileId> ProfileVault::IdOf(std::string_view external_id) {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<ProfileRow> row,
                            store_.GetProfileByKey(ExtKey(external_id)));
  if (!row) {
    return Error(Status::NotFound("no such profile"));
  }
  return row->id;
}

Result<Profile> ProfileVault::Get(std::string_view external_id) {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<ProfileRow> row,
                            store_.GetProfileByKey(ExtKey(external_id)));
  if (!row) {
    return Error(Status::NotFound("no such profile"));
  }
  return Decrypt(*row);
}

Result<Profile> ProfileVault::GetById(ProfileId id) {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<ProfileRow> row, store_.GetProfile(id));
  if (!row) {
    return Error(Status::NotFound("profile " + std::to_string(id) + " does not exist"));
  }
  return Decrypt(*row);
}

Result<Profile> ProfileVault::Decrypt(const ProfileRow& row) {
  PORTRAIT_ASSIGN_OR_RETURN(crypto::SlabKey key, DataKey(row.id));
  return DecryptWith(row, key);
}

Result<ProfileVault::Addressed> ProfileVault::OpenAddressed(const ProfileRow& row,
                                                            std::string_view name,
                                                            std::string_view envelope) {
  PORTRAIT_ASSIGN_OR_RETURN(crypto::SlabKey key, DataKey(row.id));
  PORTRAIT_ASSIGN_OR_RETURN(json ext, OpenJson(key, row.id, kExternalIdField, row.external_id));
  PORTRAIT_ASSIGN_OR_RETURN(
      std::string plaintext,
      FieldCipher::Open(key, FieldCipher::AssociatedData(row.id, name), envelope));
  PORTRAIT_ASSIGN_OR_RETURN(std::string external_id, ExternalIdOf(ext, row.id));
  return Addressed{std::move(external_id), std::move(plaintext)};
}

Result<std::string> ProfileVault::OwnExternalId(const ProfileRow& row) {
  PORTRAIT_ASSIGN_OR_RETURN(crypto::SlabKey key, DataKey(row.id));
  PORTRAIT_ASSIGN_OR_RETURN(json ext, OpenJson(key, row.id, kExternalIdField, row.external_id));
  return ExternalIdOf(ext, row.id);
}

Profile ProfileVault::Unsealed(const ProfileRow& row) {
  Profile p;
  p.id = row.id;
  p.timezone = row.timezone;
  p.lifecycle = row.lifecycle;
  p.created_us = row.created_us;
  p.updated_us = row.updated_us;
  p.legal_hold = row.legal_hold;
  return p;
}

Result<Profile> ProfileVault::DecryptWith(const ProfileRow& row, KeyView key) {
  Profile p = Unsealed(row);
  PORTRAIT_ASSIGN_OR_RETURN(json ext, OpenJson(key, row.id, kExternalIdField, row.external_id));
  PORTRAIT_ASSIGN_OR_RETURN(p.external_id, ExternalIdOf(ext, row.id));
  if (!row.tags.empty()) {
    PORTRAIT_ASSIGN_OR_RETURN(json tags, OpenJson(key, row.id, kTagsField, row.tags));
    PORTRAIT_ASSIGN_OR_RETURN(p.tags, TagList(tags, row.id));
  }
  if (!row.metrics.empty()) {
    PORTRAIT_ASSIGN_OR_RETURN(p.metrics, OpenJson(key, row.id, kMetricsField, row.metrics));
  }
  PORTRAIT_ASSIGN_OR_RETURN(auto fields, store_.GetFields(row.id));
  for (const auto& [name, envelope] : fields) {
    PORTRAIT_ASSIGN_OR_RETURN(p.fields[name], OpenJson(key, row.id, name, envelope));
  }
  return p;
}

Result<Profile> ProfileVault::OpenPortrait(const PortraitInputs& in,
                                           const std::vector<std::string>* only_metrics) {
  PORTRAIT_ASSIGN_OR_RETURN(OpenedPortrait opened, OpenPortraitButFields(in, only_metrics));
  Profile& p = opened.profile;
  for (const auto& [name, envelope] : in.fields) {
    PORTRAIT_ASSIGN_OR_RETURN(p.fields[name], OpenJson(opened.key, p.id, name, envelope));
  }
  return std::move(p);
}

namespace {

// The name a digest is sealed under: its stamp and spec with it.
std::string DigestName(int64_t stamp, std::string_view spec) {
  return std::string(kDigestField) + ":" + std::to_string(stamp) + ":" + std::string(spec);
}

}  // namespace

Status ProfileVault::OpenDigest(const PortraitInputs& in, std::string_view spec,
                                PortraitDigest& out) {
  const ProfileId id = in.row.id;
  if (in.wrapped_key.empty()) {
    return Status::NotFound("profile " + std::to_string(id) + " has no data key (it was erased)");
  }
  Result<crypto::SlabKey> key = Unwrap(id, in.wrapped_key);
  if (!key) {
    return key.error();
  }
  Result<std::string> text = OpenWith(*key, id, DigestName(in.digest_stamp, spec), in.digest);
  if (!text) {
    return text.error();
  }
  if (!ParseDigest(id, *text, out)) {
    return Status::Corruption("profile " + std::to_string(id) + " digest is not one");
  }
  return Status::Ok();
}

Result<std::string> ProfileVault::SealDigest(KeyView key, ProfileId id, int64_t stamp,
                                             std::string_view spec, std::string_view text) {
  return SealWith(key, id, DigestName(stamp, spec), text);
}

Result<ProfileVault::OpenedPortrait> ProfileVault::OpenPortraitButFields(
    const PortraitInputs& in, const std::vector<std::string>* only_metrics) {
  const ProfileRow& row = in.row;
  if (in.wrapped_key.empty()) {
    return Error(
        Status::NotFound("profile " + std::to_string(row.id) + " has no data key (it was erased)"));
  }
  OpenedPortrait out;
  PORTRAIT_ASSIGN_OR_RETURN(out.key, Unwrap(row.id, in.wrapped_key));
  out.profile = Unsealed(row);
  PORTRAIT_ASSIGN_OR_RETURN(out.profile.tags, TagsOf(row, out.key));
  PORTRAIT_ASSIGN_OR_RETURN(out.profile.metrics, OpenMetrics(out.key, row, only_metrics));
  return out;
}

Result<OpenProfile> ProfileVault::OpenOrCreate(
    std::string_view external_id, std::vector<std::pair<ProfileId, std::string>>& new_keys) {
  PORTRAIT_RETURN_IF_ERROR(CheckExternalId(external_id));
  const std::string ext_key = ExtKey(external_id);
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<ProfileRow> row, store_.GetProfileByKey(ext_key));
  if (row) {
    return Open(row->id);
  }
  OpenProfile p;
  p.is_new = true;
  PORTRAIT_ASSIGN_OR_RETURN(p.row.id, ids_.Next(ext_key));
  p.row.ext_key = ext_key;
  p.row.created_us = p.row.updated_us = clock_.NowUs();
  PORTRAIT_ASSIGN_OR_RETURN(p.key, NewDataKey());
  PORTRAIT_ASSIGN_OR_RETURN(p.row.external_id,
                            SealJson(p.key, p.row.id, kExternalIdField, json(external_id)));
  PORTRAIT_ASSIGN_OR_RETURN(std::string wrapped, keys_.WrapDataKey(p.row.id, p.key));
  new_keys.emplace_back(p.row.id, std::move(wrapped));  // stored by the caller, first
  p.profile.id = p.row.id;
  p.profile.external_id = std::string(external_id);
  p.profile.created_us = p.profile.updated_us = p.row.created_us;
  return p;
}

Result<OpenProfile> ProfileVault::Open(ProfileId id) {
  PORTRAIT_ASSIGN_OR_RETURN(std::optional<ProfileRow> row, store_.GetProfile(id));
  if (!row) {
    return Error(Status::NotFound("profile " + std::to_string(id) + " does not exist"));
  }
  OpenProfile p;
  p.row = std::move(*row);
  PORTRAIT_ASSIGN_OR_RETURN(p.key, DataKey(id));
  PORTRAIT_ASSIGN_OR_RETURN(p.profile, DecryptWith(p.row, p.key));
  return p;
}

Result<ProfileWrite> ProfileVault::StateWrite(const OpenProfile& p, int64_t now_us) {
  ProfileWrite w;
  w.is_new = p.is_new;
  w.state_only = !p.is_new;
  w.row = p.row;
  w.row.updated_us = now_us;
  w.row.lifecycle = p.profile.lifecycle;
  w.row.metrics.clear();
  if (!p.profile.metrics.empty()) {
    PORTRAIT_ASSIGN_OR_RETURN(w.row.metrics, SealMetrics(p, p.profile.metrics));
  }
  return w;
}

Result<std::string> ProfileVault::SealMetrics(const OpenProfile& p, const json& metrics) const {
  return SealJson(p.key, p.row.id, kMetricsField, metrics);
}

Result<std::string> ProfileVault::SealWith(KeyView key, ProfileId id, std::string_view name,
                                           std::string_view plaintext) {
  return FieldCipher::Seal(key, kDataKeyGeneration, FieldCipher::AssociatedData(id, name),
                           plaintext);
}

Result<std::string> ProfileVault::OpenWith(KeyView key, ProfileId id, std::string_view name,
                                           std::string_view envelope) {
  return FieldCipher::Open(key, FieldCipher::AssociatedData(id, name), envelope);
}

Result<json> ProfileVault::OpenField(KeyView key, ProfileId id, std::string_view name,
                                     std::string_view envelope) {
  return OpenJson(key, id, name, envelope);
}

Result<json> ProfileVault::OpenMetrics(KeyView key, const ProfileRow& row,
                                       const std::vector<std::string>* only) {
  if (row.metrics.empty()) {
    return json::object();
  }
  if (!only) {
    return OpenJson(key, row.id, kMetricsField, row.metrics);
  }
  PORTRAIT_ASSIGN_OR_RETURN(
      std::string text,
      FieldCipher::Open(key, FieldCipher::AssociatedData(row.id, kMetricsField), row.metrics));
  std::optional<json> value = ParseStoredJson(text, only);
  if (!value) {
    return Error(
        Status::Corruption("profile " + std::to_string(row.id) + " metrics do not hold JSON"));
  }
  return std::move(*value);
}

Result<std::string> ProfileVault::Seal(const OpenProfile& p, std::string_view name,
                                       std::string_view plaintext) const {
  return SealWith(p.key, p.row.id, name, plaintext);
}

Result<std::vector<ProfileId>> ProfileVault::Find(std::string_view field_name, const json& value) {
  const std::shared_ptr<const config::Config> config = config_.Get();
  const config::Field* field = config->FindField(field_name);
  if (!field || !field->blind_index) {
    return Error(
        Status::InvalidArgument("'" + std::string(field_name) + "' is not a blind-indexed field"));
  }
  PORTRAIT_ASSIGN_OR_RETURN(CheckedValue checked,
                            CheckFieldValue(*field, value, config->daemon.phone_region));
  return store_.LookupBlind(field_name, blind_.Digest(field_name, checked.index_key));
}

Result<std::string> ProfileVault::SealFor(ProfileId id, std::string_view name,
                                          std::string_view plaintext) {
  PORTRAIT_ASSIGN_OR_RETURN(crypto::SlabKey key, DataKey(id));
  return FieldCipher::Seal(key, kDataKeyGeneration, FieldCipher::AssociatedData(id, name),
                           plaintext);
}

Result<std::string> ProfileVault::OpenFor(ProfileId id, std::string_view name,
                                          std::string_view envelope) {
  PORTRAIT_ASSIGN_OR_RETURN(crypto::SlabKey key, DataKey(id));
  return FieldCipher::Open(key, FieldCipher::AssociatedData(id, name), envelope);
}

}  // namespace portrait::store
