// SPDX-License-Identifier: Apache-2.0
#include "dpdk_port.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_memzone.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace fulcrum {

bool eal_start(const std::vector<std::string>& args, std::string& error) {
  // rte_eal_init keeps pointers into argv for the process's lifetime.
  static std::vector<std::string> storage;
  static std::vector<char*> argv;
  storage = args;
  argv.clear();
  for (std::string& a : storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(storage.size()), argv.data()) < 0) {
    error = std::string("EAL initialisation failed: ") + rte_strerror(rte_errno);
    return false;
  }
  return true;
}

void eal_stop() {
  // EAL makes a runtime directory (/var/run/dpdk/<prefix>) that rte_eal_cleanup() leaves
  // behind. Remove it and its parent when empty: rmdir never touches a directory that another
  // DPDK process keeps files in.
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  if (!runtime_dir.empty() && rmdir(runtime_dir.c_str()) == 0) {
    const auto slash = runtime_dir.find_last_of('/');
    if (slash != std::string::npos && slash > 0) rmdir(runtime_dir.substr(0, slash).c_str());
  }
}

namespace {

constexpr uint16_t kRxDesc = 1024;
constexpr uint16_t kTxDesc = 1024;
constexpr uint32_t kMbufCache = 256;
constexpr uint32_t kTiledObjectSize = 4096;  // divides 4 KiB, 2 MiB and 1 GiB pages alike

void free_zone(rte_mempool_memhdr* /*chunk*/, void* zone) {
  rte_memzone_free(static_cast<const rte_memzone*>(zone));
}

rte_mempool* create_page_tiled_pool(const std::string& name, uint32_t mbufs) {
  // rte_pktmbuf_pool_create's steps, with NO_SPREAD so that the object size stays exactly
  // kTiledObjectSize (spreading over memory channels would pad it to 4,160 bytes).
  constexpr unsigned kFlags = RTE_MEMPOOL_F_NO_SPREAD;
  rte_mempool_objsz size{};
  rte_mempool_calc_obj_size(sizeof(rte_mbuf), kFlags, &size);
  const uint32_t elt_size = kTiledObjectSize - size.header_size - size.trailer_size;
  rte_pktmbuf_pool_private priv{};
  priv.mbuf_data_room_size = static_cast<uint16_t>(elt_size - sizeof(rte_mbuf));
  priv.mbuf_priv_size = 0;
  rte_mempool* pool =
      rte_mempool_create_empty(name.c_str(), mbufs, elt_size, kMbufCache,
                               sizeof(rte_pktmbuf_pool_private), rte_socket_id(), kFlags);
  if (pool == nullptr) return nullptr;
  if (rte_mempool_calc_obj_size(elt_size, kFlags, nullptr) != kTiledObjectSize ||
      rte_mempool_set_ops_byname(pool, rte_mbuf_best_mempool_ops(), nullptr) != 0) {
    rte_mempool_free(pool);
    rte_errno = EINVAL;
    return nullptr;
  }
  rte_pktmbuf_pool_init(pool, &priv);
  // Our own page-aligned memory: the default population starts the first object at the page
  // after an unaligned chunk start, which puts the last object past the PMD's UMEM.
  const std::string zone_name = "tiled_" + name;
  const rte_memzone* zone =
      rte_memzone_reserve_aligned(zone_name.c_str(), size_t{mbufs} * kTiledObjectSize,
                                  static_cast<int>(rte_socket_id()), 0, kTiledObjectSize);
  const int populated =
      zone == nullptr
          ? -rte_errno
          : rte_mempool_populate_virt(pool, static_cast<char*>(zone->addr), zone->len,
                                      kTiledObjectSize, free_zone, const_cast<rte_memzone*>(zone));
  if (populated < 0 || pool->populated_size != mbufs) {
    if (populated <= 0 && zone != nullptr) rte_memzone_free(zone);  // else the pool owns it
    rte_mempool_free(pool);
    rte_errno = populated < 0 ? -populated : ENOMEM;
    return nullptr;
  }
  rte_mempool_obj_iter(pool, rte_pktmbuf_init, nullptr);
  return pool;
}

std::string err_text(int rc) { return rte_strerror(rc < 0 ? -rc : rc); }

struct UmemSpan {
  uintptr_t begin = 0;
  uintptr_t end = 0;
  uintptr_t frame = 0;  // one whole object: header, mbuf and data, trailer
  uint32_t outside = 0;
};

void count_outside(rte_mempool* pool, void* opaque, void* obj, unsigned /*index*/) {
  // The PMD hands the kernel each buffer as (mbuf - UMEM base - header); the kernel accepts it
  // when that offset plus one frame (the whole object) stays inside the UMEM.
  auto* span = static_cast<UmemSpan*>(opaque);
  const uintptr_t start = reinterpret_cast<uintptr_t>(obj) - pool->header_size;
  if (start < span->begin || start + span->frame > span->end) ++span->outside;
}

}  // namespace

rte_mempool* create_mbuf_pool(const std::string& name, uint32_t mbufs, bool page_tiled,
                              std::string& error) {
  rte_mempool* pool = page_tiled
                          ? create_page_tiled_pool(name, mbufs)
                          : rte_pktmbuf_pool_create(name.c_str(), mbufs, kMbufCache, 0,
                                                    RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
  if (pool == nullptr) {
    error = "cannot create mbuf pool of " + std::to_string(mbufs) +
            " mbufs: " + rte_strerror(rte_errno) + " (more memory for EAL: -m)";
  }
  return pool;
}

uint32_t mbufs_outside_af_xdp_umem(const rte_mempool* pool) {
  // The same arithmetic as net_af_xdp's xdp_umem_configure(): the base is the page holding
  // the first memory chunk, the length populated_size objects plus that chunk's offset.
  auto* mp = const_cast<rte_mempool*>(pool);
  const rte_mempool_memhdr* first = STAILQ_FIRST(&mp->mem_list);
  if (first == nullptr) return mp->populated_size;
  const auto page = static_cast<uintptr_t>(getpagesize());
  const auto addr = reinterpret_cast<uintptr_t>(first->addr);
  UmemSpan span;
  span.begin = addr & ~(page - 1);
  span.frame = mp->header_size + mp->elt_size + mp->trailer_size;
  span.end =
      span.begin + static_cast<uintptr_t>(mp->populated_size) * span.frame + (addr - span.begin);
  rte_mempool_obj_iter(mp, count_outside, &span);
  return span.outside;
}

bool eth_port_start(const std::string& name, uint16_t rx_queues, uint16_t tx_queues,
                    rte_mempool* pool, EthPortInfo& info, std::string& error) {
  uint16_t id = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) {
    error = "device " + name + " not found (is its driver installed, is the spec right?)";
    return false;
  }
  rte_eth_dev_info dev{};
  if (int rc = rte_eth_dev_info_get(id, &dev); rc != 0) {
    error = name + ": cannot read device info: " + err_text(rc);
    return false;
  }
  info.id = id;
  info.name = name;
  info.driver = dev.driver_name ? dev.driver_name : "?";
  info.rx_queues = std::min<uint16_t>(rx_queues, dev.max_rx_queues);
  info.tx_queues = std::min<uint16_t>(tx_queues, dev.max_tx_queues);
  if (info.rx_queues == 0 || info.tx_queues == 0) {
    error = name + ": device offers no queues";
    return false;
  }

  rte_eth_conf conf{};
  const uint64_t rss_hf =
      dev.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
  if (info.rx_queues > 1 && rss_hf != 0) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
    info.rss = true;
  }
  if (int rc = rte_eth_dev_configure(id, info.rx_queues, info.tx_queues, &conf); rc != 0) {
    error = name + ": configure failed: " + err_text(rc);
    return false;
  }
  uint16_t rx_desc = kRxDesc, tx_desc = kTxDesc;
  rte_eth_dev_adjust_nb_rx_tx_desc(id, &rx_desc, &tx_desc);
  const int socket = rte_eth_dev_socket_id(id);
  const unsigned sock = socket < 0 ? 0U : static_cast<unsigned>(socket);
  for (uint16_t q = 0; q < info.rx_queues; ++q) {
    if (int rc = rte_eth_rx_queue_setup(id, q, rx_desc, sock, nullptr, pool); rc != 0) {
      error = name + ": RX queue " + std::to_string(q) + " set-up failed: " + err_text(rc);
      return false;
    }
  }
  for (uint16_t q = 0; q < info.tx_queues; ++q) {
    if (int rc = rte_eth_tx_queue_setup(id, q, tx_desc, sock, nullptr); rc != 0) {
      error = name + ": TX queue " + std::to_string(q) + " set-up failed: " + err_text(rc);
      return false;
    }
  }
  if (int rc = rte_eth_dev_start(id); rc != 0) {
    error = name + ": start failed: " + err_text(rc);
    return false;
  }
  rte_ether_addr mac{};
  rte_eth_macaddr_get(id, &mac);
  std::memcpy(info.mac.bytes.data(), mac.addr_bytes, 6);
  return true;
}

void eth_port_stop(uint16_t port_id) {
  rte_eth_dev_stop(port_id);
  rte_eth_dev_close(port_id);
}

bool eth_link_up(uint16_t port_id) {
  rte_eth_link link{};
  return rte_eth_link_get_nowait(port_id, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

}  // namespace fulcrum
