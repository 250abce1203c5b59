#include "services/audit/activity_hash.h"

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace crm::audit {
namespace {

Event SampleEvent() {
  return Event{.event_id = "6f1c2c9e-3c5b-4b7e-9d53-0a4d8d1f2e3a",
               .occurred_at_micros = 1764028800123456,
               .service = "leads",
               .user_id = 42,
               .action = "lead.assigned",
               .entity_type = "lead",
               .entity_id = 7,
               .details_json = R"({"from_agent_id":0,"to_agent_id":42})"};
}

TEST(ActivityHashTest, CanonicalEncodingIsLengthPrefixedAndBigEndian) {
  Event e{.event_id = "e",
          .occurred_at_micros = 2,
          .service = "s",
          .user_id = 1,
          .action = "a.b",
          .entity_type = "",
          .entity_id = -1,
          .details_json = "{}"};
  const std::string expected = std::string("\0\0\0\x15", 4) + "crm.audit.v1.activity" +  // tag
                               std::string("\0\0\0\0\0\0\0\x09", 8) +                    // seq 9
                               std::string("\0\0\0\x01", 4) + "e" +                      // event_id
                               std::string("\0\0\0\0\0\0\0\x01", 8) +                    // user_id
                               std::string("\0\0\0\x03", 4) + "a.b" +                    // action
                               std::string("\0\0\0\0\0\0\0\x02", 8) +  // timestamp
                               std::string("\0\0\0\x01", 4) + "s" +    // service
                               std::string("\0\0\0\0", 4) +            // entity_type ""
                               std::string(8, '\xff') +                // entity_id -1
                               std::string("\0\0\0\x02", 4) + "{}";    // details
  EXPECT_EQ(CanonicalEncoding(9, e), expected);
}

// Pinned so a change to the encoding, which would break every stored chain,
// cannot go unnoticed. The value was computed independently (Python's
// hashlib over the encoding as documented in README.md).
TEST(ActivityHashTest, SampleHashMatchesAnIndependentComputation) {
  EXPECT_EQ(absl::BytesToHexString(ChainHash(GenesisHash(), 1, SampleEvent())),
            "d04d6fb20c6a7573c4d52bc23ae32a708ed66f8a4e33dcdeddb49c61db8cdaa6");
  EXPECT_EQ(GenesisHash(), std::string(kHashSize, '\0'));
}

TEST(ActivityHashTest, EveryFieldAndTheLinkChangeTheHash) {
  const Event base = SampleEvent();
  const std::string h = ChainHash(GenesisHash(), 1, base);
  EXPECT_NE(ChainHash(GenesisHash(), 2, base), h);
  EXPECT_NE(ChainHash(std::string(31, '\0') + "\x01", 1, base), h);
  std::vector<Event> variants(9, base);
  variants[0].event_id[0] = '7';
  variants[1].occurred_at_micros += 1;
  variants[2].service = "lead";
  variants[3].user_id = 43;
  variants[4].action = "lead.created";
  variants[5].entity_type = "leads";
  variants[6].entity_id = 8;
  variants[7].details_json = R"({"from_agent_id":0,"to_agent_id":43})";
  // Moving bytes between fields must not collide (length prefixes).
  variants[8].service = "lead";
  variants[8].entity_type = "slead";
  for (const Event& v : variants) {
    EXPECT_NE(ChainHash(GenesisHash(), 1, v), h);
  }
}

}  // namespace
}  // namespace crm::audit
