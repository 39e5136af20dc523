// SPDX-License-Identifier: Apache-2.0
// fulcrum-replay: runs a capture file through the packet pipeline with the reference scenario
// (DESIGN.md) and prints what happened to every frame: forwarded where, answered, passed to
// the kernel or dropped and why. With --answer, it plays the backends too: each frame
// forwarded to a controller gets a reply from it, which goes back through the pipeline to the
// client, so both halves of FNAT show.
#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "checksum.h"
#include "pcap_port.h"
#include "pipeline.h"
#include "reference_scenario.h"

namespace po = boost::program_options;
using namespace fulcrum;

namespace {

std::string tcp_flags(uint8_t f) {
  std::string s;
  if (f & kTcpSyn) s += 'S';
  if (f & kTcpAck) s += '.';
  if (f & kTcpPsh) s += 'P';
  if (f & kTcpFin) s += 'F';
  if (f & kTcpRst) s += 'R';
  return s;
}

std::string describe(const std::vector<uint8_t>& frame) {
  ParsedPacket p;
  const ParseStatus st = parse_packet(frame.data(), static_cast<uint32_t>(frame.size()), p);
  if (st != ParseStatus::kOk) return std::string("<") + to_string(st) + ">";
  if (p.ether_type == kEtherTypeArp) {
    return std::string("arp ") + (p.arp_op == 1 ? "who-has " : "reply ") +
           ipv4_to_string(p.arp_tpa) + " tell " + ipv4_to_string(p.arp_spa);
  }
  if (p.tuple.proto == static_cast<uint8_t>(IpProto::kIcmp)) {
    return "icmp " + ipv4_to_string(p.tuple.saddr) + " -> " + ipv4_to_string(p.tuple.daddr) +
           (p.icmp_type == kIcmpEchoRequest ? " echo-request"
            : p.icmp_type == kIcmpEchoReply ? " echo-reply"
                                            : " type " + std::to_string(p.icmp_type));
  }
  std::string s = p.tuple.to_string();
  if (p.tuple.proto == static_cast<uint8_t>(IpProto::kTcp)) s += " [" + tcp_flags(p.tcp_flags) + "]";
  return s;
}

// What a backend would send back for a forwarded frame: the tuple mirrored, SYN answered with
// SYN-ACK, anything else acknowledged; no payload.
std::vector<uint8_t> backend_answer(const std::vector<uint8_t>& fwd) {
  ParsedPacket p;
  std::vector<uint8_t> r = fwd;
  if (parse_packet(r.data(), static_cast<uint32_t>(r.size()), p) != ParseStatus::kOk) return {};
  uint8_t mac[6];
  std::memcpy(mac, r.data(), 6);
  std::memcpy(r.data(), r.data() + 6, 6);
  std::memcpy(r.data() + 6, mac, 6);
  uint8_t* ip = r.data() + p.l3_offset;
  uint8_t* l4 = r.data() + p.l4_offset;
  const uint32_t s = load32(ip + 12);
  store32(ip + 12, load32(ip + 16));
  store32(ip + 16, s);
  const uint16_t sp = load16(l4);
  store16(l4, load16(l4 + 2));
  store16(l4 + 2, sp);
  uint16_t l4_len = p.l4_len;
  if (p.tuple.proto == static_cast<uint8_t>(IpProto::kTcp)) {
    const bool syn = p.tcp_flags & kTcpSyn;
    l4[13] = static_cast<uint8_t>(syn ? (kTcpSyn | kTcpAck) : kTcpAck);
    l4[12] = 5 << 4;
    l4_len = 20;
    store16(l4 + 16, 0);
  } else {
    store16(l4 + 6, 0);
  }
  ip[8] = 64;
  store16(ip + 2, host_to_be16(static_cast<uint16_t>(p.ip_header_len + l4_len)));
  store16(ip + 10, 0);
  store16(ip + 10, ipv4_header_checksum(ip, p.ip_header_len));
  const uint16_t check_at = p.tuple.proto == static_cast<uint8_t>(IpProto::kTcp) ? 16 : 6;
  store16(l4 + check_at, 0);
  store16(l4 + check_at, l4_checksum_ipv4(load32(ip + 12), load32(ip + 16), p.tuple.proto, l4, l4_len));
  r.resize(p.l3_offset + p.ip_header_len + l4_len);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string in_path, out_path, forward_name, scheduler_name;
  bool answer = false;
  po::options_description opts("fulcrum-replay: run a capture through the Fulcrum pipeline");
  opts.add_options()("help,h", "show this help")(
      "in,i", po::value(&in_path)->required(), "capture file to read (Ethernet pcap)")(
      "out,o", po::value(&out_path), "write every frame leaving the pipeline to this pcap")(
      "forward", po::value(&forward_name)->default_value("fnat"), "fnat | dsr")(
      "scheduler", po::value(&scheduler_name)->default_value("maglev"), "maglev | wrr | sh")(
      "answer", po::bool_switch(&answer), "play the backends: answer each forwarded frame");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    if (vm.count("help")) {
      std::cout << opts << "\n";
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "fulcrum-replay: " << e.what() << "\n" << opts << "\n";
    return 2;
  }
  if (forward_name != "fnat" && forward_name != "dsr") {
    std::cerr << "fulcrum-replay: --forward must be fnat or dsr\n";
    return 2;
  }
  const Scheduler scheduler = scheduler_name == "wrr"  ? Scheduler::kWrr
                              : scheduler_name == "sh" ? Scheduler::kSourceHash
                                                       : Scheduler::kMaglev;
  if (scheduler_name != "maglev" && scheduler_name != "wrr" && scheduler_name != "sh") {
    std::cerr << "fulcrum-replay: --scheduler must be maglev, wrr or sh\n";
    return 2;
  }

  const ReferenceScenario sc =
      reference_scenario(forward_name == "dsr" ? ForwardMode::kDsr : ForwardMode::kFnat, scheduler);
  const std::unique_ptr<Snapshot> snap = build_snapshot(sc.node, sc.services, 1);
  Worker worker(WorkerConfig{.worker_id = 0, .worker_count = 1, .flow_capacity = 65536});

  std::unique_ptr<PcapReader> reader;
  std::unique_ptr<PcapWriter> writer;
  try {
    reader = std::make_unique<PcapReader>(in_path);
    if (!out_path.empty()) writer = std::make_unique<PcapWriter>(out_path);
  } catch (const std::exception& e) {
    std::cerr << "fulcrum-replay: " << e.what() << "\n";
    return 1;
  }

  std::printf("fulcrum-replay: %s, %s, VIP 192.0.2.26 (nova-api :8774, galera :3306), "
              "controllers c0..c2 = 192.0.2.10-12\n",
              forward_name.c_str(), scheduler_name.c_str());
  std::map<std::string, std::map<std::string, int>> new_flows_per_backend;
  std::vector<uint8_t> frame;
  std::vector<std::vector<uint8_t>> pending;  // backend answers to process next
  uint32_t now_ms = 0;
  uint64_t n = 0;
  auto run_one = [&](std::vector<uint8_t> f, const char* origin) {
    const std::string before = describe(f);
    const ServiceEntry* service = nullptr;
    ParsedPacket in;
    if (parse_packet(f.data(), static_cast<uint32_t>(f.size()), in) == ParseStatus::kOk) {
      const int si = snap->find_service(in.tuple.daddr, in.tuple.dport, in.tuple.proto);
      if (si >= 0) service = &snap->services[static_cast<size_t>(si)];
    }
    Packet pkt{f.data(), static_cast<uint16_t>(f.size())};
    Action action;
    const uint64_t new_before = worker.counters().new_flows.load();
    worker.process_burst(snap.get(), &pkt, 1, now_ms, &action);
    f.resize(pkt.len);
    std::string after;
    switch (action.kind) {
      case ActionKind::kForward: {
        ParsedPacket p;
        parse_packet(f.data(), static_cast<uint32_t>(f.size()), p);
        const bool to_client = snap->owns_vip(p.tuple.saddr);
        // FNAT names the backend in the destination address, DSR only in the MAC.
        const MacAddr dst_mac{{f[0], f[1], f[2], f[3], f[4], f[5]}};
        std::string backend = controller_name(p.tuple.daddr);
        if (service != nullptr) {
          for (const BackendEntry& b : service->backends) {
            if (b.addr == p.tuple.daddr || (service->forward == ForwardMode::kDsr && b.mac == dst_mac)) {
              backend = controller_name(b.addr);
            }
          }
        }
        after = "forward  " + describe(f) + (to_client ? "  (to client)" : "  to " + backend);
        if (forward_name == "dsr") after += " via " + dst_mac.to_string();
        if (service != nullptr && worker.counters().new_flows.load() != new_before) {
          ++new_flows_per_backend[service->name][backend];
        }
        if (answer && !to_client && forward_name == "fnat") pending.push_back(backend_answer(f));
        break;
      }
      case ActionKind::kReply: after = "reply    " + describe(f); break;
      case ActionKind::kToKernel: after = "kernel"; break;
      case ActionKind::kHandoff: after = "handoff to worker " + std::to_string(action.arg); break;
      case ActionKind::kDrop:
        after = std::string("drop     (") + to_string(static_cast<DropReason>(action.arg)) + ")";
        break;
    }
    std::printf("%5llu %-8s %-58s => %s\n", static_cast<unsigned long long>(++n), origin,
                before.c_str(), after.c_str());
    if (writer && (action.kind == ActionKind::kForward || action.kind == ActionKind::kReply)) {
      writer->write(f.data(), static_cast<uint32_t>(f.size()), uint64_t{now_ms} * 1000);
    }
  };
  while (reader->next(frame)) {
    run_one(frame, "client");
    ++now_ms;
    std::vector<std::vector<uint8_t>> answers;
    answers.swap(pending);
    for (auto& a : answers) {
      if (!a.empty()) run_one(std::move(a), "backend");
    }
  }

  std::printf("\nnew flows per backend:\n");
  for (const auto& [svc, per_backend] : new_flows_per_backend) {
    std::printf("  %-9s", svc.c_str());
    for (const auto& [backend, count] : per_backend) std::printf("  %s=%d", backend.c_str(), count);
    std::printf("\n");
  }
  const WorkerCounters* workers = &worker.counters();
  const CounterTotals t = sum_counters({workers, 1});
  std::printf("\ncounters: rx=%llu forwarded=%llu replied=%llu kernel=%llu new_flows=%llu dropped=%llu\n",
              static_cast<unsigned long long>(t.rx_packets), static_cast<unsigned long long>(t.forwarded),
              static_cast<unsigned long long>(t.replied), static_cast<unsigned long long>(t.to_kernel),
              static_cast<unsigned long long>(t.new_flows), static_cast<unsigned long long>(t.dropped));
  for (size_t i = 0; i < t.drops.size(); ++i) {
    if (t.drops[i] != 0) {
      std::printf("  drop %-16s %llu\n", to_string(static_cast<DropReason>(i)),
                  static_cast<unsigned long long>(t.drops[i]));
    }
  }
  return 0;
}
