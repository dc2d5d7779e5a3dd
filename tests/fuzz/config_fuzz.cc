// libFuzzer target for the config loader (config/loader.h) and its XML reader (config/xml_tree.h).
//
// Input: every byte but the last is the text of a gateway-config.xml; the last byte picks the
// chunk size (0: one feed). So a plain config file is a valid input as it is: its final
// newline becomes the chunk size. Checked:
//   - load_config_text either returns a config or throws config::config_error; any other
//     exception, a crash, a hang or a read out of bounds is a failure.
//   - A config_error's what() is "fuzz.xml:LINE:COLUMN: error: MESSAGE" with a non-empty
//     message, its where() says the same file, line and column, and that position lies in the
//     text (line 1 .. lines of the text, column 1 .. bytes of that line + 1), counting line
//     breaks (LF, CR, CR LF) as xml_tree.h says expat does.
//   - A config names the file, holds at least one service, and every warning is
//     "fuzz.xml:LINE:COLUMN: warning: ...".
//   - xml_tree_builder fed the text in chunks of the chosen size, each chunk in its own exactly
//     sized heap buffer (so a read past a chunk is caught), gives the same tree as parse_xml of
//     the whole text (names, namespaces, attributes, texts, and every position, those inside
//     texts through position_of), or fails too ("any split of the bytes gives the same tree",
//     xml_tree.h): with the same message, unless both are expat's well-formedness errors,
//     whose wording and position expat itself lets depend on where its input was cut.
//   - Bounded work: LLVMFuzzerInitialize adds -malloc_limit_mb=64 unless the command line sets
//     one, so one allocation past 64 MiB for an input under 70 KB (the fuzz-smoke -max_len) is
//     reported as a crash. Property substitution is the place where output can outgrow input.
//
// Build and run (clang 14; tests/fuzz/compat supplies <expected>, see its header comment):
//   clang++-14 -std=c++2b -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
//     -isystem tests/fuzz/compat -I. tests/fuzz/config_fuzz.cc config/*.cc net/uri.cc \
//     -o config_fuzz -lexpat && ./config_fuzz -max_total_time=30 tests/fuzz/corpus/config
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "config/xml_tree.h"

namespace {

namespace config = postern::config;

const std::string file_name = "fuzz.xml";

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "config_fuzz: %s: %s\n", what, detail.c_str());
  __builtin_trap();
}

void check(bool ok, const char* what, const std::string& detail = {}) {
  if (!ok) fail(what, detail);
}

// Bytes per line (index 0 is line 1), with CR, LF and CR LF as one break each, as expat and
// xml_tree.cc's advance() count lines. Columns count characters, but where the input is not
// UTF-8 expat counts each stray byte as one, so bytes are the bound.
std::vector<unsigned> line_lengths(std::string_view text) {
  std::vector<unsigned> lines(1, 0);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n' && i > 0 && text[i - 1] == '\r') continue;
    if (c == '\n' || c == '\r') {
      lines.push_back(0);
    } else {
      ++lines.back();
    }
  }
  return lines;
}

// Reads "digits" at text[i...]; false when there are none or they overflow.
bool read_number(std::string_view text, std::size_t& i, unsigned& out) {
  const std::size_t begin = i;
  std::uint64_t value = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - begin < 10) value = value * 10 + (text[i++] - '0');
  out = static_cast<unsigned>(value);
  return i > begin && value <= 0xFFFFFFFFu;
}

// "fuzz.xml:LINE:COLUMN: severity: message" at a position inside text.
void check_diagnostic(std::string_view message, std::string_view severity, std::string_view text,
                      const config::source_location* where) {
  const std::string shown(message);
  check(message.starts_with(file_name + ":"), "diagnostic does not start with the file name", shown);
  std::size_t i = file_name.size() + 1;
  unsigned line = 0;
  unsigned column = 0;
  check(read_number(message, i, line) && i < message.size() && message[i++] == ':' &&
            read_number(message, i, column),
        "diagnostic has no line:column", shown);
  const std::string rest = ": " + std::string(severity) + ": ";
  check(message.substr(i).starts_with(rest) && message.size() > i + rest.size(), "diagnostic has no severity and text",
        shown);
  if (where != nullptr) {
    check(where->file == file_name && where->line == line && where->column == column,
          "config_error::where() differs from its message", shown);
  }
  const std::vector<unsigned> lines = line_lengths(text);
  check(line >= 1 && line <= lines.size(), "diagnostic line outside the text", shown);
  check(column >= 1 && column <= lines[line - 1] + 1, "diagnostic column outside its line", shown);
}

bool same_text(const config::xml_text& a, const config::xml_text& b) {
  if (a.value != b.value || !(a.start == b.start)) return false;
  // Chunked input may arrive from expat in other pieces; what must agree is where each byte is.
  const std::size_t step = std::max<std::size_t>(1, a.value.size() / 64);
  for (std::size_t i = 0; i <= a.value.size(); i += step) {
    if (!(a.position_of(i) == b.position_of(i))) return false;
  }
  return true;
}

bool same_element(const config::xml_element& a, const config::xml_element& b) {
  if (a.namespace_uri != b.namespace_uri || a.name != b.name || !(a.position == b.position) ||
      a.attributes.size() != b.attributes.size() || a.children.size() != b.children.size() ||
      !same_text(a.text, b.text)) {
    return false;
  }
  for (std::size_t i = 0; i < a.attributes.size(); ++i) {
    const config::xml_attribute& x = a.attributes[i];
    const config::xml_attribute& y = b.attributes[i];
    if (x.namespace_uri != y.namespace_uri || x.name != y.name || x.qualified_name != y.qualified_name ||
        !(x.position == y.position) || !same_text(x.value, y.value)) {
      return false;
    }
  }
  for (std::size_t i = 0; i < a.children.size(); ++i) {
    if (!same_element(a.children[i], b.children[i])) return false;
  }
  return true;
}

struct parse_outcome {
  bool ok = false;
  config::xml_document doc;
  std::string error;
};

parse_outcome parse_whole(const std::string& text) {
  parse_outcome out;
  try {
    out.doc = config::parse_xml(text, file_name);
    out.ok = true;
  } catch (const config::config_error& e) {
    out.error = e.what();
  }
  return out;
}

parse_outcome parse_chunked(const std::string& text, std::size_t chunk) {
  parse_outcome out;
  try {
    config::xml_tree_builder builder(file_name);
    std::size_t at = 0;
    do {
      const std::size_t size = std::min(chunk, text.size() - at);
      const std::unique_ptr<char[]> piece(new char[size == 0 ? 1 : size]);
      std::memcpy(piece.get(), text.data() + at, size);
      at += size;
      builder.feed(std::string_view(piece.get(), size), at == text.size());
    } while (at < text.size());
    out.doc = builder.take();
    out.ok = true;
  } catch (const config::config_error& e) {
    out.error = e.what();
  }
  return out;
}

void check_load(const std::string& text) {
  config::load_options options;
  options.hostname = "fuzz-host";  // no gethostname() per input, and the same value every run
  options.defines = {{"fuzz.define", "tcp://127.0.0.1:9"}};
  try {
    const std::shared_ptr<const config::gateway_config> loaded = config::load_config_text(text, file_name, options);
    check(loaded != nullptr, "load_config_text returned null");
    check(loaded->source_file == file_name, "the config names another file", loaded->source_file);
    check(!loaded->services.empty(), "a config without services");
    for (const std::string& warning : loaded->warnings) check_diagnostic(warning, "warning", text, nullptr);
  } catch (const config::config_error& e) {
    check_diagnostic(e.what(), "error", text, &e.where());
  } catch (const std::exception& e) {
    fail("load_config_text threw something other than config_error", e.what());
  }
}

void check_chunks(const std::string& text, std::size_t chunk) {
  try {
    const parse_outcome whole = parse_whole(text);
    const parse_outcome split = parse_chunked(text, chunk);
    check(whole.ok == split.ok, "whole and chunked parses disagree on success",
          whole.ok ? "chunked: " + split.error : "whole: " + whole.error);
    if (whole.ok) {
      check(same_element(whole.doc.root, split.doc.root), "whole and chunked parses give different trees");
    } else {
      check_diagnostic(split.error, "error", text, nullptr);
      // expat itself words (and places) some well-formedness errors by where its input was
      // cut: "ep/" after the root element is "junk after document element" at the 'e' when a
      // chunk ends inside "ep", "invalid token" at the '/' otherwise. Every other error is
      // postern's and must not depend on the split.
      const bool expat_error = whole.error.find(": error: XML is not well-formed: ") != std::string::npos &&
                               split.error.find(": error: XML is not well-formed: ") != std::string::npos;
      check(expat_error || whole.error == split.error, "whole and chunked parses give different errors",
            whole.error + " | " + split.error);
    }
  } catch (const std::exception& e) {
    fail("the XML reader threw something other than config_error", e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  for (int i = 1; i < *argc; ++i) {
    if (std::string_view((*argv)[i]).starts_with("-malloc_limit_mb=")) return 0;
  }
  // libFuzzer parses its flags after this call; the array must outlive the run.
  static std::vector<char*> args;
  static char limit[] = "-malloc_limit_mb=64";
  args.assign(*argv, *argv + *argc);
  args.insert(args.begin() + 1, limit);
  args.push_back(nullptr);
  *argc += 1;
  *argv = args.data();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size - 1);
  const std::size_t chunk = data[size - 1] == 0 ? text.size() + 1 : data[size - 1];
  check_load(text);
  check_chunks(text, chunk);
  return 0;
}
