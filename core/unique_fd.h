// unique_fd: the one owner of a file descriptor (STYLE 13). Move-only; closes on destruction.
#pragma once

#include <unistd.h>

#include <utility>

namespace postern::core {

class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : _fd(fd) {}
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  unique_fd(unique_fd&& other) noexcept : _fd(std::exchange(other._fd, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    if (this != &other) reset(std::exchange(other._fd, -1));
    return *this;
  }
  ~unique_fd() { reset(); }

  int get() const noexcept { return _fd; }
  explicit operator bool() const noexcept { return _fd >= 0; }
  // Gives up ownership without closing.
  int release() noexcept { return std::exchange(_fd, -1); }
  void reset(int fd = -1) noexcept {
    if (_fd >= 0) ::close(_fd);
    _fd = fd;
  }

 private:
  int _fd = -1;
};

}  // namespace postern::core
