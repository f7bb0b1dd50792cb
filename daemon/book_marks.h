// BookMarks: which [[model]]s' purchase books (rules/purchase_book.h) hold every stored purchase
// event, so that a fit may read the books — one opened metrics object a customer — instead of
// the events, one opened event a purchase (docs/DECISIONS.md 130). A book misses the events
// applied while the rules in force did not keep it (before the model was added, or while it was
// removed or defined over another type or amount), so a model's mark names its definition
// (purchase type and amount key) and is set only when the books are known to be complete:
//  - when rules defining the model come into force while no event of its type is stored (every
//    later event is applied under them), or
//  - when a fit from the events found every customer's book to give the summary of their events,
//    and no rules came into force between that fit's start and the mark.
// Rules that drop or redefine a model come into force only after its mark is gone. The marks are
// one meta entry of the store ("purchase_books": {"MODEL": "TYPE\nAMOUNT"}), never personal.
// Thread-safe; Replace runs on the writer thread.
#pragma once

#include <cstdint>
#include <memory>

#include "base/mutex.h"
#include "base/result.h"
#include "daemon/rules_holder.h"
#include "rules/rule_set.h"
#include "store/audit_log.h"
#include "store/store.h"

namespace portrait::daemon {

class BookMarks {
 public:
  BookMarks(store::Store& store, store::AuditLog& audit) : store_(store), audit_(audit) {}

  // Puts `next` in force in `holder`, on the writer thread (so no event group runs meanwhile):
  // forgets the marks `next` would not keep, sets it, then marks the books of each of its models
  // with no stored event of its type. When forgetting fails, `next` is not set and the error is
  // returned; a failure to mark only leaves books unmarked (a fit then reads the events).
  Status Replace(RulesHolder& holder, std::shared_ptr<const LoadedRules> next);

  // Whether `model`'s books are marked complete for its definition.
  Result<bool> Complete(const rules::Model& model);

  // A count of the rules put in force by Replace. A fit takes it before it takes the rules in
  // force and reads the events.
  uint64_t generation();

  // Marks `model`'s books complete if no rules came into force since `generation` was taken
  // (the fit that read the events found every book agreeing with them).
  Status MarkVerified(const rules::Model& model, uint64_t generation);

 private:
  Result<nlohmann::json> Read();
  Status Write(const nlohmann::json& marks);

  store::Store& store_;
  store::AuditLog& audit_;
  Mutex mu_;
  uint64_t generation_ GUARDED_BY(mu_) = 0;
};

}  // namespace portrait::daemon
