#include "cli/audit_command.h"

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/daemon_connection.h"
#include "config/loader.h"
#include "crypto/audit_signer.h"
#include "store/audit_log.h"
#include "store/data_dir.h"

namespace portrait::cli {
namespace {

struct AuditOptions {
  std::string config_path = "portrait.toml";
  std::string file;
  std::string pubkey;
  bool json = false;
  std::string out;
  DaemonOptions daemon;
};

// The export comes from the running daemon (GET /v1/audit/export), which signs its head first.
int RunExport(const AuditOptions& opts) {
  auto conn = DaemonConnection::Open(opts.daemon);
  if (!conn) {
    return Fail("audit export", conn.error());
  }
  auto text = conn->CallRaw("GET", "/v1/audit/export");
  if (!text) {
    return Fail("audit export", text.error());
  }
  if (opts.out.empty()) {
    std::cout << *text;
    return std::cout.flush() ? 0 : 1;
  }
  std::ofstream file(opts.out, std::ios::trunc);
  file << *text;
  file.close();
  if (!file) {
    std::cerr << "portraitctl audit export: cannot write " << opts.out << "\n";
    return 1;
  }
  std::cerr << "wrote " << opts.out << "; check it with portraitctl audit verify --file "
            << opts.out << " --pubkey KEY\n";
  return 0;
}

int RunVerifyFile(const AuditOptions& opts) {
  auto key = crypto::FromHex(opts.pubkey);
  if (!key || key->size() != 32) {
    std::cerr << "portraitctl audit verify: --pubkey must be 64 hex digits (from `portraitctl "
                 "audit pubkey`)\n";
    return 2;
  }
  std::ifstream in(opts.file);
  if (!in) {
    std::cerr << "portraitctl audit verify: cannot read " << opts.file << "\n";
    return 1;
  }
  auto v = store::VerifyAuditExport(in, *key);
  if (!v) {
    std::cerr << "portraitctl audit verify: " << opts.file << ": " << v.error().message() << "\n";
    return 1;
  }
  if (opts.json) {
    std::cout << nlohmann::json{{"ok", v->ok},
                                {"records", v->records},
                                {"checkpoints", v->checkpoints},
                                {"first_bad_seq", v->first_bad_seq},
                                {"problem", v->problem}}
                     .dump()
              << "\n";
  } else if (v->ok) {
    std::cout << "ok: " << v->records << " records, " << v->checkpoints
              << " signed checkpoints verified\n";
  } else {
    std::cout << "BROKEN at record " << v->first_bad_seq << ": " << v->problem << "\n";
  }
  return v->ok ? 0 : 1;
}

int RunPubkey(const AuditOptions& opts) {
  auto config = config::LoadConfig(opts.config_path);
  if (!config) {
    std::cerr << "portraitctl audit pubkey: " << config.error().message() << "\n";
    return 1;
  }
  auto data = store::OpenDataDir(*config);
  if (!data) {
    std::cerr << "portraitctl audit pubkey: " << data.error().message() << "\n";
    return 1;
  }
  auto signer = crypto::AuditSigner::Create(data->keys.audit_seed());
  if (!signer) {
    std::cerr << "portraitctl audit pubkey: " << signer.error().message() << "\n";
    return 1;
  }
  std::cout << crypto::ToHex(signer->public_key()) << "\n";
  return 0;
}

}  // namespace

void AddAuditCommand(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<AuditOptions>();
  CLI::App* audit = app.add_subcommand("audit", "Verify and inspect the signed audit log");
  audit->require_subcommand(1);

  CLI::App* verify = audit->add_subcommand(
      "verify",
      "Verify an exported audit log offline: every record's hash chain, every checkpoint's "
      "Ed25519 signature and link, and the export's signed head (so a cut end is found). Names "
      "the first broken record. Exit 0 when intact, 1 when not. Works offline.\n"
      "  portraitctl audit verify --file audit.jsonl --pubkey 3f9a…(64 hex digits)");
  verify->add_option("--file", opts->file, "the export (JSON lines)")->required();
  verify->add_option("--pubkey", opts->pubkey, "the public key, 64 hex digits")->required();
  verify->add_flag("--json", opts->json, "print the result as JSON");
  verify->callback([opts, &exit_code] { exit_code = RunVerifyFile(*opts); });

  CLI::App* exp = audit->add_subcommand(
      "export",
      "Export the audit log from the running daemon as JSON lines (a signed header, every "
      "signed checkpoint, every record), for `audit verify` offline. Needs audit.read.\n"
      "  portraitctl audit export --out audit.jsonl");
  exp->add_option("-o,--out", opts->out, "write here instead of stdout");
  AddDaemonOptions(exp, opts->daemon);
  exp->callback([opts, &exit_code] { exit_code = RunExport(*opts); });

  CLI::App* pubkey = audit->add_subcommand(
      "pubkey",
      "Print the audit log's Ed25519 public key (hex): give it to your auditors. Works offline.\n"
      "  portraitctl audit pubkey --config portrait.toml");
  pubkey->add_option("-c,--config", opts->config_path, "path of portrait.toml")
      ->capture_default_str();
  pubkey->callback([opts, &exit_code] { exit_code = RunPubkey(*opts); });
}

}  // namespace portrait::cli
