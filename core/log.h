// Logging: one line per event on stderr, "2026-11-25T16:33:43.123Z INFO  r0 message".
// The reactor id is thread-local: reactor threads set it once at start; other threads log as
// "main". A line is written with one write(2) so lines from several threads never interleave.
// Logging is for events (connections opened and refused, errors, state changes), never per
// message on the data path.
// A line is at most 2047 bytes with its newline; a longer message is cut (at a UTF-8 character
// boundary) and ends in "...". Thread names longer than 15 bytes are cut to 15.
#pragma once

#include <string_view>

namespace postern::core {

enum class log_level : unsigned char { debug, info, warn, error };

// "debug", "info", "warn" or "error": the names POSTERN_LOG_LEVEL takes (lines show them in
// upper case).
std::string_view to_string(log_level level);

// Lines below this level are dropped. Default info; POSTERN_LOG_LEVEL=debug|info|warn|error
// (any case), read at first use; another value means info, with a warning line.
void set_log_level(log_level level);
log_level current_log_level();

// The name this thread logs under: "r<id>" for reactor threads, "main" otherwise.
void set_thread_log_name(std::string_view name);

// Formats (printf) and writes one line, unless level is below current_log_level(). The LOG_*
// macros check the level first, so a dropped line does not even evaluate its arguments.
// errno is preserved.
void log_line(log_level level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace postern::core

#define POSTERN_LOG(level, ...)                                                   \
  do {                                                                            \
    if ((level) >= ::postern::core::current_log_level())                          \
      ::postern::core::log_line((level), __VA_ARGS__);                            \
  } while (0)
#define LOG_DEBUG(...) POSTERN_LOG(::postern::core::log_level::debug, __VA_ARGS__)
#define LOG_INFO(...) POSTERN_LOG(::postern::core::log_level::info, __VA_ARGS__)
#define LOG_WARN(...) POSTERN_LOG(::postern::core::log_level::warn, __VA_ARGS__)
#define LOG_ERROR(...) POSTERN_LOG(::postern::core::log_level::error, __VA_ARGS__)
