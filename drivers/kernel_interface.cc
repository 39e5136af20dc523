// SPDX-License-Identifier: Apache-2.0
#include "kernel_interface.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace fulcrum {

namespace {

void set_sockaddr(sockaddr* sa, Ipv4Be addr) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = addr;
  std::memcpy(sa, &sin, sizeof sin);
}

class Socket {
 public:
  Socket() : fd_(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

bool configure_kernel_interface(const std::string& ifname, Ipv4Be address, uint8_t prefix_len,
                                std::optional<Ipv4Be> gateway, std::string& error) {
  Socket sock;
  if (sock.fd() < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  auto fail = [&](const char* step) {
    error = ifname + ": " + step + ": " + std::strerror(errno);
    return false;
  };

  set_sockaddr(&ifr.ifr_addr, address);
  if (ioctl(sock.fd(), SIOCSIFADDR, &ifr) != 0) return fail("set address");
  const uint32_t mask = prefix_len == 0 ? 0 : ~uint32_t{0} << (32 - prefix_len);
  set_sockaddr(&ifr.ifr_netmask, host_to_be32(mask));
  if (ioctl(sock.fd(), SIOCSIFNETMASK, &ifr) != 0) return fail("set netmask");

  // IPv6 off before the link comes up, so no router solicitation or DAD is ever sent.
  std::ofstream(std::string("/proc/sys/net/ipv6/conf/") + ifname + "/disable_ipv6") << "1\n";

  if (ioctl(sock.fd(), SIOCGIFFLAGS, &ifr) != 0) return fail("get flags");
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
  if (ioctl(sock.fd(), SIOCSIFFLAGS, &ifr) != 0) return fail("set up");

  if (gateway) {
    rtentry route{};
    set_sockaddr(&route.rt_dst, 0);
    set_sockaddr(&route.rt_genmask, 0);
    set_sockaddr(&route.rt_gateway, *gateway);
    route.rt_flags = RTF_UP | RTF_GATEWAY;
    route.rt_dev = const_cast<char*>(ifname.c_str());
    // An existing default route (another interface's) stays: the operator's routing wins.
    if (ioctl(sock.fd(), SIOCADDRT, &route) != 0 && errno != EEXIST) {
      return fail("add default route");
    }
  }
  return true;
}

}  // namespace fulcrum
