// test_pki: the test PKI of scripts/make-test-pki.sh, made once per test binary into
// <repo>/build/test-pki (the script itself does nothing when the set is already there and up to
// date, and serialises concurrent runs). The repository root is found from this file's path
// (__FILE__, absolute or relative to the working directory), else by walking up from the
// working directory, then from the test binary's folder, to the folder that holds
// scripts/make-test-pki.sh.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace postern::test {

inline std::filesystem::path repo_root() {
  namespace fs = std::filesystem;
  const fs::path script = fs::path("scripts") / "make-test-pki.sh";
  std::error_code ec;
  fs::path here = fs::absolute(fs::path(__FILE__), ec);  // <root>/tests/unit/test_pki.h
  if (!ec) {
    fs::path root = here.parent_path().parent_path().parent_path();
    if (fs::exists(root / script, ec)) return root;
  }
  // Else the working directory or the test binary's folder (build/...), or any folder above them.
  for (fs::path start : {fs::current_path(ec), fs::read_symlink("/proc/self/exe", ec).parent_path()}) {
    for (fs::path dir = start; !dir.empty(); dir = dir.parent_path()) {
      if (fs::exists(dir / script, ec)) return dir;
      if (dir == dir.root_path()) break;
    }
  }
  throw std::runtime_error("test_pki: cannot find scripts/make-test-pki.sh from " + std::string(__FILE__) +
                           ", the working directory or the test binary's folder");
}

// The folder holding ca.pem, server.pem, client.pem ... (see scripts/make-test-pki.sh).
inline const std::string& test_pki_dir() {
  static const std::string dir = [] {
    const std::filesystem::path root = repo_root();
    const std::string out = (root / "build" / "test-pki").string();
    // The script's "made ..." lines go to stderr: they are not test output.
    const std::string script = (root / "scripts" / "make-test-pki.sh").string();
    const std::string command = "'" + script + "' '" + out + "' 1>&2";
    int status = std::system(command.c_str());
    if (status != 0)
      throw std::runtime_error("test_pki: `" + command + "` failed (status " + std::to_string(status) + ")");
    return out;
  }();
  return dir;
}

// A file of the test PKI: test_pki_file("server.pem").
inline std::string test_pki_file(const std::string& name) { return test_pki_dir() + "/" + name; }

}  // namespace postern::test
