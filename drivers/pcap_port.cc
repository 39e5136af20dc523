// SPDX-License-Identifier: Apache-2.0
#include "pcap_port.h"

#include <stdexcept>

namespace fulcrum {

PcapReader::PcapReader(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE] = {};
  handle_ = pcap_open_offline(path.c_str(), err);
  if (handle_ == nullptr) throw std::runtime_error(path + ": " + err);
  if (pcap_datalink(handle_) != DLT_EN10MB) {
    pcap_close(handle_);
    throw std::runtime_error(path + ": not an Ethernet capture");
  }
}

PcapReader::~PcapReader() { pcap_close(handle_); }

bool PcapReader::next(std::vector<uint8_t>& frame) {
  pcap_pkthdr* hdr = nullptr;
  const u_char* data = nullptr;
  const int rc = pcap_next_ex(handle_, &hdr, &data);
  if (rc != 1) return false;
  frame.assign(data, data + hdr->caplen);
  return true;
}

PcapWriter::PcapWriter(const std::string& path) {
  dead_ = pcap_open_dead(DLT_EN10MB, 65535);
  dumper_ = pcap_dump_open(dead_, path.c_str());
  if (dumper_ == nullptr) {
    const std::string err = pcap_geterr(dead_);
    pcap_close(dead_);
    throw std::runtime_error(path + ": " + err);
  }
}

PcapWriter::~PcapWriter() {
  pcap_dump_close(dumper_);
  pcap_close(dead_);
}

void PcapWriter::write(const uint8_t* data, uint32_t len, uint64_t timestamp_us) {
  pcap_pkthdr hdr{};
  hdr.ts.tv_sec = static_cast<time_t>(timestamp_us / 1'000'000);
  hdr.ts.tv_usec = static_cast<suseconds_t>(timestamp_us % 1'000'000);
  hdr.caplen = len;
  hdr.len = len;
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &hdr, data);
}

}  // namespace fulcrum
