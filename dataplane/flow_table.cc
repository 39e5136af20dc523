// SPDX-License-Identifier: Apache-2.0
#include "flow_table.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <memory>
#include <new>
#include <type_traits>

#include "flow_hash.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace fulcrum {

namespace {

constexpr std::align_val_t kCacheLine{64};
// Keeps capacity() = buckets * kWays within uint32_t.
constexpr uint32_t kMaxBuckets = 1U << 28;

// The low hash bits pick the bucket, so the high ones are what still tells keys in one bucket
// apart. 0 marks an empty way, so a zero signature becomes 1.
inline uint16_t signature(uint64_t hash) {
  const auto sig = static_cast<uint16_t>(hash >> 48);
  return sig != 0 ? sig : uint16_t{1};
}

// Bit w set where sigs[w] == s; one compare for all 8 ways.
inline uint32_t match_mask(const uint16_t* sigs, uint16_t s) {
#if defined(__SSE2__)
  const __m128i v = _mm_load_si128(reinterpret_cast<const __m128i*>(sigs));
  const __m128i eq = _mm_cmpeq_epi16(v, _mm_set1_epi16(static_cast<short>(s)));
  // Narrow the eight 16-bit lanes to bytes so movemask yields one bit per way.
  return static_cast<uint32_t>(_mm_movemask_epi8(_mm_packs_epi16(eq, _mm_setzero_si128())));
#else
  uint32_t m = 0;
  for (uint32_t w = 0; w < FlowTable::kWays; ++w) {
    if (sigs[w] == s) m |= 1U << w;
  }
  return m;
#endif
}

inline uint8_t lowest_way(uint32_t mask) {
  return static_cast<uint8_t>(std::countr_zero(mask));
}

// Each key may live in one of two buckets (two-choice hashing): the low hash bits pick the
// first, bits 24.. the second. With one bucket per key, 8 ways overflow for a few percent of
// keys well below full load (Poisson tails); with two, a table fills to ~90% before any live
// entry has to go.
struct BucketPair {
  uint32_t first;
  uint32_t second;
};

inline BucketPair buckets_for(uint64_t hash, uint32_t mask) {
  const uint32_t first = static_cast<uint32_t>(hash) & mask;
  uint32_t second = static_cast<uint32_t>(hash >> 24) & mask;
  if (second == first) second = first ^ (mask & 1U);  // a different one where there are two
  return {first, second};
}

}  // namespace

FlowTable::FlowTable(uint32_t capacity, const FlowTimeouts& timeouts) : timeouts_(timeouts) {
  static_assert(sizeof(Bucket) == 64 * (1 + kWays));
  static_assert(alignof(Bucket) == 64);
  static_assert(std::is_trivially_destructible_v<Bucket>);
  const uint64_t wanted = (uint64_t{capacity} + kWays - 1) / kWays;
  bucket_count_ =
      std::bit_ceil(static_cast<uint32_t>(std::clamp<uint64_t>(wanted, 1, kMaxBuckets)));
  bucket_mask_ = bucket_count_ - 1;
  buckets_ = static_cast<Bucket*>(::operator new(memory_bytes(), kCacheLine));
  // Value-initialising zeroes every signature (all ways empty) and touches every page now, so
  // the packet path takes no page faults later.
  std::uninitialized_value_construct_n(buckets_, bucket_count_);
}

FlowTable::~FlowTable() {
  ::operator delete(buckets_, kCacheLine);
}

size_t FlowTable::memory_bytes() const {
  return size_t{bucket_count_} * sizeof(Bucket);
}

void FlowTable::prefetch(uint64_t hash) const {
  const BucketPair bp = buckets_for(hash, bucket_mask_);
  __builtin_prefetch(&buckets_[bp.first].h);
  __builtin_prefetch(&buckets_[bp.second].h);
}

void FlowTable::prefetch_entries(uint64_t hash) const {
  const BucketPair bp = buckets_for(hash, bucket_mask_);
  const uint16_t sig = signature(hash);
  for (const uint32_t bi : {bp.first, bp.second}) {
    const Bucket& b = buckets_[bi];
    for (uint32_t m = match_mask(b.h.sig, sig); m != 0; m &= m - 1) {
      __builtin_prefetch(&b.entries[lowest_way(m)]);
    }
  }
}

std::pair<uint32_t, uint32_t> FlowTable::buckets_of(uint64_t hash) const {
  const BucketPair bp = buckets_for(hash, bucket_mask_);
  return {bp.first, bp.second};
}

bool FlowTable::expired(const Bucket& b, uint32_t way, uint32_t now_ms) const {
  // Unsigned difference: correct across the u32 millisecond clock wrapping (every ~49 days).
  const uint32_t idle = now_ms - b.h.last_seen_ms[way];
  return idle > timeouts_.for_state(static_cast<FlowState>(b.h.state[way]));
}

FlowRef FlowTable::find(const FiveTuple& key, uint64_t hash) const {
  const BucketPair bp = buckets_for(hash, bucket_mask_);
  const uint16_t sig = signature(hash);
  for (const uint32_t bi : {bp.first, bp.second}) {
    const Bucket& b = buckets_[bi];
    for (uint32_t m = match_mask(b.h.sig, sig); m != 0; m &= m - 1) {
      const uint8_t w = lowest_way(m);
      if (b.entries[w].key == key) return FlowRef{bi, w};
    }
  }
  return FlowRef{};
}

FlowRef FlowTable::lookup(const FiveTuple& key, uint64_t hash, uint32_t now_ms) {
  const FlowRef ref = find(key, hash);
  if (ref.valid() && expired(buckets_[ref.bucket], ref.way, now_ms)) {
    stats_.expired += remove_with_peer(ref);
    return FlowRef{};
  }
  return ref;
}

void FlowTable::touch(FlowRef ref, uint32_t now_ms, FlowState state) {
  Bucket& b = buckets_[ref.bucket];
  const auto st = static_cast<uint8_t>(state);
  // A pair always carries the same last-seen and state (both are set together here and in
  // insert_pair), so when this entry is already current its peer is too: skipping saves a
  // write to the peer's header line, likely a cache miss, for every further packet this ms.
  if (b.h.last_seen_ms[ref.way] == now_ms && b.h.state[ref.way] == st) return;
  b.h.last_seen_ms[ref.way] = now_ms;
  b.h.state[ref.way] = st;
  const FlowEntry& e = b.entries[ref.way];
  if (e.peer_bucket == FlowRef::kNone) return;
  Bucket& p = buckets_[e.peer_bucket];
  p.h.last_seen_ms[e.peer_way] = now_ms;
  p.h.state[e.peer_way] = st;
}

FlowRef FlowTable::insert(const FiveTuple& key, uint64_t hash, uint32_t now_ms, FlowState state) {
  return insert_avoiding(key, hash, now_ms, state, FlowRef{});
}

FlowTable::Pair FlowTable::insert_pair(const FiveTuple& fwd_key, uint64_t fwd_hash,
                                       const FiveTuple& reply_key, uint64_t reply_hash,
                                       uint32_t now_ms, FlowState state) {
  Pair pair;
  pair.forward = insert_avoiding(fwd_key, fwd_hash, now_ms, state, FlowRef{});
  // The forward entry is the newest but, e.g. as a SYN among established flows, may well be
  // the bucket's preferred victim: shield it from the reply's insert.
  pair.reply = insert_avoiding(reply_key, reply_hash, now_ms, state, pair.forward);
  FlowEntry& f = buckets_[pair.forward.bucket].entries[pair.forward.way];
  FlowEntry& r = buckets_[pair.reply.bucket].entries[pair.reply.way];
  f.peer_bucket = pair.reply.bucket;
  f.peer_way = pair.reply.way;
  r.peer_bucket = pair.forward.bucket;
  r.peer_way = pair.forward.way;
  return pair;
}

FlowRef FlowTable::insert_avoiding(const FiveTuple& key, uint64_t hash, uint32_t now_ms,
                                   FlowState state, FlowRef keep) {
  // A stale entry with the same key would shadow the new one in lookup(): drop it first.
  if (const FlowRef stale = find(key, hash); stale.valid() && !(stale == keep)) {
    const bool was_expired = expired(buckets_[stale.bucket], stale.way, now_ms);
    const uint32_t n = remove_with_peer(stale);
    if (was_expired) stats_.expired += n;
  }

  const BucketPair bp = buckets_for(hash, bucket_mask_);
  FlowRef slot;
  // The emptier of the two buckets (the first on a tie, where lookups look first): choosing
  // the less loaded one keeps every bucket near the mean, far from full.
  const uint32_t empty_first = match_mask(buckets_[bp.first].h.sig, 0);
  const uint32_t empty_second = match_mask(buckets_[bp.second].h.sig, 0);
  if (empty_first != 0 && std::popcount(empty_first) >= std::popcount(empty_second)) {
    slot = FlowRef{bp.first, lowest_way(empty_first)};
  } else if (empty_second != 0) {
    slot = FlowRef{bp.second, lowest_way(empty_second)};
  }
  if (!slot.valid()) {
    // Both full: an expired way if any, else the oldest non-established, else the oldest.
    FlowRef expired_way, oldest, oldest_open;
    uint32_t oldest_age = 0, oldest_open_age = 0;
    for (const uint32_t bi : {bp.first, bp.second}) {
      const Bucket& b = buckets_[bi];
      for (uint8_t w = 0; w < kWays && !expired_way.valid(); ++w) {
        const FlowRef ref{bi, w};
        if (ref == keep) continue;
        const auto st = static_cast<FlowState>(b.h.state[w]);
        const uint32_t age = now_ms - b.h.last_seen_ms[w];
        if (age > timeouts_.for_state(st)) {
          expired_way = ref;
          break;
        }
        if (!oldest.valid() || age > oldest_age) {
          oldest = ref;
          oldest_age = age;
        }
        if (st != FlowState::kTcpEstablished && (!oldest_open.valid() || age > oldest_open_age)) {
          oldest_open = ref;
          oldest_open_age = age;
        }
      }
    }
    if (expired_way.valid()) {
      slot = expired_way;
      stats_.expired += remove_with_peer(slot);
    } else if (uint64_t{size_} * 16 < uint64_t{capacity()} * 15 &&
               (slot = displace(bp.first, bp.second, keep)).valid()) {
      // Only while the table has room elsewhere: in a full table (a flood) the 16 residents'
      // other buckets are full too, and trying costs 16 hashes and cache misses per insert.
      ++stats_.displaced;
    } else {
      slot = oldest_open.valid() ? oldest_open : oldest;
      // Both halves of a pair share one state (see touch()), so n entries of that state go.
      const bool established = static_cast<FlowState>(buckets_[slot.bucket].h.state[slot.way]) ==
                               FlowState::kTcpEstablished;
      const uint32_t n = remove_with_peer(slot);
      stats_.evicted += n;
      if (established) stats_.evicted_established += n;
    }
  }

  Bucket& b = buckets_[slot.bucket];
  b.h.sig[slot.way] = signature(hash);
  b.h.last_seen_ms[slot.way] = now_ms;
  b.h.state[slot.way] = static_cast<uint8_t>(state);
  FlowEntry& e = b.entries[slot.way];
  e = FlowEntry{};  // nothing of the previous flow (rewrite, backend, peer link) survives
  e.key = key;
  ++size_;
  ++stats_.inserts;
  return slot;
}

FlowRef FlowTable::displace(uint32_t first, uint32_t second, FlowRef keep) {
  // One cuckoo step: a resident of either full bucket whose other bucket has a free way moves
  // there, and its old way is the new key's. Rare (both buckets full), so recomputing the
  // residents' hashes is fine; it lets the table fill to 90% before a live entry goes (tested).
  for (const uint32_t bi : {first, second}) {
    Bucket& b = buckets_[bi];
    for (uint8_t w = 0; w < kWays; ++w) {
      const FlowRef from{bi, w};
      if (from == keep) continue;
      const auto [a, c] = buckets_for(hash_tuple(b.entries[w].key), bucket_mask_);
      const uint32_t alt = a == bi ? c : a;
      if (alt == bi) continue;
      Bucket& dst = buckets_[alt];
      const uint32_t empty = match_mask(dst.h.sig, 0);
      if (empty == 0) continue;
      const uint8_t to_way = lowest_way(empty);
      dst.h.sig[to_way] = b.h.sig[w];
      dst.h.last_seen_ms[to_way] = b.h.last_seen_ms[w];
      dst.h.state[to_way] = b.h.state[w];
      dst.entries[to_way] = b.entries[w];
      b.h.sig[w] = 0;
      const FlowEntry& moved = dst.entries[to_way];
      if (moved.peer_bucket != FlowRef::kNone) {
        FlowEntry& peer = buckets_[moved.peer_bucket].entries[moved.peer_way];
        peer.peer_bucket = alt;
        peer.peer_way = to_way;
      }
      return from;
    }
  }
  return FlowRef{};
}

void FlowTable::erase(FlowRef ref) {
  assert(ref.valid() && slot_used(ref.bucket, ref.way));
  remove_with_peer(ref);
}

void FlowTable::remove_one(FlowRef ref) {
  Bucket& b = buckets_[ref.bucket];
  if (remove_hook_ != nullptr) remove_hook_(remove_context_, b.entries[ref.way]);
  b.h.sig[ref.way] = 0;
  b.entries[ref.way].peer_bucket = FlowRef::kNone;
  --size_;
}

uint32_t FlowTable::remove_with_peer(FlowRef ref) {
  const FlowEntry& e = buckets_[ref.bucket].entries[ref.way];
  const FlowRef peer{e.peer_bucket, e.peer_way};
  remove_one(ref);
  if (!peer.valid()) return 1;
  assert(slot_used(peer.bucket, peer.way));
  remove_one(peer);
  return 2;
}

}  // namespace fulcrum
