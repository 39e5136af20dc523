// SPDX-License-Identifier: Apache-2.0
// DPDK ethdev set-up: the EAL, the mbuf pool, and ports with one RX queue per worker (RSS
// across them where the device has several) and one TX queue per worker.
// Thread-safety: set-up and tear-down from the main lcore only; the queues are then used by
// their own lcores (rx/tx queue q by worker q).
#pragma once

#include <rte_ethdev.h>
#include <rte_mempool.h>

#include <cstdint>
#include <string>
#include <vector>

#include "net_types.h"

namespace fulcrum {

// Starts the EAL with `args`; false (and `error`) on failure.
bool eal_start(const std::vector<std::string>& args, std::string& error);
void eal_stop();

// The packet-buffer pool. With `page_tiled`, every buffer takes exactly 4 KiB and the buffers
// tile the pages with no gap: net_af_xdp (DPDK 22.11) registers the pool with the kernel as one
// UMEM of populated_size x object size from its first object, and in the default layout
// (2,368-byte objects that never straddle a page, so one per 4 KiB page under --no-huge) the
// later buffers lie past that UMEM's end. The kernel silently discards such a buffer from the
// FILL ring and never returns it, so each one the PMD posts costs the queue a receive slot for
// good: under a flood that cycles the whole pool the port stops receiving (docs/reliability.md).
rte_mempool* create_mbuf_pool(const std::string& name, uint32_t mbufs, bool page_tiled,
                              std::string& error);

// How many of `pool`'s buffers lie (even partly) outside the UMEM that net_af_xdp registers for
// it; 0 when the PMD can use every buffer.
uint32_t mbufs_outside_af_xdp_umem(const rte_mempool* pool);

struct EthPortInfo {
  uint16_t id = 0;
  std::string name;
  std::string driver;
  MacAddr mac;
  uint16_t rx_queues = 0;
  uint16_t tx_queues = 0;
  bool rss = false;
};

// Configures and starts the ethdev called `name` with the queue counts asked for (clamped to
// what the device offers: `info` says what it got). False and `error` naming the device when
// it does not exist or refuses.
bool eth_port_start(const std::string& name, uint16_t rx_queues, uint16_t tx_queues,
                    rte_mempool* pool, EthPortInfo& info, std::string& error);
void eth_port_stop(uint16_t port_id);
bool eth_link_up(uint16_t port_id);

}  // namespace fulcrum
