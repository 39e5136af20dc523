// SPDX-License-Identifier: Apache-2.0
#include "snapshot.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "reference_scenario.h"
#include "snapshot_builder.h"
#include "snapshot_publisher.h"

namespace fulcrum {
namespace {

TEST(Snapshot, FindsServicesByVipPortAndProtocol) {
  const auto sc = reference_scenario();
  const auto snap = build_snapshot(sc.node, sc.services, 7);
  const Ipv4Be vip = *parse_ipv4("192.0.2.26");
  EXPECT_EQ(snap->version, 7U);
  const int nova = snap->find_service(vip, host_to_be16(8774), 6);
  const int galera = snap->find_service(vip, host_to_be16(3306), 6);
  ASSERT_GE(nova, 0);
  ASSERT_GE(galera, 0);
  EXPECT_EQ(snap->services[static_cast<size_t>(nova)].name, "nova-api");
  EXPECT_EQ(snap->services[static_cast<size_t>(galera)].name, "galera");
  EXPECT_EQ(snap->find_service(vip, host_to_be16(8774), 17), -1);
  EXPECT_EQ(snap->find_service(vip, host_to_be16(80), 6), -1);
  EXPECT_EQ(snap->find_service(*parse_ipv4("192.0.2.27"), host_to_be16(8774), 6), -1);
  EXPECT_TRUE(snap->owns_vip(vip));
  EXPECT_FALSE(snap->owns_vip(*parse_ipv4("192.0.2.2")));
}

TEST(Snapshot, ManyServicesAllFound) {
  auto sc = reference_scenario();
  ServiceSpec base = sc.services[0];
  sc.services.clear();
  for (uint16_t p = 1; p <= 500; ++p) {
    base.name = "svc" + std::to_string(p);
    base.port = p;
    base.scheduler = Scheduler::kWrr;  // cheap to build
    sc.services.push_back(base);
  }
  const auto snap = build_snapshot(sc.node, sc.services, 1);
  for (uint16_t p = 1; p <= 500; ++p) {
    const int i = snap->find_service(base.vip, host_to_be16(p), 6);
    ASSERT_GE(i, 0);
    EXPECT_EQ(snap->services[static_cast<size_t>(i)].port, host_to_be16(p));
  }
}

TEST(Snapshot, FindsBackendsByIdentity) {
  const auto sc = reference_scenario();
  const auto snap = build_snapshot(sc.node, sc.services, 1);
  const ServiceEntry& svc = snap->services[0];
  EXPECT_EQ(svc.find_backend(*parse_ipv4("192.0.2.11"), host_to_be16(8774)), 1);
  EXPECT_EQ(svc.find_backend(*parse_ipv4("192.0.2.11"), host_to_be16(8775)), -1);
  EXPECT_EQ(svc.find_backend(*parse_ipv4("192.0.2.13"), host_to_be16(8774)), -1);
}

TEST(Snapshot, BackendStatesDecideNewAndExistingFlows) {
  auto sc = reference_scenario();
  sc.services[0].backends[0].state = BackendState::kDraining;
  sc.services[0].backends[1].state = BackendState::kDown;
  sc.services[0].backends[2].state = BackendState::kDisabled;
  sc.services[1].backends[0].weight = 0;
  const auto snap = build_snapshot(sc.node, sc.services, 1);
  const auto& b = snap->services[0].backends;
  EXPECT_FALSE(b[0].accepts_new);
  EXPECT_TRUE(b[0].keeps_existing);
  EXPECT_FALSE(b[1].accepts_new);
  EXPECT_TRUE(b[1].keeps_existing);
  EXPECT_FALSE(b[2].accepts_new);
  EXPECT_FALSE(b[2].keeps_existing);
  EXPECT_TRUE(snap->services[0].maglev.empty() ||
              snap->services[0].maglev.lookup(12345) == MaglevTable::kNoBackend);
  // Weight 0: in no Maglev slot.
  for (const uint16_t slot : snap->services[1].maglev.slots()) EXPECT_NE(slot, 0);
}

TEST(Snapshot, ChecksumCoversContents) {
  const auto sc = reference_scenario();
  auto a = build_snapshot(sc.node, sc.services, 1);
  EXPECT_TRUE(a->verify());
  auto changed = sc;
  changed.services[0].backends[1].weight = 2;
  const auto b = build_snapshot(changed.node, changed.services, 1);
  EXPECT_NE(a->checksum(), b->checksum());
  // A field changed after sealing is caught.
  a->services[0].backends[0].mac.bytes[5] ^= 1;
  EXPECT_FALSE(a->verify());
}

TEST(SnapshotBuilder, RejectsDuplicates) {
  auto sc = reference_scenario();
  auto dup = sc;
  dup.services.push_back(dup.services[0]);
  EXPECT_THROW(build_snapshot(dup.node, dup.services, 1), std::invalid_argument);
  dup = sc;
  dup.services[0].backends.push_back(dup.services[0].backends[0]);
  EXPECT_THROW(build_snapshot(dup.node, dup.services, 1), std::invalid_argument);
  dup = sc;
  dup.node.fnat_port_lo = 5000;
  dup.node.fnat_port_hi = 4000;
  EXPECT_THROW(build_snapshot(dup.node, dup.services, 1), std::invalid_argument);
  dup = sc;
  dup.node.maglev_size = 65536;
  EXPECT_THROW(build_snapshot(dup.node, dup.services, 1), std::invalid_argument);
}

TEST(SnapshotPublisher, ReaderSeesEachPublishedVersion) {
  const auto sc = reference_scenario();
  SnapshotPublisher pub;
  RcuReader reader;  // this thread reads; it must be offline while publishing
  RcuReader::offline();
  pub.publish(build_snapshot(sc.node, sc.services, 1));
  RcuReader::online();
  ASSERT_NE(pub.current(), nullptr);
  EXPECT_EQ(pub.current()->version, 1U);
  RcuReader::offline();
  pub.publish(build_snapshot(sc.node, sc.services, 2));
  pub.publish(build_snapshot(sc.node, sc.services, 3));
  RcuReader::online();
  EXPECT_EQ(pub.current()->version, 3U);
  EXPECT_TRUE(pub.current()->verify());
  EXPECT_EQ(pub.publish_count(), 3U);
  RcuReader::offline();  // the publisher's destructor waits for a grace period
}

}  // namespace
}  // namespace fulcrum
