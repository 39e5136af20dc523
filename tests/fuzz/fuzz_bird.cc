// SPDX-License-Identifier: Apache-2.0
// Fuzz target: bytes from BIRD's control socket, split into lines and fed to BirdReplyParser as
// BirdClient does; every complete reply goes through what the announcer reads of it. A line
// that fits no form may throw std::runtime_error (the client then drops the connection: here,
// a fresh parser); nothing else may escape, and a reply's reading must agree with its code.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "bird_reply.h"

using namespace fulcrum;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  BirdReplyParser parser;
  size_t start = 0;
  while (start < input.size()) {
    size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view line = input.substr(start, end - start);
    start = end + 1;
    try {
      const auto reply = parser.feed(line);
      if (!reply) continue;
      if (reply->lines.empty() || reply->code != reply->lines.back().code) std::abort();
      if (reply->ok() != (reply->code < 8000)) std::abort();
      const auto toggled = parse_toggle_reply(*reply);
      if (toggled && !reply->ok()) std::abort();
      const auto state = parse_protocol_state(*reply, "vip1");
      if (state && (state->empty() || !reply->ok())) std::abort();
      (void)reply->message();
      (void)reply->texts(1002);
    } catch (const std::runtime_error&) {
      parser = BirdReplyParser{};
    }
  }
  return 0;
}
