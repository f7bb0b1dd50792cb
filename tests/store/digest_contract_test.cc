// The Store contract for the profiles' digests (PortraitRead::digest_spec, Batch::digests) on
// every backend: a digest is read back only while nothing it summarises has changed since the
// read it was made from — the profile's row, its fields, its members-index rows — and only by a
// read asking for its spec; otherwise, and on a store that keeps none, the profile is read
// whole.
#include "tests/store/store_contract_fixture.h"

namespace portrait::store {
namespace {

template <typename Backend>
class DigestContract : public StoreContract<Backend> {
 protected:
  void SetUp() override {
    for (ProfileId id : {3, 4}) {
      ProfileWrite w = this->NewProfile(id, "k" + std::to_string(id));
      w.set_fields["city"] = "sealed-city-" + std::to_string(id);
      ASSERT_TRUE(this->Write(std::move(w)).ok());
    }
  }
  void Commit(const Batch& b) {
    auto r = this->store_->Commit(b);
    ASSERT_TRUE(r) << r.error().ToString();
  }
  // Profile `id` as a range read asking for `spec` returns it.
  PortraitInputs Read(ProfileId id, const std::string& spec = "spec") {
    PortraitRead read;
    read.fields = {"city"};
    read.digest_spec = spec;
    auto r = this->store_->PortraitInputsAfter(id - 1, 1, read);
    EXPECT_TRUE(r) << r.error().ToString();
    if (!r || r->size() != 1 || r->front().row.id != id) {
      ADD_FAILURE() << "profile " << id << " was not read";
      return PortraitInputs{};
    }
    return r->front();
  }
  // Stores `value` as a digest of spec "spec" made from `in`.
  void Keep(const PortraitInputs& in, const std::string& value) {
    Batch b;
    b.digests.push_back(DigestWrite{in.row.id, in.digest_stamp, "spec", value});
    Commit(b);
  }
};

TYPED_TEST_SUITE(DigestContract, Backends);

TYPED_TEST(DigestContract, ADigestIsReadOnlyForItsSpecAndInPlaceOfTheProfile) {
  const bool keeps = this->store_->KeepsDigests();
  const PortraitInputs first = this->Read(3);
  EXPECT_TRUE(first.digest.empty());
  EXPECT_EQ(first.row.ext_key, "k3");  // read whole
  EXPECT_EQ(first.fields.at("city"), "sealed-city-3");

  this->Keep(first, "digest-3");
  const PortraitInputs kept = this->Read(3);
  EXPECT_EQ(kept.digest, keeps ? "digest-3" : "");
  if (keeps) {  // the digest in place of the row, fields and index rows
    EXPECT_EQ(kept.row.id, 3);
    EXPECT_TRUE(kept.row.ext_key.empty());
    EXPECT_TRUE(kept.fields.empty());
  } else {
    EXPECT_EQ(kept.row.ext_key, "k3");
  }
  const PortraitInputs other = this->Read(3, "another spec");
  EXPECT_TRUE(other.digest.empty());
  EXPECT_EQ(other.row.ext_key, "k3");
  EXPECT_EQ(other.fields.at("city"), "sealed-city-3");
  EXPECT_TRUE(this->Read(4).digest.empty());  // a profile's digest is its own

  // Without a spec nothing of a digest is read.
  auto plain = this->store_->PortraitInputsAfter(0, 10, PortraitRead{{"city"}, "", false, ""});
  ASSERT_TRUE(plain) << plain.error().ToString();
  ASSERT_EQ(plain->size(), 2u);
  EXPECT_TRUE(plain->front().digest.empty());
  EXPECT_EQ(plain->front().row.ext_key, "k3");
}

TYPED_TEST(DigestContract, EveryChangeOfWhatItSummarisesEmptiesItAndRefusesOneMadeBefore) {
  const bool keeps = this->store_->KeepsDigests();
  auto state = [](const std::string& lifecycle) {
    ProfileWrite w;
    w.state_only = true;
    w.row.id = 3;
    w.row.lifecycle = lifecycle;
    w.row.updated_us = 2000;
    return w;
  };
  auto field = [](std::optional<std::string> city) {
    ProfileWrite w;
    w.row.id = 3;
    w.row.ext_key = "k3";
    w.row.external_id = "sealed-ext-3";
    w.row.updated_us = 2000;
    if (city) {
      w.set_fields["city"] = *city;
    } else {
      w.removed_fields.push_back("city");
    }
    return w;
  };
  std::vector<std::pair<std::string, Batch>> changes(6);
  changes[0].first = "its stage and metrics";
  changes[0].second.profiles.push_back(state("active"));
  changes[1].first = "a field set";
  changes[1].second.profiles.push_back(field("sealed-city-3b"));
  changes[2].first = "a field removed";
  changes[2].second.profiles.push_back(field(std::nullopt));
  changes[3].first = "an index row set";
  changes[3].second.members.push_back(SegmentMember{"vip", 3, true});
  changes[4].first = "an index row dropped";
  changes[4].second.members.push_back(SegmentMember{"vip", 3, false});
  changes[5].first = "a segment's rows dropped";
  changes[5].second.members.push_back(SegmentMember{"lapsed", 3, true});
  this->Keep(this->Read(4), "digest-4");
  for (auto& [what, batch] : changes) {
    SCOPED_TRACE(what);
    if (what == "a segment's rows dropped") {
      this->Commit(batch);  // the row to drop
      batch = Batch{};
      batch.dropped_segments.push_back("lapsed");
    }
    this->Keep(this->Read(3), "digest");
    const PortraitInputs made_from = this->Read(3, "another spec");  // the stamp before
    EXPECT_EQ(this->Read(3).digest, keeps ? "digest" : "");
    this->Commit(batch);
    EXPECT_TRUE(this->Read(3).digest.empty());
    this->Keep(made_from, "stale");
    EXPECT_TRUE(this->Read(3).digest.empty());
    EXPECT_EQ(this->Read(4).digest, keeps ? "digest-4" : "");  // another profile's stays
  }

  this->Keep(this->Read(3), "digest");
  Batch erase;
  erase.erasures.push_back(3);
  this->Commit(erase);
  PortraitRead read;
  read.digest_spec = "spec";
  auto left = this->store_->PortraitInputsAfter(0, 10, read);
  ASSERT_TRUE(left) << left.error().ToString();
  ASSERT_EQ(left->size(), 1u);  // the erased profile's digest went with it
  EXPECT_EQ(left->front().row.id, 4);
}

// A retention purge deletes field rows alone, the profile's row untouched.
TYPED_TEST(DigestContract, AFieldPurgedEmptiesTheDigest) {
  this->Keep(this->Read(3), "digest-3");
  this->Keep(this->Read(4), "digest-4");
  const PortraitInputs made_from = this->Read(3, "another spec");
  PurgeRule rule;
  rule.fields = {"city"};
  rule.before_us = int64_t{1} << 60;
  auto purged = this->store_->Purge(rule, AuditEntry{1, "system", "retention.purge", 0, "", "{}"});
  ASSERT_TRUE(purged) << purged.error().ToString();
  EXPECT_EQ(*purged, 2);
  EXPECT_TRUE(this->Read(3).digest.empty());
  EXPECT_TRUE(this->Read(4).digest.empty());
  this->Keep(made_from, "stale");
  EXPECT_TRUE(this->Read(3).digest.empty());
  EXPECT_TRUE(this->Read(3, "another spec").fields.empty());  // the purge did delete it
}

}  // namespace
}  // namespace portrait::store
