// core/log: the bytes of a line, one write(2) per line, level filtering, thread names, and the
// POSTERN_LOG_LEVEL environment variable (read in a child process, since it is read once).
#include "core/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace postern::core {
namespace {

// "2026-11-25T16:33:43.123Z " is 25 bytes; what follows is "LEVEL name message\n".
constexpr std::size_t stamp_bytes = 25;

// Points fd 2 at the write end of a packet-mode pipe (O_DIRECT) while alive: each read() of
// the other end returns exactly one write(2), so a test sees how lines were written.
class packet_capture {
 public:
  packet_capture() {
    int fds[2];
    if (::pipe2(fds, O_DIRECT | O_CLOEXEC) != 0) {
      reason = std::string("packet pipes unavailable: ") + std::strerror(errno);
      return;
    }
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    _read_fd = fds[0];
    _saved_fd = ::dup(STDERR_FILENO);
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[1]);
  }
  ~packet_capture() {
    if (_saved_fd >= 0) {
      ::dup2(_saved_fd, STDERR_FILENO);
      ::close(_saved_fd);
    }
    if (_read_fd >= 0) ::close(_read_fd);
  }
  bool ok() const { return _read_fd >= 0; }

  // Every write(2) made so far, one string each.
  std::vector<std::string> writes() {
    std::vector<std::string> out;
    char buf[8192];
    for (;;) {
      ssize_t n = ::read(_read_fd, buf, sizeof buf);
      if (n <= 0) break;
      out.emplace_back(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

  std::string reason;

 private:
  int _read_fd = -1;
  int _saved_fd = -1;
};

#define CAPTURE_OR_SKIP(name) \
  packet_capture name;        \
  if (!name.ok()) GTEST_SKIP() << name.reason

// Restores the global level after a test that changes it; the main thread logs as "main" even
// if a test elsewhere in this binary renamed it.
class log_test : public ::testing::Test {
 protected:
  void SetUp() override {
    _saved = current_log_level();
    set_thread_log_name("main");
  }
  void TearDown() override { set_log_level(_saved); }

 private:
  log_level _saved = log_level::info;
};

std::string body(const std::string& line) { return line.size() < stamp_bytes ? line : line.substr(stamp_bytes); }

// The time in a line's "YYYY-MM-DDTHH:MM:SS.mmmZ " stamp, read as UTC; nullopt when the stamp
// is malformed. (Plain parsing: g++ 12 warns falsely inside std::regex under the sanitizers.)
std::optional<std::chrono::system_clock::time_point> stamp_of(const std::string& line) {
  static constexpr char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ ";
  if (line.size() < stamp_bytes) return std::nullopt;
  for (std::size_t i = 0; i < stamp_bytes; ++i)
    if (shape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(line[i])) : line[i] != shape[i])
      return std::nullopt;
  std::tm tm{};
  ::strptime(line.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  return std::chrono::system_clock::from_time_t(::timegm(&tm)) +
         std::chrono::milliseconds(std::stoi(line.substr(20, 3)));
}

TEST_F(log_test, line_has_utc_millisecond_stamp_level_name_message_and_one_write) {
  set_log_level(log_level::info);
  CAPTURE_OR_SKIP(capture);
  std::vector<std::string> writes;
  auto before = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  // In a time zone far from UTC, so that a stamp in local time would be caught.
  std::optional<std::string> old_tz;
  if (const char* tz = std::getenv("TZ")) old_tz = tz;
  ::setenv("TZ", "EST+05", 1);
  ::tzset();
  log_line(log_level::info, "hello %d %s", 42, "world");
  old_tz ? ::setenv("TZ", old_tz->c_str(), 1) : ::unsetenv("TZ");
  ::tzset();
  auto after = std::chrono::system_clock::now();
  writes = capture.writes();

  ASSERT_EQ(writes.size(), 1u);  // the whole line in one write(2)
  auto stamp = stamp_of(writes[0]);
  ASSERT_TRUE(stamp.has_value()) << writes[0];
  EXPECT_EQ(body(writes[0]), "INFO  main hello 42 world\n");
  EXPECT_LE(before, *stamp);
  EXPECT_LE(*stamp, after);
}

TEST_F(log_test, every_level_is_upper_case_and_padded_to_five) {
  set_log_level(log_level::debug);
  CAPTURE_OR_SKIP(capture);
  LOG_DEBUG("d");
  LOG_INFO("i");
  LOG_WARN("w");
  LOG_ERROR("e");
  auto writes = capture.writes();
  ASSERT_EQ(writes.size(), 4u);
  EXPECT_EQ(body(writes[0]), "DEBUG main d\n");
  EXPECT_EQ(body(writes[1]), "INFO  main i\n");
  EXPECT_EQ(body(writes[2]), "WARN  main w\n");
  EXPECT_EQ(body(writes[3]), "ERROR main e\n");
}

TEST_F(log_test, lines_below_the_level_are_dropped_without_evaluating_arguments) {
  set_log_level(log_level::warn);
  EXPECT_EQ(current_log_level(), log_level::warn);
  int evaluated = 0;
  CAPTURE_OR_SKIP(capture);
  LOG_DEBUG("debug %d", ++evaluated);
  LOG_INFO("info %d", ++evaluated);
  log_line(log_level::info, "direct info");
  LOG_WARN("warn %d", ++evaluated);
  LOG_ERROR("error %d", ++evaluated);
  set_log_level(log_level::error);
  LOG_WARN("warn again");
  LOG_ERROR("error again");
  auto writes = capture.writes();
  EXPECT_EQ(evaluated, 2);
  ASSERT_EQ(writes.size(), 3u);
  EXPECT_EQ(body(writes[0]), "WARN  main warn 1\n");
  EXPECT_EQ(body(writes[1]), "ERROR main error 2\n");
  EXPECT_EQ(body(writes[2]), "ERROR main error again\n");
}

TEST(log_to_string, names_match_the_environment_values) {
  EXPECT_EQ(to_string(log_level::debug), "debug");
  EXPECT_EQ(to_string(log_level::info), "info");
  EXPECT_EQ(to_string(log_level::warn), "warn");
  EXPECT_EQ(to_string(log_level::error), "error");
  EXPECT_EQ(to_string(static_cast<log_level>(9)), "unknown");
}

TEST_F(log_test, thread_name_is_per_thread_and_defaults_to_main) {
  set_log_level(log_level::info);
  CAPTURE_OR_SKIP(capture);
  std::thread([] {
    set_thread_log_name("r3");
    LOG_INFO("from reactor %d", 3);
  }).join();
  std::thread([] { LOG_INFO("unnamed"); }).join();
  std::thread([] {
    set_thread_log_name("a-name-longer-than-fifteen");
    LOG_INFO("long");
  }).join();
  LOG_INFO("back");
  auto writes = capture.writes();
  ASSERT_EQ(writes.size(), 4u);
  EXPECT_EQ(body(writes[0]), "INFO  r3 from reactor 3\n");
  EXPECT_EQ(body(writes[1]), "INFO  main unnamed\n");
  EXPECT_EQ(body(writes[2]), "INFO  a-name-longer-t long\n");
  EXPECT_EQ(body(writes[3]), "INFO  main back\n");
}

TEST_F(log_test, long_messages_are_cut_with_an_ellipsis) {
  set_log_level(log_level::info);
  // "<stamp> INFO  main " is 36 bytes; 2010 more plus the newline make the longest line, 2047.
  const std::string prefix_body = "INFO  main ";
  const std::string fits(2010, 'x');
  const std::string too_long(2011, 'y');
  const std::string huge(5000, 'z');
  CAPTURE_OR_SKIP(capture);
  LOG_INFO("%s", fits.c_str());
  LOG_INFO("%s", too_long.c_str());
  LOG_INFO("%s", huge.c_str());
  auto writes = capture.writes();
  ASSERT_EQ(writes.size(), 3u);
  EXPECT_EQ(body(writes[0]), prefix_body + fits + "\n");
  EXPECT_EQ(writes[0].size(), 2047u);
  EXPECT_EQ(body(writes[1]), prefix_body + std::string(2007, 'y') + "...\n");
  EXPECT_EQ(body(writes[2]), prefix_body + std::string(2007, 'z') + "...\n");
}

TEST_F(log_test, a_cut_never_splits_a_utf8_character) {
  set_log_level(log_level::info);
  std::string two_byte;  // "é" is 0xc3 0xa9
  for (int i = 0; i < 1100; ++i) two_byte += "\xc3\xa9";
  CAPTURE_OR_SKIP(capture);
  LOG_INFO("%s", two_byte.c_str());
  LOG_INFO("a%s", two_byte.c_str());  // shifts the cut by one byte
  auto writes = capture.writes();
  ASSERT_EQ(writes.size(), 2u);
  // 2007 bytes of room before "...": 1003 whole characters, then the odd byte is dropped.
  std::string expect0 = "INFO  main ";
  for (int i = 0; i < 1003; ++i) expect0 += "\xc3\xa9";
  EXPECT_EQ(body(writes[0]), expect0 + "...\n");
  std::string expect1 = "INFO  main a";
  for (int i = 0; i < 1003; ++i) expect1 += "\xc3\xa9";
  EXPECT_EQ(body(writes[1]), expect1 + "...\n");
}

TEST_F(log_test, a_failing_write_leaves_errno_alone) {
  set_log_level(log_level::info);
  int read_only = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(read_only, 0);
  int saved = ::dup(STDERR_FILENO);
  ::dup2(read_only, STDERR_FILENO);  // write(2) now fails with EBADF
  errno = ENOENT;
  LOG_INFO("nowhere to go");
  int after = errno;
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(read_only);
  EXPECT_EQ(after, ENOENT);  // callers log and then look at errno
}

TEST_F(log_test, lines_from_many_threads_never_interleave) {
  set_log_level(log_level::info);
  char path[] = "/tmp/postern-log-test-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  ::fcntl(fd, F_SETFL, O_APPEND);
  int saved = ::dup(STDERR_FILENO);
  ::dup2(fd, STDERR_FILENO);
  constexpr int threads = 8, lines = 300;
  std::vector<std::thread> workers;
  const std::string padding(300, '.');
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([t, &padding] {
      set_thread_log_name("r" + std::to_string(t));
      for (int i = 0; i < lines; ++i) LOG_INFO("thread %d line %d %s end", t, i, padding.c_str());
    });
  for (auto& w : workers) w.join();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);

  std::string all(static_cast<std::size_t>(::lseek(fd, 0, SEEK_END)), '\0');
  ASSERT_EQ(::pread(fd, all.data(), all.size(), 0), static_cast<ssize_t>(all.size()));
  ::close(fd);

  std::vector<int> next(threads, 0);
  std::size_t start = 0, count = 0;
  while (start < all.size()) {
    std::size_t end = all.find('\n', start);
    ASSERT_NE(end, std::string::npos);
    std::string line = all.substr(start, end + 1 - start);
    ASSERT_TRUE(stamp_of(line).has_value()) << line;
    int t = -1, t2 = -1, i = -1, consumed = 0;
    ASSERT_EQ(std::sscanf(body(line).c_str(), "INFO  r%d thread %d line %d %n", &t, &t2, &i, &consumed), 3) << line;
    ASSERT_TRUE(t >= 0 && t < threads) << line;
    EXPECT_EQ(t, t2) << line;
    EXPECT_EQ(body(line).substr(static_cast<std::size_t>(consumed)), padding + " end\n") << line;
    EXPECT_EQ(i, next[t]++);  // each thread's lines in order, none lost
    ++count;
    start = end + 1;
  }
  EXPECT_EQ(count, static_cast<std::size_t>(threads * lines));
}

// Run in-process it checks the macros against the current level; run as the child of
// level_is_read_from_the_environment (POSTERN_LOG_TEST_CHILD set) it writes its probe lines to
// the real stderr for the parent to read.
TEST(log_env_test, probe) {
  bool child = std::getenv("POSTERN_LOG_TEST_CHILD") != nullptr;
  log_level level = current_log_level();  // the first use in a child
  std::optional<packet_capture> capture;
  if (!child) {
    capture.emplace();
    if (!capture->ok()) GTEST_SKIP() << capture->reason;
  }
  LOG_DEBUG("probe debug");
  LOG_INFO("probe info");
  LOG_WARN("probe warn");
  LOG_ERROR("probe error");
  if (child) return;
  auto writes = capture->writes();
  std::vector<std::string> expected;
  for (log_level l : {log_level::debug, log_level::info, log_level::warn, log_level::error})
    if (l >= level) expected.push_back("probe " + std::string(to_string(l)));
  ASSERT_EQ(writes.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i)
    EXPECT_NE(writes[i].find(expected[i] + "\n"), std::string::npos) << writes[i];
}

// Runs this binary's probe test in a child with POSTERN_LOG_LEVEL=value (unset when null);
// returns the bodies of the lines the child wrote to stderr.
std::vector<std::string> run_probe(const char* value) {
  char exe[4096];
  ssize_t len = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0) {
    ADD_FAILURE() << "readlink /proc/self/exe: " << std::strerror(errno);
    return {};
  }
  exe[len] = '\0';
  // GTEST_* variables could shard the single test away or make the child overwrite our report.
  std::string command = "env -u POSTERN_LOG_LEVEL -u GTEST_OUTPUT -u GTEST_SHARD_INDEX "
                        "-u GTEST_TOTAL_SHARDS POSTERN_LOG_TEST_CHILD=1 ";
  if (value != nullptr) command += std::string("POSTERN_LOG_LEVEL=") + value + " ";
  command += std::string("'") + exe + "' --gtest_filter=log_env_test.probe 2>&1 >/dev/null";
  FILE* child = ::popen(command.c_str(), "r");
  if (child == nullptr) {
    ADD_FAILURE() << "popen: " << std::strerror(errno);
    return {};
  }
  std::vector<std::string> bodies;
  char line[4096];
  while (std::fgets(line, sizeof line, child) != nullptr) bodies.push_back(body(line));
  EXPECT_EQ(::pclose(child), 0) << "probe child failed";
  return bodies;
}

TEST(log_env_test, level_is_read_from_the_environment_at_first_use) {
  using lines = std::vector<std::string>;
  const lines probes = {"DEBUG main probe debug\n", "INFO  main probe info\n",
                        "WARN  main probe warn\n", "ERROR main probe error\n"};
  EXPECT_EQ(run_probe("debug"), probes);
  EXPECT_EQ(run_probe("info"), lines(probes.begin() + 1, probes.end()));
  EXPECT_EQ(run_probe("WARN"), lines(probes.begin() + 2, probes.end()));
  EXPECT_EQ(run_probe("error"), lines{probes[3]});
  EXPECT_EQ(run_probe(nullptr), lines(probes.begin() + 1, probes.end()));
  lines unknown = {"WARN  main POSTERN_LOG_LEVEL=loud is not debug, info, warn or error; using info\n"};
  unknown.insert(unknown.end(), probes.begin() + 1, probes.end());
  EXPECT_EQ(run_probe("loud"), unknown);
}

}  // namespace
}  // namespace postern::core
