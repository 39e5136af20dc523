// SPDX-License-Identifier: Apache-2.0
#include "lcore_worker.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include <chrono>
#include <cstring>
#include <thread>

namespace fulcrum {

namespace {

constexpr uint16_t kBurst = 32;
// Adaptive polling: after this many empty loops, sleep; each further empty loop doubles the
// sleep up to the cap. A packet resets it. 1 ms caps the added latency of the first packet.
constexpr uint32_t kIdleLoopsBeforeSleep = 256;
constexpr uint32_t kMaxSleepUs = 1000;

}  // namespace

LcoreWorker::LcoreWorker(const LcoreWorkerConfig& config, Worker& worker,
                         const SnapshotPublisher& tables, const WorkerRings& rings,
                         const std::atomic<bool>& running)
    : config_(config), worker_(worker), tables_(tables), rings_(rings), running_(running) {}

int LcoreWorker::launch(void* arg) {
  static_cast<LcoreWorker*>(arg)->run();
  return 0;
}

void LcoreWorker::handle(rte_mbuf** mbufs, uint16_t n, uint32_t now_ms) {
  Packet pkts[kBurst];
  Action actions[kBurst];
  for (uint16_t i = 0; i < n; ++i) {
    pkts[i] = Packet{rte_pktmbuf_mtod(mbufs[i], uint8_t*), rte_pktmbuf_data_len(mbufs[i])};
    rte_prefetch0(pkts[i].data);
  }
  worker_.process_burst(tables_.current(), pkts, n, now_ms, actions);

  rte_mbuf* tx[kBurst];
  rte_mbuf* kernel[kBurst];
  uint16_t ntx = 0, nkernel = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = mbufs[i];
    switch (actions[i].kind) {
      case ActionKind::kForward:
      case ActionKind::kReply:
        if (pkts[i].len != rte_pktmbuf_data_len(m)) {  // a reply may be shorter (RST)
          rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_data_len(m) - pkts[i].len));
        }
        tx[ntx++] = m;
        break;
      case ActionKind::kToKernel:
        kernel[nkernel++] = m;
        break;
      case ActionKind::kHandoff:
        if (actions[i].arg >= rings_.handoff.size() ||
            rte_ring_mp_enqueue(rings_.handoff[actions[i].arg], m) != 0) {
          worker_.counters().drop(DropReason::kHandoffFull);
          rte_pktmbuf_free(m);
        }
        break;
      case ActionKind::kDrop:
        rte_pktmbuf_free(m);
        break;
    }
  }
  if (ntx > 0) {
    const uint16_t sent = rte_eth_tx_burst(config_.port_id, config_.queue, tx, ntx);
    stats_.tx_packets.add(sent);
    for (uint16_t i = sent; i < ntx; ++i) {
      worker_.counters().drop(DropReason::kTxFull);
      rte_pktmbuf_free(tx[i]);
    }
  }
  if (nkernel > 0) {
    const unsigned queued =
        rte_ring_mp_enqueue_burst(rings_.to_kernel, reinterpret_cast<void**>(kernel), nkernel,
                                  nullptr);
    for (unsigned i = queued; i < nkernel; ++i) {
      worker_.counters().drop(DropReason::kExceptionFull);
      rte_pktmbuf_free(kernel[i]);
    }
  }
}

void LcoreWorker::run_command(void* command) {
  const auto word = reinterpret_cast<uintptr_t>(command);
  const auto type = static_cast<WorkerCommand>(word >> 32);
  const auto arg = static_cast<uint32_t>(word & 0xffffffffU);
  const Snapshot* snap = tables_.current();
  if (type != WorkerCommand::kResetBackendFlows || snap == nullptr || config_.pool == nullptr) {
    return;
  }
  rte_mbuf* out[kBurst];
  uint16_t n = 0;
  auto flush = [&] {
    const uint16_t sent = rte_eth_tx_burst(config_.port_id, config_.queue, out, n);
    stats_.resets_sent.add(sent);
    for (uint16_t i = sent; i < n; ++i) rte_pktmbuf_free(out[i]);
    n = 0;
  };
  rte_mbuf* pending = nullptr;
  worker_.reset_backend_flows(
      *snap, static_cast<uint16_t>(arg),
      [&]() -> uint8_t* {
        pending = rte_pktmbuf_alloc(config_.pool);
        if (pending == nullptr) return nullptr;
        // 60 bytes: the Ethernet minimum; what follows the 54-byte RST is zero padding.
        auto* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(pending, 60));
        std::memset(data, 0, 60);
        return data;
      },
      [&](uint8_t*, uint16_t) {
        out[n++] = pending;
        pending = nullptr;
        if (n == kBurst) flush();
      });
  if (n > 0) flush();
}

void LcoreWorker::run() {
  RcuReader rcu;
  const uint64_t tsc_per_ms = rte_get_tsc_hz() / 1000;
  rte_ring* own_handoff = rings_.handoff.at(config_.queue);
  rte_ring* commands = rings_.commands.at(config_.queue);
  rte_mbuf* mbufs[kBurst];
  uint32_t idle_loops = 0;
  uint32_t sleep_us = 1;

  while (running_.load(std::memory_order_relaxed)) {
    const auto now_ms = static_cast<uint32_t>(rte_rdtsc() / tsc_per_ms);
    unsigned moved = 0;

    const uint16_t n = rte_eth_rx_burst(config_.port_id, config_.queue, mbufs, kBurst);
    if (n > 0) handle(mbufs, n, now_ms);
    moved += n;

    const unsigned h = rte_ring_sc_dequeue_burst(own_handoff, reinterpret_cast<void**>(mbufs),
                                                 kBurst, nullptr);
    if (h > 0) handle(mbufs, static_cast<uint16_t>(h), now_ms);
    moved += h;

    if (config_.sends_kernel_frames) {
      const unsigned k = rte_ring_sc_dequeue_burst(
          rings_.to_port, reinterpret_cast<void**>(mbufs), kBurst, nullptr);
      if (k > 0) {
        const uint16_t sent =
            rte_eth_tx_burst(config_.port_id, config_.queue, mbufs, static_cast<uint16_t>(k));
        stats_.from_kernel.add(sent);
        for (unsigned i = sent; i < k; ++i) rte_pktmbuf_free(mbufs[i]);
      }
      moved += k;
    }

    if (!rte_ring_empty(commands)) {
      void* command;
      while (rte_ring_sc_dequeue(commands, &command) == 0) run_command(command);
    }

    RcuReader::quiescent();
    stats_.loops.add();
    if (moved > 0) {
      stats_.busy_loops.add();
      idle_loops = 0;
      sleep_us = 1;
    } else if (config_.adaptive && ++idle_loops > kIdleLoopsBeforeSleep) {
      // Offline while asleep, so a table publish never waits for a sleeping worker.
      RcuReader::offline();
      std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
      RcuReader::online();
      stats_.sleeps.add();
      sleep_us = sleep_us * 2 > kMaxSleepUs ? kMaxSleepUs : sleep_us * 2;
    }
  }
  RcuReader::offline();
}

}  // namespace fulcrum
