// libFuzzer target for net/http_request: the parser must never crash, and feeding the input in
// two parts (the split chosen by the first two bytes, the buffer moving between the calls)
// must give the same verdict and the same head as feeding it whole. A difference traps.
//   clang++ -std=c++2b -fsanitize=fuzzer,address,undefined -I. \
//       tests/fuzz/http_request_fuzz.cc net/http_request.cc -o build/http_request_fuzz
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "net/http_request.h"

namespace {

using postern::net::http_parse_result;
using postern::net::http_parse_status;
using postern::net::http_request_head;
using postern::net::http_request_parser;

void require(bool condition) {
  if (!condition) __builtin_trap();
}

bool same(const http_parse_result& a, const http_parse_result& b) {
  return a.status == b.status && a.head_bytes == b.head_bytes && a.error_status == b.error_status &&
         a.error_reason == b.error_reason;
}

bool inside(std::string_view view, const std::vector<char>& buffer, std::size_t head_bytes) {
  return view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + head_bytes;
}

// The head's views lie inside the head and satisfy the grammar's basic promises.
void check_head(const http_request_head& head, const std::vector<char>& buffer, std::size_t head_bytes) {
  require(head_bytes <= buffer.size());
  require(!head.method.empty() && inside(head.method, buffer, head_bytes));
  require(!head.target.empty() && head.target.front() == '/' && inside(head.target, buffer, head_bytes));
  require(head.version_minor <= 1);
  require(head.header_count <= http_request_head::max_headers);
  for (std::size_t i = 0; i < head.header_count; ++i) {
    const auto& field = head.headers[i];
    require(!field.name.empty() && inside(field.name, buffer, head_bytes));
    require(inside(field.value, buffer, head_bytes));
    require(head.find(field.name) != nullptr);
    (void)head.has_token(field.name, "upgrade");
  }
  require(head.path().size() <= head.target.size());
  require(head.query().size() < head.target.size());
  require(head.version_minor == 0 || head.find("host") != nullptr);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const http_request_parser::limits limits =
      data[2] & 1 ? http_request_parser::limits{.max_head_bytes = 200, .max_headers = 4}
                  : http_request_parser::limits{};
  const char* text = reinterpret_cast<const char*>(data + 3);
  const std::size_t length = size - 3;
  const std::size_t split = (std::size_t(data[0]) | std::size_t(data[1]) << 8) % (length + 1);

  const std::vector<char> whole(text, text + length);
  http_request_parser one_call(limits);
  http_request_head whole_head;
  const http_parse_result expected = one_call.parse(whole, whole_head);
  if (expected.status == http_parse_status::complete) check_head(whole_head, whole, expected.head_bytes);

  http_request_parser two_calls(limits);
  http_request_head head;
  const std::vector<char> prefix(text, text + split);
  const http_parse_result first = two_calls.parse(prefix, head);
  if (expected.status == http_parse_status::complete && split >= expected.head_bytes) {
    require(same(first, expected));
  } else if (first.status != http_parse_status::need_more) {
    require(expected.status == http_parse_status::error && same(first, expected));
  }
  const std::vector<char> grown(text, text + length);  // a new address, as after a realloc
  const http_parse_result second = two_calls.parse(grown, head);
  require(same(second, expected));
  if (second.status == http_parse_status::complete) {
    check_head(head, grown, second.head_bytes);
    require(head.method == whole_head.method && head.target == whole_head.target &&
            head.header_count == whole_head.header_count);
    for (std::size_t i = 0; i < head.header_count; ++i) {
      require(head.headers[i].name == whole_head.headers[i].name &&
              head.headers[i].value == whole_head.headers[i].value);
    }
  }
  return 0;
}
