// SPDX-License-Identifier: Apache-2.0
#include "flow_table.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <set>
#include <vector>

#include "flow_hash.h"
#include "net_types.h"

namespace fulcrum {
namespace {

constexpr Ipv4Be kVip = host_to_be32(0xc0a80001U);  // 192.168.0.1

// A distinct client tuple per n (and per vip), so tests never collide by accident.
FiveTuple Tuple(uint32_t n, Ipv4Be vip = kVip) {
  FiveTuple t;
  t.saddr = host_to_be32(0x0a000000U + (n & 0xffffffU));
  t.daddr = vip;
  t.sport = host_to_be16(static_cast<uint16_t>(1024 + (n >> 24)));
  t.dport = host_to_be16(80);
  t.proto = static_cast<uint8_t>(IpProto::kTcp);
  return t;
}

struct Key {
  FiveTuple tuple;
  uint64_t hash;
};

Key MakeKey(uint32_t n, Ipv4Be vip = kVip) {
  const FiveTuple t = Tuple(n, vip);
  return Key{t, hash_tuple(t)};
}

FlowRef Insert(FlowTable& t, const Key& k, uint32_t now, FlowState s) {
  return t.insert(k.tuple, k.hash, now, s);
}
FlowRef Find(FlowTable& t, const Key& k, uint32_t now) {
  return t.lookup(k.tuple, k.hash, now);
}
FlowTable::Pair InsertPair(FlowTable& t, const Key& fwd, const Key& reply, uint32_t now,
                           FlowState s) {
  return t.insert_pair(fwd.tuple, fwd.hash, reply.tuple, reply.hash, now, s);
}

// The first `count` keys (searching n = start, start+1, ...) whose two candidate buckets are
// exactly {a, b}, in either order: they compete for the same 16 ways.
std::vector<Key> KeysInBuckets(const FlowTable& t, uint32_t a, uint32_t b, size_t count,
                               uint32_t start = 0) {
  std::vector<Key> keys;
  for (uint32_t n = start; keys.size() < count; ++n) {
    const Key k = MakeKey(n);
    const auto [first, second] = t.buckets_of(k.hash);
    if ((first == a && second == b) || (first == b && second == a)) keys.push_back(k);
  }
  return keys;
}

TEST(FlowTable, CapacityRoundsUpToPowerOfTwoBuckets) {
  EXPECT_EQ(FlowTable(0, {}).capacity(), 8U);
  EXPECT_EQ(FlowTable(1, {}).capacity(), 8U);
  EXPECT_EQ(FlowTable(8, {}).capacity(), 8U);
  EXPECT_EQ(FlowTable(9, {}).capacity(), 16U);
  EXPECT_EQ(FlowTable(1000, {}).capacity(), 1024U);
  EXPECT_EQ(FlowTable(1024, {}).capacity(), 1024U);
}

TEST(FlowTable, InsertLookupEraseSingle) {
  FlowTable t(1024, {});
  const Key k = MakeKey(1);
  EXPECT_FALSE(Find(t, k, 0).valid());

  const FlowRef ref = Insert(t, k, 10, FlowState::kTcpSyn);
  ASSERT_TRUE(ref.valid());
  EXPECT_EQ(t.size(), 1U);
  EXPECT_EQ(t.entry(ref).key, k.tuple);
  EXPECT_EQ(t.state(ref), FlowState::kTcpSyn);
  t.entry(ref).backend_addr = 0x01020304;
  t.entry(ref).flags = kFlowDsr;

  const FlowRef found = Find(t, k, 20);
  ASSERT_EQ(found, ref);
  EXPECT_EQ(t.entry(found).backend_addr, 0x01020304U);
  EXPECT_EQ(t.entry(found).flags, kFlowDsr);
  EXPECT_FALSE(Find(t, MakeKey(2), 20).valid());

  t.erase(found);
  EXPECT_EQ(t.size(), 0U);
  EXPECT_FALSE(Find(t, k, 20).valid());
  EXPECT_EQ(t.stats().inserts, 1U);
  EXPECT_EQ(t.stats().expired, 0U);
  EXPECT_EQ(t.stats().evicted, 0U);
}

TEST(FlowTable, InsertPairLinksPeersAndEraseOfEitherSideRemovesBoth) {
  for (const bool erase_forward : {true, false}) {
    FlowTable t(1024, {});
    const Key fwd = MakeKey(1);
    const Key reply = MakeKey(2, host_to_be32(0x0a640001U));
    const FlowTable::Pair p = InsertPair(t, fwd, reply, 5, FlowState::kTcpSyn);
    ASSERT_TRUE(p.forward.valid());
    ASSERT_TRUE(p.reply.valid());
    EXPECT_EQ(t.size(), 2U);
    EXPECT_EQ(Find(t, fwd, 5), p.forward);
    EXPECT_EQ(Find(t, reply, 5), p.reply);
    EXPECT_EQ(t.entry(p.forward).peer_bucket, p.reply.bucket);
    EXPECT_EQ(t.entry(p.forward).peer_way, p.reply.way);
    EXPECT_EQ(t.entry(p.reply).peer_bucket, p.forward.bucket);
    EXPECT_EQ(t.entry(p.reply).peer_way, p.forward.way);

    t.erase(erase_forward ? p.forward : p.reply);
    EXPECT_EQ(t.size(), 0U);
    EXPECT_FALSE(Find(t, fwd, 5).valid());
    EXPECT_FALSE(Find(t, reply, 5).valid());
  }
}

TEST(FlowTable, TouchRefreshesPeer) {
  FlowTable t(1024, {});
  const FlowTimeouts& to = t.timeouts();
  const Key fwd = MakeKey(1);
  const Key reply = MakeKey(2, host_to_be32(0x0a640001U));
  const FlowTable::Pair p = InsertPair(t, fwd, reply, 0, FlowState::kTcpSyn);

  // Only the forward side sees traffic; the reply side must live on with it.
  t.touch(p.forward, 4000, FlowState::kTcpEstablished);
  const uint32_t later = 4000 + to.tcp_syn_ms + 1;  // past the SYN timeout from 0 and from 4000
  const FlowRef r = Find(t, reply, later);
  ASSERT_TRUE(r.valid());
  EXPECT_EQ(t.state(r), FlowState::kTcpEstablished);

  // And the other way round: touching the reply moves the forward entry to closing.
  t.touch(r, later, FlowState::kTcpClosing);
  const FlowRef f = Find(t, fwd, later + to.tcp_closing_ms);
  ASSERT_TRUE(f.valid());
  EXPECT_EQ(t.state(f), FlowState::kTcpClosing);

  // Expiry found on one side removes both.
  EXPECT_FALSE(Find(t, fwd, later + to.tcp_closing_ms + 1).valid());
  EXPECT_EQ(t.size(), 0U);
  EXPECT_EQ(t.stats().expired, 2U);
  EXPECT_FALSE(Find(t, reply, later + to.tcp_closing_ms + 1).valid());
}

TEST(FlowTable, TimeoutPerStateIncludingClockWrap) {
  const FlowTimeouts to;
  for (const uint32_t t0 : {1000U, 0xffffffffU - 10U, 0xffffffffU}) {
    for (const FlowState s : {FlowState::kTcpSyn, FlowState::kTcpEstablished,
                              FlowState::kTcpClosing, FlowState::kUdp}) {
      SCOPED_TRACE(testing::Message() << "t0=" << t0 << " state=" << static_cast<int>(s));
      FlowTable t(64, to);
      const Key k = MakeKey(7);
      Insert(t, k, t0, s);
      const uint32_t limit = t0 + to.for_state(s);  // wraps for the late t0 values
      EXPECT_TRUE(Find(t, k, limit).valid());
      EXPECT_EQ(t.stats().expired, 0U);
      EXPECT_FALSE(Find(t, k, limit + 1).valid());
      EXPECT_EQ(t.stats().expired, 1U);
      EXPECT_EQ(t.size(), 0U);
    }
  }
}

TEST(FlowTable, EstablishedOutlivesSynTimeout) {
  FlowTable t(64, {});
  const uint32_t t0 = 0xffffffffU - 1000U;
  const Key syn = MakeKey(1);
  const Key est = MakeKey(2);
  Insert(t, syn, t0, FlowState::kTcpSyn);
  Insert(t, est, t0, FlowState::kTcpEstablished);
  const uint32_t after = t0 + t.timeouts().tcp_syn_ms + 1;
  EXPECT_FALSE(Find(t, syn, after).valid());
  EXPECT_TRUE(Find(t, est, after).valid());
  EXPECT_EQ(t.size(), 1U);
}

TEST(FlowTable, InsertReplacesEntryWithSameKey) {
  FlowTable t(1024, {});
  const Key fwd_old = MakeKey(1);
  const Key reply = MakeKey(2, host_to_be32(0x0a640001U));
  const Key fwd_new = MakeKey(3);
  InsertPair(t, fwd_old, reply, 0, FlowState::kTcpEstablished);
  // The SNAT port of the old connection is reused: its reply key comes back.
  const FlowTable::Pair p = InsertPair(t, fwd_new, reply, 10, FlowState::kTcpSyn);
  EXPECT_EQ(t.size(), 2U);
  EXPECT_FALSE(Find(t, fwd_old, 10).valid());
  const FlowRef r = Find(t, reply, 10);
  ASSERT_EQ(r, p.reply);
  EXPECT_EQ(t.entry(r).peer_bucket, p.forward.bucket);
  EXPECT_EQ(t.state(r), FlowState::kTcpSyn);
}

// The acceptance scenario: a SYN flood of twice the capacity against 1,000 busy flows.
TEST(FlowTable, SynFloodOfTwiceCapacityStaysBoundedAndSparesActiveFlows) {
  constexpr uint32_t kCapacity = 65536;
  constexpr uint32_t kActive = 1000;
  FlowTable t(kCapacity, {});
  ASSERT_EQ(t.capacity(), kCapacity);

  uint32_t now = 1;
  std::vector<Key> active;
  for (uint32_t i = 0; i < kActive; ++i) {
    active.push_back(MakeKey(i, host_to_be32(0xc0a80002U)));
    Insert(t, active.back(), now, FlowState::kTcpEstablished);
  }
  ASSERT_EQ(t.size(), kActive);

  const uint32_t flood = 2 * t.capacity();
  for (uint32_t i = 0; i < flood; ++i) {
    const Key k = MakeKey(i);
    const FlowRef ref = Insert(t, k, now, FlowState::kTcpSyn);
    ASSERT_LE(t.size(), t.capacity());
    // New flows still get forwarded: the entry just made is there for the next packet.
    ASSERT_EQ(Find(t, k, now), ref) << "insert " << i;
    if (i % 100 == 99) ++now;
    if (i % 1000 == 999) {
      for (const Key& a : active) {
        const FlowRef r = Find(t, a, now);
        ASSERT_TRUE(r.valid()) << "active flow lost at insert " << i;
        t.touch(r, now, FlowState::kTcpEstablished);
      }
    }
  }
  for (const Key& a : active) EXPECT_TRUE(Find(t, a, now).valid());

  const FlowTableStats& s = t.stats();
  std::printf(
      "syn flood: capacity=%u inserts=%llu size=%u expired=%llu evicted=%llu "
      "evicted_established=%llu\n",
      t.capacity(), static_cast<unsigned long long>(s.inserts), t.size(),
      static_cast<unsigned long long>(s.expired), static_cast<unsigned long long>(s.evicted),
      static_cast<unsigned long long>(s.evicted_established));
  RecordProperty("evicted", std::to_string(s.evicted));
  RecordProperty("evicted_established", std::to_string(s.evicted_established));
  EXPECT_EQ(s.inserts, uint64_t{kActive} + flood);
  EXPECT_EQ(s.inserts - s.evicted - s.expired, t.size());
  EXPECT_GT(s.evicted, 0U);
  EXPECT_EQ(s.evicted_established, 0U);
}

// Eviction order among a key's two full buckets, at a plain clock and across the u32 wrap.
// keys_[0..7] are the ways under test; keys_[8..15] fill the rest of both buckets with the
// newest established flows (never the victim while another choice exists); keys_[16] arrives.
class FlowTableEviction : public testing::TestWithParam<uint32_t> {
 protected:
  static constexpr uint32_t kA = 3;
  static constexpr uint32_t kB = 4;
  FlowTable table_{64, {}};  // 8 buckets
  std::vector<Key> keys_ = KeysInBuckets(table_, kA, kB, 2 * FlowTable::kWays + 1);
  uint32_t base_ = GetParam();

  static bool InPair(FlowRef r) { return r.bucket == kA || r.bucket == kB; }

  void Fill(const std::vector<std::pair<uint32_t, FlowState>>& ways) {
    ASSERT_EQ(ways.size(), FlowTable::kWays);
    uint32_t newest = 0;
    for (size_t i = 0; i < ways.size(); ++i) {
      ASSERT_TRUE(InPair(Insert(table_, keys_[i], base_ + ways[i].first, ways[i].second)));
      newest = std::max(newest, ways[i].first);
    }
    FillRest(newest);
  }
  void FillRest(uint32_t at) {
    for (size_t i = FlowTable::kWays; i < 2 * FlowTable::kWays; ++i) {
      ASSERT_TRUE(InPair(Insert(table_, keys_[i], base_ + at, FlowState::kTcpEstablished)));
    }
  }
  // Inserts the newcomer and returns which of the first eight went; the fillers all stay.
  std::vector<size_t> InsertNewcomer(uint32_t at) {
    const Key& newcomer = keys_[2 * FlowTable::kWays];
    EXPECT_TRUE(InPair(Insert(table_, newcomer, base_ + at, FlowState::kTcpSyn)));
    std::vector<size_t> gone;
    for (size_t i = 0; i < FlowTable::kWays; ++i) {
      if (!Find(table_, keys_[i], base_ + at).valid()) gone.push_back(i);
    }
    for (size_t i = FlowTable::kWays; i < 2 * FlowTable::kWays; ++i) {
      EXPECT_TRUE(Find(table_, keys_[i], base_ + at).valid()) << "filler " << i;
    }
    EXPECT_TRUE(Find(table_, newcomer, base_ + at).valid());
    return gone;
  }
};

TEST_P(FlowTableEviction, ExpiredGoesFirst) {
  // Way 1 (SYN, t=1000) is expired at t=6001; ways 0 and 2 are older but still live.
  Fill({{0, FlowState::kTcpEstablished},
        {1000, FlowState::kTcpSyn},
        {0, FlowState::kUdp},
        {2000, FlowState::kTcpClosing},
        {3000, FlowState::kTcpEstablished},
        {3000, FlowState::kTcpEstablished},
        {3000, FlowState::kUdp},
        {4000, FlowState::kTcpSyn}});
  EXPECT_EQ(InsertNewcomer(1000 + table_.timeouts().tcp_syn_ms + 1), std::vector<size_t>{1});
  EXPECT_EQ(table_.stats().expired, 1U);
  EXPECT_EQ(table_.stats().evicted, 0U);
}

TEST_P(FlowTableEviction, ThenOldestNonEstablished) {
  // Ways 0 and 1 are the oldest but established; way 3 (UDP) is the oldest of the rest.
  Fill({{0, FlowState::kTcpEstablished},
        {1, FlowState::kTcpEstablished},
        {100, FlowState::kTcpSyn},
        {50, FlowState::kUdp},
        {200, FlowState::kTcpClosing},
        {300, FlowState::kTcpEstablished},
        {310, FlowState::kTcpEstablished},
        {320, FlowState::kTcpSyn}});
  EXPECT_EQ(InsertNewcomer(400), std::vector<size_t>{3});
  EXPECT_EQ(table_.stats().expired, 0U);
  EXPECT_EQ(table_.stats().evicted, 1U);
  EXPECT_EQ(table_.stats().evicted_established, 0U);
}

TEST_P(FlowTableEviction, ThenOldest) {
  Fill({{100, FlowState::kTcpEstablished},
        {101, FlowState::kTcpEstablished},
        {102, FlowState::kTcpEstablished},
        {103, FlowState::kTcpEstablished},
        {104, FlowState::kTcpEstablished},
        {5, FlowState::kTcpEstablished},
        {106, FlowState::kTcpEstablished},
        {107, FlowState::kTcpEstablished}});
  EXPECT_EQ(InsertNewcomer(500), std::vector<size_t>{5});
  EXPECT_EQ(table_.stats().evicted, 1U);
  EXPECT_EQ(table_.stats().evicted_established, 1U);
}

TEST_P(FlowTableEviction, VictimTakesItsPeerInAnotherBucket) {
  // Way 3 is the victim and half of a pair whose reply entry lives in another bucket.
  const std::vector<Key> other = KeysInBuckets(table_, 6, 7, 1, 1'000'000);
  for (size_t i = 0; i < 8; ++i) {
    const uint32_t at = base_ + (i == 3 ? 10 : 100 + static_cast<uint32_t>(i));
    const FlowState s = i == 3 ? FlowState::kTcpSyn : FlowState::kTcpEstablished;
    if (i == 3) {
      InsertPair(table_, keys_[i], other[0], at, s);
    } else {
      Insert(table_, keys_[i], at, s);
    }
  }
  FillRest(200);
  ASSERT_EQ(table_.size(), 17U);
  EXPECT_EQ(InsertNewcomer(500), std::vector<size_t>{3});
  EXPECT_FALSE(Find(table_, other[0], base_ + 500).valid());
  EXPECT_EQ(table_.size(), 16U);
  EXPECT_EQ(table_.stats().evicted, 2U);
  EXPECT_EQ(table_.stats().evicted_established, 0U);
}

INSTANTIATE_TEST_SUITE_P(Clock, FlowTableEviction, testing::Values(0U, 0xffffffffU - 300U));

TEST(FlowTable, InsertPairIntoFullBucketNeverEvictsItsOwnForwardEntry) {
  FlowTable t(8, {});
  ASSERT_EQ(t.capacity(), 8U);  // one bucket: every key shares it
  for (uint32_t i = 0; i < 8; ++i) Insert(t, MakeKey(i), i, FlowState::kTcpEstablished);

  // A SYN among established flows: after the forward insert it is the bucket's only
  // non-established way, so without protection the reply insert would pick it.
  const Key fwd = MakeKey(100);
  const Key reply = MakeKey(101, host_to_be32(0x0a640001U));
  const FlowTable::Pair p = InsertPair(t, fwd, reply, 50, FlowState::kTcpSyn);
  EXPECT_EQ(Find(t, fwd, 50), p.forward);
  EXPECT_EQ(Find(t, reply, 50), p.reply);
  EXPECT_EQ(t.entry(p.forward).peer_way, p.reply.way);
  EXPECT_EQ(t.entry(p.reply).peer_way, p.forward.way);
  EXPECT_EQ(t.size(), 8U);
  EXPECT_EQ(t.stats().evicted, 2U);
  EXPECT_EQ(t.stats().evicted_established, 2U);
  // The two oldest went.
  EXPECT_FALSE(Find(t, MakeKey(0), 50).valid());
  EXPECT_FALSE(Find(t, MakeKey(1), 50).valid());
}

TEST(FlowTable, RandomPairsAndSinglesInTinyTableKeepInvariants) {
  FlowTable t(8, {});
  std::mt19937 rng(12345);
  const FlowState states[] = {FlowState::kTcpSyn, FlowState::kTcpEstablished,
                              FlowState::kTcpClosing, FlowState::kUdp};
  uint32_t now = 0;
  for (uint32_t i = 0; i < 20000; ++i) {
    now += static_cast<uint32_t>(rng() % 2000);
    const FlowState s = states[rng() % 4];
    const Key a = MakeKey(2 * i);
    const Key b = MakeKey(2 * i + 1, host_to_be32(0x0a640001U));
    if (rng() % 3 == 0) {
      const FlowRef r = Insert(t, a, now, s);
      ASSERT_EQ(Find(t, a, now), r);
    } else {
      const FlowTable::Pair p = InsertPair(t, a, b, now, s);
      ASSERT_EQ(Find(t, a, now), p.forward);
      ASSERT_EQ(Find(t, b, now), p.reply);
    }
    ASSERT_LE(t.size(), t.capacity());
    // Every peer link points at a live entry that points back.
    uint32_t seen = 0;
    t.for_each([&](FlowRef ref, FlowEntry& e) {
      ++seen;
      if (e.peer_bucket == FlowRef::kNone) return;
      const FlowRef peer{e.peer_bucket, e.peer_way};
      ASSERT_EQ(t.entry(peer).peer_bucket, ref.bucket);
      ASSERT_EQ(t.entry(peer).peer_way, ref.way);
    });
    ASSERT_EQ(seen, t.size());
  }
  const FlowTableStats& s = t.stats();
  EXPECT_EQ(s.inserts - s.evicted - s.expired, t.size());
}

TEST(FlowTable, PrefetchIsOnlyAHint) {
  FlowTable t(64, {});
  const Key present = MakeKey(1);
  const FlowRef r = Insert(t, present, 0, FlowState::kTcpSyn);
  for (const Key& k : {present, MakeKey(2)}) {
    t.prefetch(k.hash);
    t.prefetch_entries(k.hash);
  }
  EXPECT_EQ(t.size(), 1U);
  EXPECT_EQ(Find(t, present, 0), r);
  EXPECT_FALSE(Find(t, MakeKey(2), 0).valid());
}

TEST(FlowTable, MemoryForOneMillionEntries) {
  constexpr uint32_t kEntries = 1U << 20;
  FlowTable t(kEntries, {});
  std::printf("flow table: capacity=%u memory=%zu bytes (%.1f MiB, %.1f bytes/entry)\n",
              t.capacity(), t.memory_bytes(), static_cast<double>(t.memory_bytes()) / (1 << 20),
              static_cast<double>(t.memory_bytes()) / t.capacity());
  RecordProperty("memory_bytes", std::to_string(t.memory_bytes()));
  EXPECT_GE(t.capacity(), kEntries);
  EXPECT_LE(t.memory_bytes(), size_t{128} << 20);
}

TEST(FlowTable, ForEachVisitsExactlySize) {
  FlowTable t(16384, {});  // roomy: no bucket overflows, so nothing is evicted
  std::vector<FlowRef> singles;
  for (uint32_t i = 0; i < 500; ++i) singles.push_back(Insert(t, MakeKey(i), 0, FlowState::kUdp));
  for (uint32_t i = 0; i < 300; ++i) {
    InsertPair(t, MakeKey(10'000 + i), MakeKey(20'000 + i, host_to_be32(0x0a640001U)), 0,
               FlowState::kTcpEstablished);
  }
  for (size_t i = 0; i < singles.size(); i += 5) t.erase(singles[i]);
  ASSERT_EQ(t.size(), 500U - 100U + 600U);

  uint32_t visited = 0;
  std::set<std::pair<uint32_t, uint32_t>> refs;
  t.for_each([&](FlowRef ref, FlowEntry& e) {
    ++visited;
    refs.insert({ref.bucket, ref.way});
    EXPECT_EQ(Find(t, Key{e.key, hash_tuple(e.key)}, 0), ref);
  });
  EXPECT_EQ(visited, t.size());
  EXPECT_EQ(refs.size(), t.size());
}

}  // namespace
}  // namespace fulcrum

namespace fulcrum {
namespace {

// Two-choice placement with a cuckoo step: a table filled to 90% of its capacity with live
// flows has evicted none of them (one bucket per key evicts a few percent well before that).
TEST(FlowTable, FillsToNinetyPercentWithoutEvictingLiveFlows) {
  FlowTable t(1 << 16, {});
  const uint32_t n = t.capacity() / 10 * 9;
  for (uint32_t i = 0; i < n; ++i) Insert(t, MakeKey(i), 0, FlowState::kTcpEstablished);
  std::printf("filled %u of %u entries: evicted=%llu displaced=%llu\n", t.size(), t.capacity(),
              static_cast<unsigned long long>(t.stats().evicted),
              static_cast<unsigned long long>(t.stats().displaced));
  EXPECT_EQ(t.stats().evicted, 0U);
  EXPECT_EQ(t.size(), n);
  for (uint32_t i = 0; i < n; i += 97) EXPECT_TRUE(Find(t, MakeKey(i), 1).valid());
}

}  // namespace
}  // namespace fulcrum
