// SPDX-License-Identifier: Apache-2.0
// fulcrum-pktgen: the traffic generator of bench/run's packet-rate section. It owns one DPDK
// port (the memif server end; the device under test, fulcrumd or dpdk-testpmd, is the client),
// sends TCP frames to VIP:port from a set of flows as fast as the port takes them, answers
// every ARP request (so the balancer resolves its backends), and counts the frames that come
// back. It prints one JSON object on stdout.
//
// Flows: --flows N cycles through N client tuples; each is opened with one SYN before the
// timed run ("established": every measured packet hits a flow). --new makes every packet a
// SYN from a tuple never used before ("all-new flows").
//
// Runs on one lcore (the main one): transmit, then receive, in one loop, as DPDK's txonly and
// rxonly forwarders do. Addresses come from 198.18.0.0/15 (RFC 2544's benchmarking range).
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_arp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_cycles.h>
#include <rte_mbuf.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

constexpr uint16_t kBurst = 32;
constexpr uint16_t kRingSize = 1024;
constexpr uint32_t kClientNet = 0xc6130000;  // 198.19.0.0/16: the clients
constexpr uint16_t kPortsPerAddr = 60000;    // source ports 1024..61023 per client address

struct Options {
  rte_ether_addr dst_mac{};  // the device under test's MAC; learnt from its first frame if unset
  bool have_dst_mac = false;
  uint32_t vip = 0xc612ff01;  // 198.18.255.1
  uint16_t vport = 8774;
  uint32_t flows = 1024;
  bool new_flows = false;
  uint16_t frame_len = 60;  // without the CRC: a 64-byte frame on the wire
  double settle_s = 2.0;    // answer ARP only, until the balancer has resolved its backends
  double warmup_s = 1.0;
  double duration_s = 3.0;
  std::string out_path;  // write the result here, then wait for the device to detach
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "fulcrum-pktgen: %s\nusage: fulcrum-pktgen [EAL args] -- [--dst-mac MAC] "
               "[--vip A.B.C.D] [--vport N] [--flows N | --new] [--size 64..1518] "
               "[--settle S] [--warmup S] [--duration S] [--out FILE]\n",
               why);
  std::exit(2);
}

uint32_t parse_ip(const char* s) {
  unsigned a, b, c, d;
  char tail;
  if (std::sscanf(s, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 ||
      c > 255 || d > 255) {
    usage("bad IPv4 address");
  }
  return a << 24 | b << 16 | c << 8 | d;
}

double parse_seconds(const char* s) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (end == s || *end != '\0' || v < 0 || v > 3600) usage("bad number of seconds");
  return v;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--dst-mac") {
      if (rte_ether_unformat_addr(value(), &o.dst_mac) != 0) usage("bad MAC address");
      o.have_dst_mac = true;
    } else if (a == "--vip") {
      o.vip = parse_ip(value());
    } else if (a == "--vport") {
      o.vport = static_cast<uint16_t>(std::strtoul(value(), nullptr, 10));
    } else if (a == "--flows") {
      o.flows = static_cast<uint32_t>(std::strtoul(value(), nullptr, 10));
      if (o.flows == 0 || o.flows > 16'000'000) usage("--flows must be 1..16000000");
    } else if (a == "--new") {
      o.new_flows = true;
    } else if (a == "--size") {
      const unsigned long size = std::strtoul(value(), nullptr, 10);
      if (size < 64 || size > 1518) usage("--size must be 64..1518");
      o.frame_len = static_cast<uint16_t>(size - RTE_ETHER_CRC_LEN);
    } else if (a == "--settle") {
      o.settle_s = parse_seconds(value());
    } else if (a == "--warmup") {
      o.warmup_s = parse_seconds(value());
    } else if (a == "--duration") {
      o.duration_s = parse_seconds(value());
    } else if (a == "--out") {
      o.out_path = value();
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  return o;
}

// RFC 1624 incremental update of a ones'-complement checksum for a 16-bit field change.
uint16_t csum_replace16(uint16_t csum, uint16_t old_v, uint16_t new_v) {
  uint32_t sum = static_cast<uint16_t>(~csum) + static_cast<uint32_t>(static_cast<uint16_t>(~old_v)) + new_v;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

class Generator {
 public:
  Generator(uint16_t port, rte_mempool* pool, const Options& o) : port_(port), pool_(pool), o_(o) {
    rte_eth_macaddr_get(port, &own_mac_);
    build_template();
  }

  // Answers ARP only, for settle_s.
  void settle() { loop(o_.settle_s, false, nullptr); }

  // Waits for the peer to connect (memif: the device under test attaching).
  bool wait_link(double seconds) {
    const uint64_t end = rte_rdtsc() + static_cast<uint64_t>(seconds * static_cast<double>(rte_get_tsc_hz()));
    while (rte_rdtsc() < end) {
      rte_eth_link link{};
      if (rte_eth_link_get_nowait(port_, &link) == 0 && link.link_status == RTE_ETH_LINK_UP) return true;
      rte_delay_ms(10);
    }
    return false;
  }

  // One SYN per flow (established mode), at the rate the port takes them; false when the port
  // stopped taking frames for a second.
  bool open_flows() {
    const uint64_t hz = rte_get_tsc_hz();
    uint64_t progress = rte_rdtsc();
    for (uint32_t i = 0; i < o_.flows; i += kBurst) {
      if (rte_rdtsc() - progress > hz) return false;
      rte_mbuf* pkts[kBurst];
      const uint16_t n = static_cast<uint16_t>(std::min<uint32_t>(kBurst, o_.flows - i));
      if (rte_pktmbuf_alloc_bulk(pool_, pkts, n) != 0) {
        i -= kBurst;
        drain_rx();
        continue;
      }
      for (uint16_t k = 0; k < n; ++k) fill(pkts[k], i + k, RTE_TCP_SYN_FLAG);
      uint16_t sent = 0;
      while (sent < n && rte_rdtsc() - progress < hz) {
        const uint16_t k = rte_eth_tx_burst(port_, 0, pkts + sent, static_cast<uint16_t>(n - sent));
        if (k) progress = rte_rdtsc();
        sent = static_cast<uint16_t>(sent + k);
        drain_rx();
      }
      if (sent < n) {
        rte_pktmbuf_free_bulk(pkts + sent, n - sent);
        return false;
      }
    }
    return true;
  }

  struct Counts {
    uint64_t tx = 0, rx = 0;
    double seconds = 0;
  };

  Counts run(double seconds) {
    Counts c;
    loop(seconds, true, &c);
    return c;
  }

  // Goes on sending until the peer detaches (at most `seconds`), so that what the harness reads
  // from the device under test after the result (its busy ratio) is read under the same load;
  // and the device is stopped before its port's peer goes away, since DPDK's memif PMD may
  // fault in a data path that polls while the connection is torn down.
  void linger(double seconds) {
    const uint64_t hz = rte_get_tsc_hz();
    const uint64_t end = rte_rdtsc() + static_cast<uint64_t>(seconds * static_cast<double>(hz));
    while (rte_rdtsc() < end) {
      rte_eth_link link{};
      if (rte_eth_link_get_nowait(port_, &link) == 0 && link.link_status != RTE_ETH_LINK_UP) return;
      loop(0.01, true, nullptr);
    }
  }

  uint64_t arp_replies() const { return arp_replies_; }
  uint64_t alloc_failures() const { return alloc_failures_; }

 private:
  void build_template() {
    std::memset(tmpl_, 0, sizeof(tmpl_));
    auto* eth = reinterpret_cast<rte_ether_hdr*>(tmpl_);
    if (o_.have_dst_mac) eth->dst_addr = o_.dst_mac;
    else std::memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
    eth->src_addr = own_mac_;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(o_.frame_len - sizeof(*eth)));
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_TCP;
    ip->src_addr = rte_cpu_to_be_32(kClientNet);
    ip->dst_addr = rte_cpu_to_be_32(o_.vip);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    auto* tcp = reinterpret_cast<rte_tcp_hdr*>(ip + 1);
    tcp->src_port = rte_cpu_to_be_16(1024);
    tcp->dst_port = rte_cpu_to_be_16(o_.vport);
    tcp->sent_seq = rte_cpu_to_be_32(1);
    tcp->recv_ack = rte_cpu_to_be_32(1);
    tcp->data_off = 5 << 4;
    tcp->rx_win = rte_cpu_to_be_16(65535);
    for (int flags : {RTE_TCP_SYN_FLAG, RTE_TCP_ACK_FLAG}) {
      tcp->tcp_flags = static_cast<uint8_t>(flags);
      tcp->cksum = 0;
      tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
      (flags == RTE_TCP_SYN_FLAG ? syn_cksum_ : ack_cksum_) = tcp->cksum;
    }
  }

  // Writes flow i's frame into m: the template with the flow's source address and port, and
  // both checksums updated incrementally.
  void fill(rte_mbuf* m, uint64_t i, uint8_t flags) {
    char* d = rte_pktmbuf_mtod(m, char*);
    std::memcpy(d, tmpl_, o_.frame_len);
    m->data_len = o_.frame_len;
    m->pkt_len = o_.frame_len;
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(d + sizeof(rte_ether_hdr));
    auto* tcp = reinterpret_cast<rte_tcp_hdr*>(ip + 1);
    const uint32_t addr = kClientNet + static_cast<uint32_t>(i / kPortsPerAddr);
    const uint16_t sport = static_cast<uint16_t>(1024 + i % kPortsPerAddr);
    const uint16_t hi = rte_cpu_to_be_16(static_cast<uint16_t>(addr >> 16));
    const uint16_t lo = rte_cpu_to_be_16(static_cast<uint16_t>(addr & 0xffff));
    const uint16_t old_hi = rte_cpu_to_be_16(static_cast<uint16_t>(kClientNet >> 16));
    const uint16_t old_lo = rte_cpu_to_be_16(static_cast<uint16_t>(kClientNet & 0xffff));
    const uint16_t old_port = rte_cpu_to_be_16(1024);
    const uint16_t port = rte_cpu_to_be_16(sport);
    ip->src_addr = rte_cpu_to_be_32(addr);
    ip->hdr_checksum = csum_replace16(csum_replace16(ip->hdr_checksum, old_hi, hi), old_lo, lo);
    tcp->src_port = port;
    tcp->tcp_flags = flags;
    uint16_t c = flags == RTE_TCP_SYN_FLAG ? syn_cksum_ : ack_cksum_;
    c = csum_replace16(csum_replace16(c, old_hi, hi), old_lo, lo);
    tcp->cksum = csum_replace16(c, old_port, port);
  }

  // Without --dst-mac, frames go to the source MAC of the first frame the device sends (a
  // balancer's ARP request for its backends); until then to the broadcast address.
  void learn_dst_mac(const rte_mbuf* m) {
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    if (!rte_is_unicast_ether_addr(&eth->src_addr)) return;
    o_.dst_mac = eth->src_addr;
    o_.have_dst_mac = true;
    reinterpret_cast<rte_ether_hdr*>(tmpl_)->dst_addr = o_.dst_mac;
  }

  // Turns an ARP request for any address into a reply from a MAC made of that address.
  bool answer_arp(rte_mbuf* m) {
    if (m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)) return false;
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) return false;
    auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    if (arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST)) return false;
    const uint32_t target = arp->arp_data.arp_tip;
    rte_ether_addr mac{{0x02, 0xbe, 0, 0, 0, 0}};
    std::memcpy(&mac.addr_bytes[2], &target, 4);
    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
    arp->arp_data.arp_tha = arp->arp_data.arp_sha;
    arp->arp_data.arp_tip = arp->arp_data.arp_sip;
    arp->arp_data.arp_sha = mac;
    arp->arp_data.arp_sip = target;
    eth->dst_addr = eth->src_addr;
    eth->src_addr = mac;
    return true;
  }

  uint64_t drain_rx() {
    rte_mbuf* pkts[kBurst];
    const uint16_t n = rte_eth_rx_burst(port_, 0, pkts, kBurst);
    uint64_t data = 0;
    rte_mbuf* replies[kBurst];
    uint16_t nr = 0;
    for (uint16_t k = 0; k < n; ++k) {
      if (!o_.have_dst_mac) learn_dst_mac(pkts[k]);
      if (answer_arp(pkts[k])) {
        replies[nr++] = pkts[k];
        pkts[k] = nullptr;
      } else {
        ++data;
      }
    }
    for (uint16_t k = 0; k < n; ++k) {
      if (pkts[k]) rte_pktmbuf_free(pkts[k]);
    }
    if (nr) {
      const uint16_t sent = rte_eth_tx_burst(port_, 0, replies, nr);
      arp_replies_ += sent;
      for (uint16_t k = sent; k < nr; ++k) rte_pktmbuf_free(replies[k]);
    }
    return data;
  }

  void loop(double seconds, bool send, Counts* c) {
    const uint64_t hz = rte_get_tsc_hz();
    const uint64_t start = rte_rdtsc();
    const uint64_t end = start + static_cast<uint64_t>(seconds * static_cast<double>(hz));
    uint64_t now = start;
    while (now < end) {
      if (send) {
        rte_mbuf* pkts[kBurst];
        if (rte_pktmbuf_alloc_bulk(pool_, pkts, kBurst) == 0) {
          const uint8_t flags = o_.new_flows ? RTE_TCP_SYN_FLAG : RTE_TCP_ACK_FLAG;
          for (uint16_t k = 0; k < kBurst; ++k) {
            const uint64_t i = o_.new_flows ? next_new_++ : (cursor_++ % o_.flows);
            fill(pkts[k], i + (o_.new_flows ? o_.flows : 0), flags);
          }
          const uint16_t sent = rte_eth_tx_burst(port_, 0, pkts, kBurst);
          if (c) c->tx += sent;
          if (sent < kBurst) {
            rte_pktmbuf_free_bulk(pkts + sent, kBurst - sent);
            if (o_.new_flows) next_new_ -= kBurst - sent;  // unsent tuples stay unused
            else cursor_ -= kBurst - sent;
          }
        } else {
          ++alloc_failures_;
        }
      }
      const uint64_t got = drain_rx();
      if (c) c->rx += got;
      now = rte_rdtsc();
    }
    if (c) c->seconds = static_cast<double>(now - start) / static_cast<double>(hz);
  }

  uint16_t port_;
  rte_mempool* pool_;
  Options o_;
  rte_ether_addr own_mac_{};
  alignas(64) uint8_t tmpl_[RTE_ETHER_MAX_LEN]{};
  uint16_t syn_cksum_ = 0, ack_cksum_ = 0;
  uint64_t cursor_ = 0, next_new_ = 0;
  uint64_t arp_replies_ = 0, alloc_failures_ = 0;
};

int setup_port(uint16_t port, rte_mempool* pool) {
  rte_eth_conf conf{};
  int rc = rte_eth_dev_configure(port, 1, 1, &conf);
  if (rc == 0) rc = rte_eth_rx_queue_setup(port, 0, kRingSize, rte_eth_dev_socket_id(port), nullptr, pool);
  if (rc == 0) rc = rte_eth_tx_queue_setup(port, 0, kRingSize, rte_eth_dev_socket_id(port), nullptr);
  if (rc == 0) rc = rte_eth_dev_start(port);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  const int eal = rte_eal_init(argc, argv);
  if (eal < 0) {
    std::fprintf(stderr, "fulcrum-pktgen: EAL initialisation failed\n");
    return 1;
  }
  const Options o = parse_options(argc - eal - 1, argv + eal + 1);
  if (rte_eth_dev_count_avail() < 1) {
    std::fprintf(stderr, "fulcrum-pktgen: no port (give one with --vdev)\n");
    return 1;
  }
  const uint16_t port = 0;
  rte_mempool* pool = rte_pktmbuf_pool_create("pktgen", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                              rte_socket_id());
  if (pool == nullptr || setup_port(port, pool) != 0) {
    std::fprintf(stderr, "fulcrum-pktgen: port set-up failed\n");
    return 1;
  }
  Generator gen(port, pool, o);
  if (!gen.wait_link(10)) {
    std::fprintf(stderr, "fulcrum-pktgen: the port's peer did not connect within 10 s\n");
    return 1;
  }
  gen.settle();
  if (!o.new_flows && !gen.open_flows()) {
    std::fprintf(stderr, "fulcrum-pktgen: the port stopped taking frames while opening flows\n");
    return 1;
  }
  gen.run(o.warmup_s);
  const auto c = gen.run(o.duration_s);
  char result[512];
  std::snprintf(
      result, sizeof(result),
      "{\"tx\": %" PRIu64 ", \"rx\": %" PRIu64 ", \"seconds\": %.6f, \"tx_pps\": %.1f, "
      "\"rx_pps\": %.1f, \"flows\": %u, \"new_flows\": %s, \"frame_bytes\": %u, "
      "\"arp_replies\": %" PRIu64 ", \"alloc_failures\": %" PRIu64 "}\n",
      c.tx, c.rx, c.seconds, static_cast<double>(c.tx) / c.seconds,
      static_cast<double>(c.rx) / c.seconds, o.flows, o.new_flows ? "true" : "false",
      o.frame_len + RTE_ETHER_CRC_LEN, gen.arp_replies(), gen.alloc_failures());
  std::fputs(result, stdout);
  std::fflush(stdout);
  if (!o.out_path.empty()) {
    // Written whole under another name, then renamed: a reader never sees half of it.
    const std::string tmp = o.out_path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (f == nullptr || std::fputs(result, f) < 0 || std::fclose(f) != 0 ||
        std::rename(tmp.c_str(), o.out_path.c_str()) != 0) {
      std::fprintf(stderr, "fulcrum-pktgen: cannot write %s\n", o.out_path.c_str());
      return 1;
    }
    gen.linger(10);
  }
  rte_eth_dev_stop(port);
  rte_eth_dev_close(port);
  rte_eal_cleanup();
  return 0;
}
