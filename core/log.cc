// Logging (see log.h). A line is formatted into a stack buffer and leaves in one write(2) to
// fd 2, so lines from several threads never interleave (a line is at most line_bytes, below
// PIPE_BUF, so even a pipe takes it whole). No allocation, no lock.
#include "core/log.h"

#include <strings.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace postern::core {
namespace {

// Longest line written, newline included; longer messages end in "...".
constexpr std::size_t line_bytes = 2048;
static_assert(line_bytes <= PIPE_BUF, "a line must reach a pipe in one piece");

// Longest thread name kept ("r<id>" needs far less); longer names are cut.
constexpr std::size_t max_name_bytes = 15;

// Sentinel: the level has not been read from the environment yet.
constexpr unsigned char level_unset = 0xff;
std::atomic<unsigned char> g_level{level_unset};

// Constant-initialised, so reading them costs no TLS init guard.
thread_local char t_name[max_name_bytes + 1] = "main";
thread_local unsigned char t_name_len = 4;

// Upper-case names as they appear in a line (padded to 5 by the format).
constexpr const char* line_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

// Writes all of [data, data + len) to fd 2; a short write can only follow a signal.
void write_stderr(const char* data, std::size_t len) noexcept {
  while (len > 0) {
    ssize_t n = ::write(STDERR_FILENO, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report it
    }
    data += n;
    len -= static_cast<std::size_t>(n);
  }
}

// Reads POSTERN_LOG_LEVEL once; an unknown value means info, with a warning.
log_level level_from_environment(bool& unknown) noexcept {
  unknown = false;
  const char* value = std::getenv("POSTERN_LOG_LEVEL");
  if (value == nullptr || *value == '\0') return log_level::info;
  for (unsigned i = 0; i <= static_cast<unsigned>(log_level::error); ++i) {
    if (strcasecmp(value, to_string(static_cast<log_level>(i)).data()) == 0)
      return static_cast<log_level>(i);
  }
  unknown = true;
  return log_level::info;
}

}  // namespace

std::string_view to_string(log_level level) {
  switch (level) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
  }
  return "unknown";
}

void set_log_level(log_level level) {
  g_level.store(static_cast<unsigned char>(level), std::memory_order_relaxed);
}

log_level current_log_level() {
  unsigned char level = g_level.load(std::memory_order_relaxed);
  if (level != level_unset) [[likely]]
    return static_cast<log_level>(level);
  bool unknown = false;
  unsigned char from_env = static_cast<unsigned char>(level_from_environment(unknown));
  // Only the first reader installs the environment's level; set_log_level() may have won.
  if (g_level.compare_exchange_strong(level, from_env, std::memory_order_relaxed)) {
    if (unknown)
      log_line(log_level::warn, "POSTERN_LOG_LEVEL=%.32s is not debug, info, warn or error; using info",
               std::getenv("POSTERN_LOG_LEVEL"));
    return static_cast<log_level>(from_env);
  }
  return static_cast<log_level>(level);
}

void set_thread_log_name(std::string_view name) {
  std::size_t len = name.size() < max_name_bytes ? name.size() : max_name_bytes;
  std::memcpy(t_name, name.data(), len);
  t_name[len] = '\0';
  t_name_len = static_cast<unsigned char>(len);
}

void log_line(log_level level, const char* format, ...) {
  if (level < current_log_level()) return;
  int saved_errno = errno;  // callers often log and then look at errno

  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  std::tm utc{};
  ::gmtime_r(&now.tv_sec, &utc);

  char line[line_bytes];
  unsigned index = static_cast<unsigned>(level);
  const char* level_name = index < 4 ? line_names[index] : "?";
  int prefix = std::snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %.*s ",
                             utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                             utc.tm_min, utc.tm_sec, now.tv_nsec / 1000000L, level_name,
                             static_cast<int>(t_name_len), t_name);
  // The prefix is bounded (timestamp, level, a name of at most 15 bytes): far below line_bytes.
  std::size_t len = static_cast<std::size_t>(prefix);
  std::size_t room = sizeof line - len - 1;  // keeps one byte for the newline

  va_list args;
  va_start(args, format);
  int wanted = std::vsnprintf(line + len, room, format, args);
  va_end(args);

  if (wanted < 0) {
    static constexpr char bad[] = "(bad log format)";
    std::memcpy(line + len, bad, sizeof bad - 1);
    len += sizeof bad - 1;
  } else if (static_cast<std::size_t>(wanted) < room) {
    len += static_cast<std::size_t>(wanted);
  } else {
    // Cut the message so that "..." fits, never in the middle of a UTF-8 sequence.
    std::size_t cut = len + room - 1 - 3;
    while (cut > len && (static_cast<unsigned char>(line[cut]) & 0xc0) == 0x80) --cut;
    std::memcpy(line + cut, "...", 3);
    len = cut + 3;
  }
  line[len++] = '\n';
  write_stderr(line, len);
  errno = saved_errno;
}

}  // namespace postern::core
