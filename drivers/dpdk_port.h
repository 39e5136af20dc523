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

rte_mempool* create_mbuf_pool(const std::string& name, uint32_t mbufs, std::string& error);

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
