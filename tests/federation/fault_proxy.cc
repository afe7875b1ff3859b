// ecq-fault-proxy: a TCP proxy on 127.0.0.1 for federation tests. It forwards
// plaintext ecq frames between devices and a coordinator and injects one
// fault into the Nth frame of a chosen type and direction: it drops the frame
// and closes the connection, cuts the frame in half, flips a body byte,
// rewrites the protocol version, or announces an oversized body. It reads the
// frame headers, so it works only with --insecure-plaintext peers.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t kHeaderBytes = 12;
constexpr std::size_t kChecksumBytes = 4;

enum class Action { kDrop, kTruncate, kCorrupt, kVersion, kOversize };

struct Rule {
  bool upstream = true;  // device to coordinator
  std::uint8_t type = 0;
  int nth = 1;
  Action action = Action::kDrop;
};

struct Shared {
  Rule rule;
  std::atomic<int> seen{0};
  sockaddr_in target{};
};

bool parse_rule(const std::string& text, Rule* rule, std::string* error) {
  // DIRECTION:TYPE:NTH:ACTION
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = text.find(':', start);
    parts.push_back(text.substr(start, colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() != 4) {
    *error = "--fault '" + text + "' must have the form DIRECTION:TYPE:NTH:ACTION";
    return false;
  }
  if (parts[0] != "up" && parts[0] != "down") {
    *error = "--fault direction '" + parts[0] + "' must be up or down";
    return false;
  }
  rule->upstream = parts[0] == "up";
  const int type = std::atoi(parts[1].c_str());
  if (type < 1 || type > 10) {
    *error = "--fault message type '" + parts[1] + "' must be 1 to 10";
    return false;
  }
  rule->type = static_cast<std::uint8_t>(type);
  rule->nth = std::atoi(parts[2].c_str());
  if (rule->nth < 1) {
    *error = "--fault occurrence '" + parts[2] + "' must be 1 or more";
    return false;
  }
  const std::string& action = parts[3];
  if (action == "drop") {
    rule->action = Action::kDrop;
  } else if (action == "truncate") {
    rule->action = Action::kTruncate;
  } else if (action == "corrupt") {
    rule->action = Action::kCorrupt;
  } else if (action == "version") {
    rule->action = Action::kVersion;
  } else if (action == "oversize") {
    rule->action = Action::kOversize;
  } else {
    *error = "--fault action '" + action + "' must be drop, truncate, corrupt, version or oversize";
    return false;
  }
  return true;
}

bool send_all(int fd, const std::uint8_t* data, std::size_t size) {
  while (size > 0) {
    const ssize_t sent = ::send(fd, data, size, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    data += sent;
    size -= static_cast<std::size_t>(sent);
  }
  return true;
}

std::uint32_t read_u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

// Bytes read from one side and not yet forwarded, cut at frame boundaries.
struct Direction {
  int from = -1;
  int to = -1;
  bool upstream = true;
  std::vector<std::uint8_t> pending;
};

// Forwards the complete frames in `direction.pending`. Returns false when the
// connection is to be closed (a fault that ends it, or a send failure).
bool forward_frames(Shared& shared, int connection, Direction& direction) {
  while (direction.pending.size() >= kHeaderBytes) {
    const std::uint32_t body = read_u32(direction.pending.data() + 8);
    const std::size_t frame = kHeaderBytes + static_cast<std::size_t>(body) + kChecksumBytes;
    if (direction.pending.size() < frame) return true;
    std::uint8_t* bytes = direction.pending.data();
    const Rule& rule = shared.rule;
    bool close_after = false;
    std::size_t forward = frame;
    if (direction.upstream == rule.upstream && bytes[5] == rule.type &&
        shared.seen.fetch_add(1) + 1 == rule.nth) {
      const char* name = "";
      switch (rule.action) {
        case Action::kDrop:
          forward = 0;
          close_after = true;
          name = "dropped";
          break;
        case Action::kTruncate:
          forward = frame / 2;
          close_after = true;
          name = "truncated";
          break;
        case Action::kCorrupt:
          bytes[kHeaderBytes + body / 2] ^= 0x01;
          name = "corrupted";
          break;
        case Action::kVersion:
          bytes[4] = 9;
          name = "rewrote the version of";
          break;
        case Action::kOversize:
          bytes[8] = 0xF0;
          bytes[9] = 0xFF;
          bytes[10] = 0xFF;
          bytes[11] = 0x7F;
          forward = kHeaderBytes;
          name = "announced an oversized body in";
          break;
      }
      std::fprintf(stderr, "ecq-fault-proxy: %s message type %u (%s) on connection %d\n", name, rule.type,
                   direction.upstream ? "device to coordinator" : "coordinator to device", connection);
    }
    if (!send_all(direction.to, bytes, forward)) return false;
    direction.pending.erase(direction.pending.begin(), direction.pending.begin() + static_cast<std::ptrdiff_t>(frame));
    if (close_after) return false;
  }
  return true;
}

void relay(Shared& shared, int device, int connection) {
  const int coordinator = ::socket(AF_INET, SOCK_STREAM, 0);
  if (coordinator < 0 ||
      ::connect(coordinator, reinterpret_cast<const sockaddr*>(&shared.target), sizeof(shared.target)) != 0) {
    std::fprintf(stderr, "ecq-fault-proxy: connecting to the coordinator failed: %s\n", std::strerror(errno));
    if (coordinator >= 0) ::close(coordinator);
    ::close(device);
    return;
  }
  Direction up{device, coordinator, true, {}};
  Direction down{coordinator, device, false, {}};
  std::uint8_t buffer[65536];
  bool open = true;
  while (open) {
    pollfd fds[2] = {{device, POLLIN, 0}, {coordinator, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2 && open; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      Direction& direction = i == 0 ? up : down;
      const ssize_t got = ::recv(direction.from, buffer, sizeof(buffer), 0);
      if (got <= 0) {
        open = false;
        break;
      }
      direction.pending.insert(direction.pending.end(), buffer, buffer + got);
      open = forward_frames(shared, connection, direction);
    }
  }
  ::close(device);
  ::close(coordinator);
}

bool parse_address(const std::string& text, sockaddr_in* address) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  address->sin_family = AF_INET;
  address->sin_port = htons(static_cast<std::uint16_t>(std::atoi(text.c_str() + colon + 1)));
  return ::inet_pton(AF_INET, text.substr(0, colon).c_str(), &address->sin_addr) == 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Forwards plaintext ecq frames on 127.0.0.1 and injects one fault (test tool)."};
  std::string target;
  std::string port_file;
  std::string fault;
  app.add_option("--target", target, "coordinator address, IPv4:PORT")->required();
  app.add_option("--port-file", port_file, "file that receives the port this proxy listens on")->required();
  app.add_option("--fault", fault,
                 "DIRECTION:TYPE:NTH:ACTION: direction up (device to coordinator) or down, message type 1 to 10, "
                 "the occurrence to hit (1 = first, counted over all connections), and the action: drop (close "
                 "without forwarding the frame), truncate (forward half, then close), corrupt (flip a body byte), "
                 "version (rewrite the protocol version to 9), oversize (announce a 2 GiB body)")
      ->required();
  CLI11_PARSE(app, argc, argv);

  Shared shared;
  std::string error;
  if (!parse_rule(fault, &shared.rule, &error)) {
    std::fprintf(stderr, "ecq-fault-proxy: %s\n", error.c_str());
    return 2;
  }
  if (!parse_address(target, &shared.target)) {
    std::fprintf(stderr, "ecq-fault-proxy: --target '%s' is not IPv4:PORT\n", target.c_str());
    return 2;
  }

  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(local);
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0 ||
      ::listen(listener, 64) != 0 || ::getsockname(listener, reinterpret_cast<sockaddr*>(&local), &length) != 0) {
    std::fprintf(stderr, "ecq-fault-proxy: listening on 127.0.0.1 failed: %s\n", std::strerror(errno));
    return 1;
  }
  {
    const std::string temporary = port_file + ".tmp";
    std::ofstream out(temporary);
    out << ntohs(local.sin_port) << "\n";
    out.close();
    if (!out || std::rename(temporary.c_str(), port_file.c_str()) != 0) {
      std::fprintf(stderr, "ecq-fault-proxy: writing %s failed\n", port_file.c_str());
      return 1;
    }
  }

  int connections = 0;
  while (true) {
    const int device = ::accept(listener, nullptr, nullptr);
    if (device < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "ecq-fault-proxy: accept failed: %s\n", std::strerror(errno));
      return 1;
    }
    std::thread(relay, std::ref(shared), device, ++connections).detach();
  }
}
