// redis::Client against a stand-in Redis on a loopback socket in this process: +OK for every command,
// sent at once or a byte at a time. redis.timeout_ms must bound the whole exchange, not each read.
#include "etl/redis/client.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace {

// Accepts one connection and answers +OK to every command (each *N ... array counts as one), one byte
// every `interval` (0: all at once), until the client closes or the stand-in is destroyed.
class StandInRedis {
public:
    explicit StandInRedis(std::chrono::milliseconds interval) : m_interval(interval) {
        m_listener = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(m_listener >= 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        REQUIRE(::bind(m_listener, reinterpret_cast<sockaddr*>(&addr), len) == 0);
        REQUIRE(::listen(m_listener, 1) == 0);
        REQUIRE(::getsockname(m_listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
        m_port = ntohs(addr.sin_port);
        m_thread = std::thread([this] { serve(); });
    }
    ~StandInRedis() {
        m_stop = true;
        m_thread.join();
        ::close(m_listener);
    }
    StandInRedis(const StandInRedis&) = delete;
    StandInRedis& operator=(const StandInRedis&) = delete;

    [[nodiscard]] int port() const { return m_port; }

private:
    bool wait_readable(int fd, int ms) {
        pollfd p{fd, POLLIN, 0};
        return ::poll(&p, 1, ms) > 0;
    }

    void serve() {
        while (!m_stop && !wait_readable(m_listener, 20)) {}
        if (m_stop) return;
        const int conn = ::accept(m_listener, nullptr, nullptr);
        if (conn < 0) return;
        std::string pending;
        auto last_sent = std::chrono::steady_clock::now();
        while (!m_stop) {
            if (wait_readable(conn, 5)) {
                std::array<char, 4096> buf{};
                const auto n = ::recv(conn, buf.data(), buf.size(), 0);
                if (n <= 0) break;
                for (ssize_t i = 0; i < n; ++i) {
                    // A command starts with '*' at the start of a line; values never hold "\r\n*" here.
                    if (buf[static_cast<std::size_t>(i)] == '*' && m_previous == '\n') pending += "+OK\r\n";
                    m_previous = buf[static_cast<std::size_t>(i)];
                }
            }
            const auto now = std::chrono::steady_clock::now();
            if (pending.empty() || now - last_sent < m_interval) continue;
            const std::size_t count = m_interval.count() == 0 ? pending.size() : 1;
            if (::send(conn, pending.data(), count, MSG_NOSIGNAL) < 0) break;
            pending.erase(0, count);
            last_sent = now;
        }
        ::close(conn);
    }

    std::chrono::milliseconds m_interval;
    int m_listener = -1;
    int m_port = 0;
    char m_previous = '\n';
    std::atomic<bool> m_stop{false};
    std::thread m_thread;
};

std::vector<std::pair<std::string, std::string>> items(int n) {
    std::vector<std::pair<std::string, std::string>> out;
    for (int i = 0; i < n; ++i) out.emplace_back("latest_price:S" + std::to_string(i), R"({"price":"1"})");
    return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

TEST_CASE("redis client: a prompt Redis takes the pipelined SETs", "[unit]") {
    StandInRedis redis(0ms);
    etl::redis::Client client("redis://:a-password@127.0.0.1:" + std::to_string(redis.port()) + "/2", 2000ms);
    CHECK_NOTHROW(client.set_many(items(50), std::chrono::seconds{60}));
}

TEST_CASE("redis client: one deadline for the whole exchange, however slowly Redis answers", "[unit]") {
    // A byte every 150 ms: each read gets data long before a per-read timeout of 400 ms would fire, so
    // only a deadline stops it. Five +OK replies would take 25 bytes = 3.75 s.
    StandInRedis redis(150ms);
    const auto url = "redis://127.0.0.1:" + std::to_string(redis.port()) + "/0";
    const auto t0 = std::chrono::steady_clock::now();
    etl::redis::Client client(url, 400ms);
    CHECK_THROWS_WITH(client.set_many(items(5), std::chrono::seconds{60}),
                      Catch::Contains("no reply to SET within redis.timeout_ms (400 ms)"));
    CHECK(seconds_since(t0) < 1.5);
}

TEST_CASE("redis client: the deadline covers AUTH and SELECT", "[unit]") {
    StandInRedis redis(150ms);
    const auto url = "redis://:a-password@127.0.0.1:" + std::to_string(redis.port()) + "/3";
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(etl::redis::Client(url, 400ms),
                      Catch::Contains("no reply to AUTH and SELECT") && !Catch::Contains("a-password"));
    CHECK(seconds_since(t0) < 1.5);
}
