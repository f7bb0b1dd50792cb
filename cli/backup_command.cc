#include "cli/backup_command.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "base/time_format.h"
#include "cli/daemon_connection.h"
#include "config/loader.h"
#include "store/backup.h"

namespace portrait::cli {
namespace {

using nlohmann::json;

struct BackupOptions {
  std::string config_path = "portrait.toml";
  std::string dir;
  std::vector<std::string> ledgers;
  bool json = false;
};

json FilesJson(const store::BackupManifest& m) {
  json files = json::array();
  for (const store::BackupFile& f : m.files) {
    files.push_back({{"name", f.name}, {"size", f.size}, {"sha256", f.sha256}});
  }
  return files;
}

int RunCreate(const BackupOptions& opts) {
  auto config = config::LoadConfig(opts.config_path);
  if (!config) {
    return Fail("backup create", config.error());
  }
  SystemClock clock;
  auto m = store::CreateBackup(*config, opts.dir, clock);
  if (!m) {
    return Fail("backup create", m.error());
  }
  if (opts.json) {
    std::cout << json{{"dir", opts.dir},
                      {"created_at", FormatRfc3339(m->created_us)},
                      {"audit_seq", m->audit_seq},
                      {"audit_public_key", m->audit_public_key},
                      {"files", FilesJson(*m)}}
                     .dump()
              << "\n";
    return 0;
  }
  std::cout << "backed up " << config->daemon.data_dir << " into " << opts.dir << " at "
            << FormatRfc3339(m->created_us) << " (audit seq " << m->audit_seq << ")\n";
  for (const store::BackupFile& f : m->files) {
    std::cout << "  " << f.name << "  " << f.size << " bytes  sha256 " << f.sha256 << "\n";
  }
  std::cout << "The databases stay encrypted under the data directory's master key, which is not "
               "in the backup: keep the key (or passphrase) to restore it.\n";
  return 0;
}

void PrintRestore(const config::Config& config, const store::RestoreReport& r) {
  std::cout << "restored backup of " << FormatRfc3339(r.backup.created_us) << " (audit seq "
            << r.backup.audit_seq << ") into " << config.daemon.data_dir << "; re-applied "
            << r.reapplied << (r.reapplied == 1 ? " erasure" : " erasures") << " (of "
            << r.ledger_entries << " in the erasure ledgers)\n";
  for (const std::string& read : r.ledgers_read) {
    std::cout << "  ledger read: " << read << "\n";
  }
  for (const std::string& note : r.notes) {
    std::cout << "  note: " << note << "\n";
  }
  if (!r.kept_aside.empty()) {
    std::cout << "the databases it replaced are in " << r.kept_aside
              << " (delete them once the restored data is checked)\n";
  }
}

int RunRestore(const BackupOptions& opts) {
  auto config = config::LoadConfig(opts.config_path);
  if (!config) {
    return Fail("backup restore", config.error());
  }
  SystemClock clock;
  store::RestoreOptions options;
  options.ledgers = opts.ledgers;
  options.clock = &clock;
  auto report = store::RestoreBackup(*config, opts.dir, options);
  if (!report) {
    return Fail("backup restore", report.error());
  }
  if (opts.json) {
    std::cout << json{{"backup_created_at", FormatRfc3339(report->backup.created_us)},
                      {"backup_audit_seq", report->backup.audit_seq},
                      {"erasures_reapplied", report->reapplied},
                      {"ledger_entries", report->ledger_entries},
                      {"ledgers_read", report->ledgers_read},
                      {"notes", report->notes},
                      {"kept_aside", report->kept_aside}}
                     .dump()
              << "\n";
  } else {
    PrintRestore(*config, *report);
  }
  return 0;
}

}  // namespace

void AddBackupCommand(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<BackupOptions>();
  CLI::App* backup =
      app.add_subcommand("backup", "Back up the data directory online, and restore a backup");
  backup->require_subcommand(1);

  CLI::App* create = backup->add_subcommand(
      "create",
      "Copy both databases into DIR (new or empty) while portraitd runs: one consistent "
      "snapshot of each through SQLite's online backup API, still encrypted under the data "
      "directory's keys, and a manifest (audit sequence, sizes, SHA-256) written last. The "
      "master key is not copied: keep it (or the passphrase) to restore.\n"
      "  portraitctl backup create /var/backups/portrait/2026-12-02 --config "
      "/etc/portrait/portrait.toml");
  create->add_option("DIR", opts->dir, "directory to write the backup into")->required();
  create->add_option("-c,--config", opts->config_path, "path of portrait.toml")
      ->capture_default_str();
  create->add_flag("--json", opts->json, "print the result as JSON");
  create->callback([opts, &exit_code] { exit_code = RunCreate(*opts); });

  CLI::App* restore = backup->add_subcommand(
      "restore",
      "Restore the backup in DIR, offline (stop portraitd first): the manifest and digests "
      "checked, the databases put in place (the ones replaced kept in "
      "DATA_DIR/pre-restore-TIME/), and every erasure recorded since the backup re-applied from "
      "the erasure ledgers (DATA_DIR/erasures.log, the data directory's keystore, and each "
      "--ledger), so no erased customer comes back.\n"
      "  portraitctl backup restore /var/backups/portrait/2026-12-02 --config "
      "/etc/portrait/portrait.toml --ledger /var/backups/portrait/2026-12-03");
  restore->add_option("DIR", opts->dir, "the backup's directory")->required();
  restore->add_option("-c,--config", opts->config_path, "path of portrait.toml")
      ->capture_default_str();
  restore
      ->add_option("--ledger", opts->ledgers,
                   "another erasure ledger to re-apply: an erasures.log file, or a later "
                   "backup's (or an old data directory's) directory; repeatable")
      ->allow_extra_args(false);
  restore->add_flag("--json", opts->json, "print the result as JSON");
  restore->callback([opts, &exit_code] { exit_code = RunRestore(*opts); });
}

}  // namespace portrait::cli
