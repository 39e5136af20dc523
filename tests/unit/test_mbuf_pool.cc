// SPDX-License-Identifier: Apache-2.0
// The packet-buffer pool for net_af_xdp: every buffer must lie inside the UMEM that DPDK 22.11's
// PMD registers (populated_size x object size from the first chunk's page), or the kernel
// drops that buffer from the FILL ring without a word and the queue loses a receive slot for
// good. Needs the EAL (--no-huge, no devices), started once for the whole binary.
#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "dpdk_port.h"

namespace fulcrum {
namespace {

class MbufPoolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string error;
    eal_up_ = eal_start(
        {"test_mbuf_pool", "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--no-telemetry",
         "-l", "0", "--log-level=1", "--file-prefix=fulcrum-test-" + std::to_string(getpid())},
        error);
    eal_error_ = error;
  }
  static void TearDownTestSuite() {
    if (eal_up_) eal_stop();
  }
  void SetUp() override { ASSERT_TRUE(eal_up_) << eal_error_; }

  static rte_mempool* make(const std::string& name, uint32_t mbufs, bool page_tiled) {
    std::string error;
    rte_mempool* pool = create_mbuf_pool(name, mbufs, page_tiled, error);
    EXPECT_NE(pool, nullptr) << error;
    return pool;
  }

  static inline bool eal_up_ = false;
  static inline std::string eal_error_;
};

TEST_F(MbufPoolTest, PageTiledPoolLiesWholeInsideTheAfXdpUmem) {
  // fulcrumd's pool size for one and for two workers, and an odd one.
  for (const uint32_t mbufs : {12287U, 16383U, 1001U}) {
    rte_mempool* pool = make("tiled" + std::to_string(mbufs), mbufs, true);
    ASSERT_NE(pool, nullptr);
    EXPECT_EQ(pool->populated_size, mbufs);
    EXPECT_EQ(pool->header_size + pool->elt_size + pool->trailer_size, 4096U);
    EXPECT_EQ(mbufs_outside_af_xdp_umem(pool), 0U) << mbufs << " mbufs";
    rte_mempool_free(pool);
  }
}

TEST_F(MbufPoolTest, PageTiledBuffersHoldAFullFrameAndAreDistinct) {
  rte_mempool* pool = make("tiled_use", 1024, true);
  ASSERT_NE(pool, nullptr);
  EXPECT_GE(rte_pktmbuf_data_room_size(pool), RTE_MBUF_DEFAULT_BUF_SIZE);
  std::vector<rte_mbuf*> all(1024);
  ASSERT_EQ(rte_pktmbuf_alloc_bulk(pool, all.data(), static_cast<unsigned>(all.size())), 0);
  std::set<rte_mbuf*> distinct(all.begin(), all.end());
  EXPECT_EQ(distinct.size(), all.size());
  for (rte_mbuf* m : all) {
    EXPECT_EQ(m->pool, pool);
    EXPECT_GE(rte_pktmbuf_tailroom(m), 1518U);  // a full Ethernet frame after the headroom
    // No buffer straddles a 4 KiB page: a zero-copy AF_XDP driver could not DMA into it.
    const auto begin = reinterpret_cast<uintptr_t>(m->buf_addr);
    EXPECT_EQ(begin / 4096, (begin + m->buf_len - 1) / 4096);
  }
  rte_pktmbuf_free_bulk(all.data(), static_cast<unsigned>(all.size()));
  EXPECT_EQ(rte_mempool_avail_count(pool), 1024U);
  rte_mempool_free(pool);
}

TEST_F(MbufPoolTest, DefaultLayoutLeavesBuffersOutsideTheUmem) {
  // Why fulcrumd tiles the pool for af_xdp: DPDK's default layout keeps its 2,368-byte objects
  // off page boundaries, so under --no-huge they sit 4 KiB apart and the PMD's UMEM, sized as
  // if they were packed, ends about 58% of the way through the pool.
  rte_mempool* pool = make("default", 12287, false);
  ASSERT_NE(pool, nullptr);
  const uint32_t outside = mbufs_outside_af_xdp_umem(pool);
  EXPECT_GT(outside, 12287U / 4);
  EXPECT_LT(outside, 12287U);
  rte_mempool_free(pool);
}

}  // namespace
}  // namespace fulcrum
