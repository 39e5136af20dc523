// SPDX-License-Identifier: Apache-2.0
// FlowTable: the per-worker connection table, 5-tuple -> NAT rewrite and backend.
//
// Set-associative with two choices: the hash names two buckets of 8 ways each, and a key lives
// in either (a cuckoo step moves a resident to its other bucket when both are full). A bucket's header (signatures, last-seen times, states) sits on one cache line,
// the entries on their own lines. Capacity is fixed at construction and nothing is allocated
// afterwards. Insert always succeeds: when both buckets are full it gives up an expired entry
// first, then the oldest non-established one, then the oldest one, so a full table never stops
// new flows and busy established flows are the last to go.
//
// An FNAT connection is two entries (client side and backend side) linked as peers: touching
// one refreshes both, and removing one (expiry, eviction, erase) removes both, like IPVS's one
// connection hashed twice.
//
// Thread-safety: owned by exactly one worker thread; no locking, no sharing.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "net_types.h"

namespace fulcrum {

// TCP state as a load balancer sees it, which decides the idle timeout.
enum class FlowState : uint8_t {
  kTcpSyn = 0,      // only the opening SYN seen: short timeout (SYN-flood entries go fast)
  kTcpEstablished,  // data flowing
  kTcpClosing,      // FIN or RST seen
  kUdp,
  kCount,
};

// Idle timeouts in milliseconds (defaults follow IPVS, with a shorter SYN timeout).
struct FlowTimeouts {
  uint32_t tcp_syn_ms = 5'000;
  uint32_t tcp_established_ms = 900'000;
  uint32_t tcp_closing_ms = 10'000;
  uint32_t udp_ms = 300'000;

  uint32_t for_state(FlowState s) const {
    switch (s) {
      case FlowState::kTcpSyn:
        return tcp_syn_ms;
      case FlowState::kTcpEstablished:
        return tcp_established_ms;
      case FlowState::kTcpClosing:
        return tcp_closing_ms;
      default:
        return udp_ms;
    }
  }
};

// Entry flags.
inline constexpr uint8_t kFlowReply = 1U << 0;  // this entry matches backend->LB (FNAT return)
inline constexpr uint8_t kFlowDsr = 1U << 1;    // DSR flow: only the destination MAC changes

// A handle to a live entry: valid until the next insert/erase/lookup that expires entries.
struct FlowRef {
  static constexpr uint32_t kNone = 0xffffffffU;
  uint32_t bucket = kNone;
  uint8_t way = 0;

  bool valid() const { return bucket != kNone; }
  bool operator==(const FlowRef&) const = default;
};

// What a worker stores per flow direction: 64 bytes, one cache line.
struct alignas(64) FlowEntry {
  FiveTuple key;                  // the tuple as it arrives on the wire
  FiveTuple rewrite;              // the tuple to write into the packet (FNAT); unused for DSR
  uint32_t snapshot_version = 0;  // snapshot in which service/backend indexes were checked
  uint32_t backend_addr = 0;      // network order: identifies the backend across snapshots
  uint16_t backend_port = 0;      // network order
  uint16_t service_index = 0;     // index into Snapshot::services at snapshot_version
  uint16_t backend_index = 0;     // index into that service's backends at snapshot_version
  uint16_t stat_id = 0;           // the backend's counters (BackendEntry::stat_id)
  // The other entry of an FNAT pair (peer_bucket == FlowRef::kNone: none). Owned by FlowTable:
  // callers fill the fields one by one and never assign a whole FlowEntry, which would
  // overwrite the key and this link.
  uint32_t peer_bucket = FlowRef::kNone;
  union {
    MacAddr out_mac;  // reply entries (FNAT): where the client's packets came from
    struct {
      uint32_t client_ack;       // forward TCP entries: the client's last ACK (its RCV.NXT)...
      uint32_t client_next_seq;  // ...and the sequence number after its last segment
    } seq;                       // what a reset needs to be accepted by both ends
  };
  uint8_t flags = 0;
  uint8_t peer_way = 0;  // with peer_bucket
  uint8_t pad[2] = {};

  FlowEntry() : seq{0, 0} {}
};
static_assert(sizeof(FlowEntry) == 64);

// Counts are in entries: an FNAT pair removed together counts two.
struct FlowTableStats {
  uint64_t inserts = 0;
  uint64_t expired = 0;              // removed because idle past their timeout
  uint64_t evicted = 0;              // removed, still live, to make room for a new flow
  uint64_t evicted_established = 0;  // of those, established ones (a sign the table is too small)
  uint64_t displaced = 0;  // residents moved to their other bucket to make room (no flow lost)
};

class FlowTable {
 public:
  static constexpr uint32_t kWays = 8;

  // capacity: entries (each FNAT connection uses two); rounded up to a power-of-two number of
  // buckets. All memory is allocated here, once.
  FlowTable(uint32_t capacity, const FlowTimeouts& timeouts);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // Every `hash` below is hash_tuple(key) (flow_hash.h): the table recomputes it for entries
  // it moves between their two buckets.

  // Brings the buckets for `hash` into cache; call a few packets ahead of lookup().
  void prefetch(uint64_t hash) const;
  // Second stage, for a key whose bucket was prefetched earlier: reads the header's signatures
  // and brings in the entry lines that may hold the key, so that a hit in lookup() does not
  // wait on memory either. E.g. prefetch() 16 packets ahead, prefetch_entries() 8 ahead.
  void prefetch_entries(uint64_t hash) const;

  // Finds a live entry for `key`. An entry found idle past its timeout is removed (with its
  // peer) and reported as a miss.
  FlowRef lookup(const FiveTuple& key, uint64_t hash, uint32_t now_ms);

  FlowEntry& entry(FlowRef ref) {
    assert(ref.valid() && slot_used(ref.bucket, ref.way));
    return buckets_[ref.bucket].entries[ref.way];
  }
  const FlowEntry& entry(FlowRef ref) const {
    assert(ref.valid() && slot_used(ref.bucket, ref.way));
    return buckets_[ref.bucket].entries[ref.way];
  }
  FlowState state(FlowRef ref) const {
    assert(ref.valid() && slot_used(ref.bucket, ref.way));
    return static_cast<FlowState>(buckets_[ref.bucket].h.state[ref.way]);
  }

  // Records activity: sets last-seen to now and the state, on the entry and its peer.
  void touch(FlowRef ref, uint32_t now_ms, FlowState state);

  // Inserts a new single-direction entry (DSR, or a flow without a reply entry). Never fails.
  // The caller fills entry(ref) afterwards; key is already set. An entry already holding `key`
  // (e.g. the reply entry of an old connection whose SNAT port is reused) is replaced, with its
  // peer, so that a stale entry never shadows the new one.
  FlowRef insert(const FiveTuple& key, uint64_t hash, uint32_t now_ms, FlowState state);

  // Inserts the two entries of an FNAT connection and links them as peers. Never fails, and
  // the second insert never evicts the first.
  struct Pair {
    FlowRef forward;
    FlowRef reply;
  };
  Pair insert_pair(const FiveTuple& fwd_key, uint64_t fwd_hash, const FiveTuple& reply_key,
                   uint64_t reply_hash, uint32_t now_ms, FlowState state);

  // Removes an entry and its peer.
  void erase(FlowRef ref);

  // Called for every entry the table removes (erase, expiry, eviction), before it goes: the
  // owner keeps per-backend flow counts with it. Plain function pointer: no allocation.
  using RemoveHook = void (*)(void* context, const FlowEntry& entry);
  void set_remove_hook(RemoveHook hook, void* context) {
    remove_hook_ = hook;
    remove_context_ = context;
  }

  // Calls fn(FlowRef, FlowEntry&) for every live entry (slow path: control requests, tests).
  template <typename Fn>
  void for_each(Fn&& fn) {
    for (uint32_t b = 0; b < bucket_count_; ++b) {
      for (uint8_t w = 0; w < kWays; ++w) {
        if (slot_used(b, w)) fn(FlowRef{b, w}, entry(FlowRef{b, w}));
      }
    }
  }

  uint32_t size() const { return size_; }
  uint32_t capacity() const { return bucket_count_ * kWays; }
  const FlowTableStats& stats() const { return stats_; }
  const FlowTimeouts& timeouts() const { return timeouts_; }
  // Bytes of memory the table holds (for the memory budget test and metrics).
  size_t memory_bytes() const;
  // The two buckets a key with this hash may live in (tests craft collisions with it).
  std::pair<uint32_t, uint32_t> buckets_of(uint64_t hash) const;

 private:
  // One bucket: a header line that lookup and insert scan (so a miss costs one cache line), then
  // the 8 entries, each on its own line, read only when a signature matches or a slot is filled.
  struct Bucket {
    struct alignas(64) Header {
      uint16_t sig[kWays] = {};  // 0: empty way
      uint32_t last_seen_ms[kWays] = {};
      uint8_t state[kWays] = {};  // FlowState
      uint8_t spare[kWays] = {};
    };
    static_assert(sizeof(Header) == 64);

    Header h;
    FlowEntry entries[kWays];
  };

  bool slot_used(uint32_t bucket, uint8_t way) const { return buckets_[bucket].h.sig[way] != 0; }
  // The entry holding `key` in either of its two buckets, expired or not.
  FlowRef find(const FiveTuple& key, uint64_t hash) const;
  // Frees a way in `first` or `second` by moving a resident (not `keep`) to its other bucket.
  FlowRef displace(uint32_t first, uint32_t second, FlowRef keep);
  bool expired(const Bucket& b, uint32_t way, uint32_t now_ms) const;
  // keep: an entry the insert must not remove (the first half of a pair being inserted).
  FlowRef insert_avoiding(const FiveTuple& key, uint64_t hash, uint32_t now_ms, FlowState state,
                          FlowRef keep);
  void remove_one(FlowRef ref);
  // Removes ref and its peer; returns how many entries went (1 or 2).
  uint32_t remove_with_peer(FlowRef ref);

  FlowTimeouts timeouts_;
  uint32_t bucket_count_ = 0;
  uint32_t bucket_mask_ = 0;
  uint32_t size_ = 0;
  Bucket* buckets_ = nullptr;
  FlowTableStats stats_;
  RemoveHook remove_hook_ = nullptr;
  void* remove_context_ = nullptr;
};

}  // namespace fulcrum
