// The parsed portrait.toml: plain structs that remember where each entry was written, so that
// later checks (rules against policy, for one) can name file:line:col. Immutable once loaded;
// share a const Config between threads freely.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "base/latest.h"

namespace portrait::config {

struct SourcePos {
  std::string file;
  int line = 0;
  int column = 0;
  // "portrait.toml:12:3"
  std::string ToString() const;
};

enum class FieldType { kString, kPhone, kEmail, kDate, kNumber, kBool, kEnum };
enum class FieldClass { kPersonal, kSensitive };
enum class MaskKind { kRedact, kPhone, kEmail, kName, kDate, kYear };
enum class LawfulBasis { kConsent, kContract, kLegitimateInterest };
enum class SinkType { kWebhook, kFile, kExec };
enum class StoreKind { kSqlcipher, kPostgres };

struct DaemonConfig {
  std::string data_dir;  // absolute (relative paths resolve against the config's folder)
  std::string listen = "127.0.0.1:7451";
  std::string timezone = "UTC";     // IANA name; default for profiles without one
  std::vector<std::string> rules;   // glob patterns, absolute
  std::string phone_region = "CN";  // ISO 3166 region for phone numbers written without +CC
  int page_cache_mib = 64;
  // Absolute limit on reading one request (headers and body) and on draining the rest of a
  // refused one; a client that trickles bytes is closed when it passes.
  int request_timeout_seconds = 15;
  // How far into the future an event's `time` may lie (clock skew of the sender); events
  // beyond it, or before 1970, are refused.
  std::chrono::seconds event_future{7 * 86'400};
};

struct KeysConfig {
  std::string file;            // absolute path of the 32-byte master key, or empty
  std::string passphrase_env;  // name of the environment variable holding a passphrase, or empty
  int blind_index_bytes = 16;  // width of blind-index digests, 8..32
};

// Where profiles are stored: SQLCipher files in the data directory (the default, no [store]
// section), or PostgreSQL — a main database and a keystore database, each reached with its own
// role. Passwords never appear here: each comes from an environment variable or a file (or,
// neither named, from libpq's own sources: ~/.pgpass, a client certificate in the URL).
struct StoreConfig {
  StoreKind kind = StoreKind::kSqlcipher;
  std::string url;                     // libpq URI or key=value string, without a password
  std::string keystore_url;            // the same, of the keystore database
  std::string password_env;            // at most one of password_env and password_file
  std::string password_file;           // absolute
  std::string keystore_password_env;   // at most one of these two
  std::string keystore_password_file;  // absolute
  SourcePos pos;
  bool operator==(const StoreConfig& o) const {
    return std::tie(kind, url, keystore_url, password_env, password_file, keystore_password_env,
                    keystore_password_file) ==
           std::tie(o.kind, o.url, o.keystore_url, o.password_env, o.password_file,
                    o.keystore_password_env, o.keystore_password_file);
  }
};

// Several portraitd nodes on one PostgreSQL store (docs/SCALING.md): this node's name (unique,
// written in its audit records and leases), the address its peers answer 421 with, the partition
// count (fixed by `portraitctl init`; a node naming another one refuses to start) and how long a
// partition stays a silent node's. Absent (`enabled` false): one node, holding every partition.
struct ClusterConfig {
  bool enabled = false;
  std::string node;
  std::string address;  // e.g. "http://10.0.0.5:8080"
  int partitions = 256;
  std::chrono::seconds lease{10};
  SourcePos pos;
  bool operator==(const ClusterConfig& o) const {
    return std::tie(enabled, node, address, partitions, lease) ==
           std::tie(o.enabled, o.node, o.address, o.partitions, o.lease);
  }
};

// How often the audit chain's head is signed: after `checkpoint_every` records or
// `checkpoint_interval`, whichever comes first. Read at start.
struct AuditConfig {
  int checkpoint_every = 1000;
  std::chrono::seconds checkpoint_interval{60};
};

struct Field {
  std::string name;
  FieldType type = FieldType::kString;
  FieldClass field_class = FieldClass::kPersonal;
  bool blind_index = false;
  MaskKind mask = MaskKind::kRedact;
  std::vector<std::string> values;  // allowed values of an enum field
  SourcePos pos;
};

struct FrequencyCap {
  int max = 0;
  std::chrono::seconds per{0};  // whole days count from local midnights (see dispatch/)
  bool defer = false;           // over the cap: wait for room (else suppressed)
};

// The derived data a purpose may use (its `derived` key): whole kinds ("metrics", "lifecycle",
// "tags", "segments", "scores", "predictions") or single items of a kind ("metrics.orders",
// "tags.interest" — a tag root, covering interest/...; "segments.vip", "scores.rfm",
// "predictions.clv" — one segment, score or model). Absent: every metric and the lifecycle stage.
struct DerivedUse {
  std::vector<std::string> entries = {"metrics", "lifecycle"};  // as written
  // Whether the whole `kind` may be used, or (with `name`) its item `name`.
  bool Allows(std::string_view kind, std::string_view name = {}) const;
  // Whether tag `tag` ("interest/sports") may be used: all tags, or its root ("interest").
  bool AllowsTag(std::string_view tag) const;
};

// The kinds `derived` accepts.
const std::vector<std::string>& DerivedKinds();

struct Purpose {
  std::string name;
  LawfulBasis basis = LawfulBasis::kConsent;
  std::vector<std::string> fields;  // fields processing for it may use, in clear
  std::vector<std::string> masked;  // fields it may only see masked (never sent, never read)
  std::optional<FrequencyCap> cap;
  std::string quiet_hours;  // "21:00-08:00", or empty
  // May use `sensitive` fields; each use then needs the customer's separate sensitive consent.
  bool sensitive = false;
  // Direct marketing (its `marketing` key; by default every purpose whose basis is not
  // `contract`): a customer who objected to personalisation is left out of the segments its
  // triggers use and of its triggers that read scores, predictions or segments (profiling).
  bool marketing = true;
  DerivedUse derived;
  SourcePos pos;
};

struct Role {
  std::string name;
  std::vector<std::string> purposes;
  std::vector<std::string> can;     // permissions, e.g. "profiles.read"
  std::vector<std::string> read;    // fields seen in clear
  std::vector<std::string> masked;  // fields seen through their mask
  SourcePos pos;
};

struct Sink {
  std::string name;
  SinkType type = SinkType::kWebhook;
  std::string url;         // webhook
  std::string secret_env;  // webhook: variable holding the whsec_ secret
  std::string ca_file;     // webhook: optional private CA bundle
  std::string path;        // file
  std::string command;     // exec
  // exec: the daemon's environment variables the command may see, beyond PATH and LANG.
  std::vector<std::string> env;
  int max_attempts = 8;
  int concurrency = 4;
  std::chrono::seconds timeout{10};
  // A failed attempt is retried after about `backoff`, doubling with each attempt (jittered),
  // never more than `backoff_max`.
  std::chrono::seconds backoff{30};
  std::chrono::seconds backoff_max{6 * 3600};
  bool third_party = false;
  SourcePos pos;
};

// How long data is kept: events of one type, or fields of one class, not written for `retain`.
struct Retention {
  std::string event_type;                 // set for an event rule
  std::optional<FieldClass> field_class;  // set for a field rule
  std::chrono::seconds retain{0};
  SourcePos pos;
};

struct Config {
  std::string path;  // the file it was loaded from
  DaemonConfig daemon;
  KeysConfig keys;
  StoreConfig store;
  ClusterConfig cluster;
  AuditConfig audit;
  std::vector<Field> fields;
  std::vector<Purpose> purposes;
  std::vector<Role> roles;
  std::vector<Sink> sinks;
  std::vector<Retention> retention;

  // Lookups by name; nullptr when absent.
  const Field* FindField(std::string_view name) const;
  const Purpose* FindPurpose(std::string_view name) const;
  const Role* FindRole(std::string_view name) const;
  const Sink* FindSink(std::string_view name) const;
};

// Settings read only at start: the data directory, the listen address, the page cache, the
// keys, the audit cadence and the sinks. Sets those of `fresh` back to the values `in_force` has,
// and returns the names of those that differed ("daemon.listen"), for a reload to say they wait for
// a restart.
std::vector<std::string> KeepStartOnlySettings(const Config& in_force, Config& fresh);

// The config in force; a reload replaces it whole (see base/latest.h).
using ConfigHolder = Latest<Config>;

// The permissions a role may hold (a role's `can` list; docs/API.md says what each allows).
const std::vector<std::string>& KnownPermissions();

std::string_view FieldTypeName(FieldType type);

}  // namespace portrait::config
