// SPDX-License-Identifier: Apache-2.0
// BIRD's control-socket replies, as BIRD 2.0.12 writes them (the samples were captured from
// it): codes with '-' continue, with ' ' end the reply, space-led lines continue the code in
// force; enable/disable answer 0008-0011; a name BIRD does not know is 8003.
#include "bird_reply.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace fulcrum {
namespace {

BirdReply parse_all(const std::vector<std::string>& lines) {
  BirdReplyParser parser;
  for (size_t i = 0; i < lines.size(); ++i) {
    auto reply = parser.feed(lines[i]);
    if (i + 1 < lines.size()) {
      EXPECT_FALSE(reply.has_value()) << "reply ended early at line " << i;
    } else if (reply) {
      return *reply;
    }
  }
  ADD_FAILURE() << "reply never ended";
  return {};
}

TEST(BirdReply, GreetingIsOneLine) {
  const BirdReply r = parse_all({"0001 BIRD 2.0.12 ready."});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.message(), "BIRD 2.0.12 ready.");
}

TEST(BirdReply, EnableAndDisableResults) {
  const auto toggled = [](const std::vector<std::string>& lines) {
    return parse_toggle_reply(parse_all(lines));
  };
  auto t = toggled({"0011-vip1: enabled", "0000 "});
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->enabled);
  EXPECT_TRUE(t->changed);
  t = toggled({"0010-vip1: already enabled", "0000 "});
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->enabled);
  EXPECT_FALSE(t->changed);
  t = toggled({"0009-vip1: disabled", "0000 "});
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->enabled);
  EXPECT_TRUE(t->changed);
  t = toggled({"0008-vip1: already disabled", "0000 "});
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->enabled);
  EXPECT_FALSE(t->changed);
}

TEST(BirdReply, UnknownProtocolIsAnError) {
  const BirdReply r = parse_all({"8003 No protocols match"});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.code, 8003);
  EXPECT_EQ(r.message(), "No protocols match");
  EXPECT_FALSE(parse_toggle_reply(r).has_value());
}

TEST(BirdReply, ParseErrorIsAnError) {
  const BirdReply r =
      parse_all({"9001 syntax error, unexpected CF_SYM_UNDEFINED, expecting CF_SYM_KNOWN"});
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(parse_toggle_reply(r).has_value());
}

TEST(BirdReply, ContinuationLinesKeepTheirCode) {
  const BirdReply r = parse_all({"1000-BIRD 2.0.12", "1011-Router ID is 192.0.2.2",
                                 " Hostname is vm", " Current server time is 2026-11-26",
                                 "0013 Daemon is up and running"});
  EXPECT_EQ(r.code, 13);
  ASSERT_EQ(r.lines.size(), 5U);
  EXPECT_EQ(r.lines[2].code, 1011);
  EXPECT_EQ(r.lines[2].text, "Hostname is vm");
  EXPECT_EQ(r.texts(1011), (std::vector<std::string>{"Router ID is 192.0.2.2", "Hostname is vm",
                                                     "Current server time is 2026-11-26"}));
  EXPECT_EQ(r.message(), "Daemon is up and running");
}

TEST(BirdReply, ProtocolStateFromShowProtocols) {
  const BirdReply r =
      parse_all({"2002-Name       Proto      Table      State  Since         Info",
                 "1002-vip1       Static     master4    up     09:44:08.172  ", "0000 "});
  EXPECT_EQ(parse_protocol_state(r, "vip1"), "up");
  EXPECT_FALSE(parse_protocol_state(r, "vip2").has_value());
  EXPECT_EQ(r.message(), "vip1       Static     master4    up     09:44:08.172  ");
  EXPECT_FALSE(parse_protocol_state(parse_all({"8003 No protocols match"}), "vip1").has_value());
}

TEST(BirdReply, CarriageReturnsAreStripped) {
  const BirdReply r = parse_all({"0011-vip1: enabled\r", "0000 \r"});
  EXPECT_EQ(r.lines[0].text, "vip1: enabled");
  EXPECT_TRUE(parse_toggle_reply(r).has_value());
}

TEST(BirdReply, ParserStartsAfreshAfterEachReply) {
  BirdReplyParser parser;
  EXPECT_FALSE(parser.feed("0011-vip1: enabled"));
  ASSERT_TRUE(parser.feed("0000 "));
  const auto second = parser.feed("8003 No protocols match");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->lines.size(), 1U);
  // A continuation line with no code before it belongs to no reply.
  EXPECT_THROW(parser.feed(" orphan"), std::runtime_error);
}

TEST(BirdReply, GarbageIsRefused) {
  BirdReplyParser parser;
  EXPECT_THROW(parser.feed("HTTP/1.1 200 OK"), std::runtime_error);
  EXPECT_THROW(parser.feed("001 short"), std::runtime_error);
  EXPECT_THROW(parser.feed("00a1 letters"), std::runtime_error);
  EXPECT_THROW(parser.feed("0001"), std::runtime_error);
}

TEST(BirdReply, CommandsQuoteTheProtocolName) {
  EXPECT_EQ(bird_enable_command("vip1"), "enable \"vip1\"");
  EXPECT_EQ(bird_disable_command("vip_2"), "disable \"vip_2\"");
  EXPECT_EQ(bird_show_protocol_command("vip1"), "show protocols \"vip1\"");
}

}  // namespace
}  // namespace fulcrum
