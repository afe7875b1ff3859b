// ecq-coordinator as a subprocess: a plaintext run configured from a config
// file, one scripted device, one round, and the summary it writes at exit.

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ecq/port/socket.h"
#include "ecq/protocol/chunks.h"
#include "ecq/protocol/frame.h"
#include "ecq/protocol/messages.h"
#include "ecq/transport/socket_stream.h"
#include "scripted_device.h"
#include "temp_dir.h"

namespace ecq::coordinator {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Starts the program with `arguments`; stderr goes to `log`.
pid_t spawn(const std::vector<std::string>& arguments, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::freopen(log.c_str(), "w", stderr);
    std::vector<char*> argv;
    static std::string program = ECQ_COORDINATOR_PROGRAM;
    argv.push_back(program.data());
    for (const std::string& argument : arguments) {
      argv.push_back(const_cast<char*>(argument.c_str()));
    }
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Writes a frame on a blocking-enough socket stream, waiting while it is full.
void send_frame(transport::SocketStream& stream, protocol::MessageType type, const std::uint8_t* body,
                std::size_t size) {
  std::vector<std::uint8_t> frame(size + protocol::kFrameOverheadBytes);
  std::size_t frame_size = 0;
  REQUIRE(protocol::encode_frame(std::uint8_t(type), body, size, frame.data(), frame.size(), &frame_size) ==
          Status::kOk);
  std::size_t sent = 0;
  for (int attempt = 0; attempt < 1000 && sent < frame_size; ++attempt) {
    std::size_t done = 0;
    (void)stream.write(frame.data() + sent, frame_size - sent, &done);
    sent += done;
    if (sent < frame_size) {
      bool readable = false;
      bool writable = false;
      (void)port::socket_wait(stream.socket(), false, true, 10, &readable, &writable);
    }
  }
  REQUIRE(sent == frame_size);
}

// Reads frames until one of `type` arrives; returns its body.
std::vector<std::uint8_t> receive(transport::SocketStream& stream, protocol::FrameReader& reader,
                                  protocol::MessageType type) {
  for (int attempt = 0; attempt < 200; ++attempt) {
    protocol::FrameView frame;
    while (reader.next(&frame) == Status::kOk) {
      if (frame.type == std::uint8_t(type)) {
        return std::vector<std::uint8_t>(frame.body, frame.body + frame.body_size);
      }
    }
    bool readable = false;
    bool writable = false;
    (void)port::socket_wait(stream.socket(), true, false, 50, &readable, &writable);
    std::uint8_t chunk[8192];
    std::size_t done = 0;
    if (stream.read(chunk, sizeof chunk, &done) == transport::IoStatus::kOk && done > 0) {
      std::size_t consumed = 0;
      REQUIRE(reader.feed(chunk, done, &consumed) == Status::kOk);
      REQUIRE(consumed == done);
    }
  }
  FAIL("no " << protocol::message_type_name(std::uint8_t(type)) << " from the program");
  return {};
}

TEST_CASE("program runs one plaintext round from a config file") {
  ecq::test::TempDir dir("ecq-coordinator-program");
  const std::string config = dir.write("coordinator.ini",
                                       "insecure-plaintext=true\n"
                                       "listen=127.0.0.1:0\n"
                                       "metrics-listen=\n"
                                       "model=linear\n"
                                       "inputs=3\n"
                                       "method=fp32\n"
                                       "devices-per-round=1\n"
                                       "rounds=1\n");
  const std::string port_file = dir.path("port");
  const std::string summary = dir.path("summary.json");
  const std::string model = dir.path("model.ecqm");
  const pid_t pid = spawn({"--config", config, "--port-file", port_file, "--summary", summary, "--state-dir",
                           dir.path("state"), "--export-model", model},
                          dir.path("stderr.log"));
  REQUIRE(pid > 0);
  std::string port_text;
  for (int attempt = 0; attempt < 500 && port_text.empty(); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    port_text = read_text(port_file);
  }
  REQUIRE_MESSAGE(!port_text.empty(), read_text(dir.path("stderr.log")));

  port::Socket socket;
  const port::PortStatus status = port::socket_connect("127.0.0.1", std::uint16_t(std::stoi(port_text)), &socket);
  REQUIRE((status == port::PortStatus::kOk || status == port::PortStatus::kWouldBlock));
  transport::SocketStream stream(socket);
  if (status == port::PortStatus::kWouldBlock) {
    bool readable = false;
    bool writable = false;
    REQUIRE(port::socket_wait(socket, false, true, 2000, &readable, &writable) == port::PortStatus::kOk);
    REQUIRE(port::socket_connect_finish(socket) == port::PortStatus::kOk);
  }
  std::vector<std::uint8_t> buffer(1 << 16);
  protocol::FrameReader reader;
  REQUIRE(reader.init({buffer.data(), buffer.size()}, std::uint32_t(buffer.size() - 16)) == Status::kOk);

  protocol::Hello hello;
  hello.model_kinds = 0x0F;
  hello.methods = 0x0F;
  hello.max_body_size = 4096;
  std::memcpy(hello.device_id, "sub-1", 5);
  hello.device_id_size = 5;
  std::uint8_t body[4096];
  std::size_t size = 0;
  REQUIRE(protocol::encode_hello(hello, body, sizeof body, &size) == Status::kOk);
  send_frame(stream, protocol::MessageType::kHello, body, size);
  REQUIRE(protocol::encode_check_in(protocol::CheckIn{0}, body, sizeof body, &size) == Status::kOk);
  send_frame(stream, protocol::MessageType::kCheckIn, body, size);

  const std::vector<std::uint8_t> offer_body = receive(stream, reader, protocol::MessageType::kRoundOffer);
  protocol::RoundOffer offer;
  REQUIRE(protocol::decode_round_offer(offer_body.data(), offer_body.size(), &offer) == Status::kOk);
  CHECK(offer.shape.kind == ModelKind::kLinear);
  CHECK(offer.shape.inputs == 3);
  const std::vector<std::uint8_t> payload = test::fp32_payload({1.0f, 2.0f, 3.0f, 4.0f});
  protocol::UpdateChunk chunk;
  REQUIRE(protocol::make_update_chunk(offer.round_id, 1, 10, {payload.data(), payload.size()}, sizeof body, 0,
                                      &chunk) == Status::kOk);
  REQUIRE(protocol::encode_update_chunk(chunk, body, sizeof body, &size) == Status::kOk);
  send_frame(stream, protocol::MessageType::kUpdateChunk, body, size);
  const std::vector<std::uint8_t> verdict_body = receive(stream, reader, protocol::MessageType::kVerdict);
  protocol::Verdict verdict;
  REQUIRE(protocol::decode_verdict(verdict_body.data(), verdict_body.size(), &verdict) == Status::kOk);
  CHECK(verdict.applied);
  receive(stream, reader, protocol::MessageType::kGoodbye);

  int exit_status = 0;
  REQUIRE(waitpid(pid, &exit_status, 0) == pid);
  const std::string log = read_text(dir.path("stderr.log"));
  INFO(log);
  CHECK(WIFEXITED(exit_status));
  CHECK(WEXITSTATUS(exit_status) == 0);
  CHECK(log.find("unencrypted") != std::string::npos);
  const nlohmann::json result = nlohmann::json::parse(read_text(summary));
  CHECK(result["rounds_applied"] == 1);
  CHECK(result["updates_applied"] == 1);
  CHECK(result["model_version"] == 1);
  CHECK(result["updates_rejected"]["late"] == 0);
  CHECK(std::ifstream(model).good());
}

TEST_CASE("program rejects a missing state directory choice") {
  ecq::test::TempDir dir("ecq-coordinator-program");
  const pid_t pid = spawn({"--insecure-plaintext", "--model", "linear", "--inputs", "3"}, dir.path("stderr.log"));
  int exit_status = 0;
  REQUIRE(waitpid(pid, &exit_status, 0) == pid);
  CHECK(WEXITSTATUS(exit_status) == 1);
  CHECK(read_text(dir.path("stderr.log")).find("--no-durability") != std::string::npos);
}

}  // namespace
}  // namespace ecq::coordinator
