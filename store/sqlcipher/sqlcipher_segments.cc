// The SQLCipher backend's segment members index (store.h SegmentMember) and the profiles'
// digests (store.h DigestWrite).
#include "store/sqlcipher/sqlcipher_store_impl.h"

namespace portrait::store {

using sqlite::Stmt;

Status SqlcipherStore::WriteMembers(const Batch& batch) {
  if (!batch.dropped_segments.empty()) {
    Stmt drop(main_, "DELETE FROM segment_members WHERE segment = ?;");
    for (const std::string& segment : batch.dropped_segments) {
      drop.Reset();
      drop.Bind(1, segment);
      PORTRAIT_RETURN_IF_ERROR(drop.Run());
    }
  }
  if (batch.members.empty()) {
    return Status::Ok();
  }
  Stmt set(main_,
           "INSERT OR IGNORE INTO segment_members (segment, profile_id) "
           "SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM profiles WHERE id = ?2);");
  Stmt drop(main_, "DELETE FROM segment_members WHERE segment = ? AND profile_id = ?;");
  for (const SegmentMember& m : batch.members) {
    Stmt& s = m.member ? set : drop;
    s.Reset();
    s.Bind(1, m.segment).Bind(2, m.profile_id);
    PORTRAIT_RETURN_IF_ERROR(s.Run());
  }
  return Status::Ok();
}

Status SqlcipherStore::WriteDigests(const std::vector<DigestWrite>& digests) {
  if (digests.empty()) {
    return Status::Ok();
  }
  Stmt set(main_, "UPDATE digests SET spec = ?, value = ? WHERE profile_id = ? AND stamp = ?;");
  for (const DigestWrite& d : digests) {
    set.Reset();
    set.Bind(1, d.spec).BindBlob(2, d.value).Bind(3, d.profile_id).Bind(4, d.stamp);
    PORTRAIT_RETURN_IF_ERROR(set.Run());
  }
  return Status::Ok();
}

Status SqlcipherStore::EraseMembers(ProfileId id) {
  Stmt s(main_, "DELETE FROM segment_members WHERE profile_id = ?;");
  s.Bind(1, id);
  return s.Run();
}

Result<int64_t> SqlcipherStore::CountSegmentMembers(std::string_view segment) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main, "SELECT COUNT(*) FROM segment_members WHERE segment = ?;");
  s.Bind(1, segment);
  PORTRAIT_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

Result<std::vector<ProfileId>> SqlcipherStore::SegmentMembers(std::string_view segment,
                                                              ProfileId after, int limit) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main,
         "SELECT profile_id FROM segment_members WHERE segment = ? AND profile_id > ? "
         "ORDER BY profile_id LIMIT ?;");
  s.Bind(1, segment).Bind(2, after).Bind(3, int64_t{limit});
  return sqlite::ReadRows(s, [](const Stmt& r) { return ProfileId{r.Int(0)}; });
}

Result<std::vector<std::pair<ProfileId, std::string>>> SqlcipherStore::MembershipsBetween(
    ProfileId first, ProfileId last) {
  auto reader = readers_.Acquire();
  Stmt s(reader->main,
         "SELECT profile_id, segment FROM segment_members WHERE profile_id BETWEEN ? AND ? "
         "ORDER BY profile_id, segment;");
  s.Bind(1, first).Bind(2, last);
  return sqlite::ReadRows(s, [](const Stmt& r) {
    return std::pair<ProfileId, std::string>{r.Int(0), r.Text(1)};
  });
}

}  // namespace portrait::store
