// SPDX-License-Identifier: Apache-2.0
// PcapPort: reads frames from a capture file and writes frames to one (libpcap), so the very
// same process_burst() that runs on DPDK ports runs on recorded traffic in demos and tests.
// Thread-safety: one thread per object.
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fulcrum {

class PcapReader {
 public:
  // Throws std::runtime_error naming the file on failure.
  explicit PcapReader(const std::string& path);
  ~PcapReader();
  PcapReader(const PcapReader&) = delete;
  PcapReader& operator=(const PcapReader&) = delete;

  // Next frame into `frame`; false at the end of the file.
  bool next(std::vector<uint8_t>& frame);

 private:
  pcap_t* handle_ = nullptr;
};

class PcapWriter {
 public:
  explicit PcapWriter(const std::string& path);
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  void write(const uint8_t* data, uint32_t len, uint64_t timestamp_us);

 private:
  pcap_t* dead_ = nullptr;
  pcap_dumper_t* dumper_ = nullptr;
};

}  // namespace fulcrum
