// libFuzzer target for net/http_response: the parser must never crash, and feeding the input
// in two parts (the split chosen by the first two bytes, the buffer moving between the calls)
// must give the same verdict and the same head as feeding it whole. A difference traps.
//   clang++ -std=c++2b -fsanitize=fuzzer,address,undefined -I. \
//       tests/fuzz/http_response_fuzz.cc net/http_response.cc -o build/http_response_fuzz
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "net/http_response.h"

namespace {

using postern::net::http_parse_status;
using postern::net::http_response_error;
using postern::net::http_response_head;
using postern::net::http_response_parse_result;
using postern::net::http_response_parser;

void require(bool condition) {
  if (!condition) __builtin_trap();
}

bool same(const http_response_parse_result& a, const http_response_parse_result& b) {
  return a.status == b.status && a.head_bytes == b.head_bytes && a.error == b.error &&
         a.error_reason == b.error_reason;
}

bool inside(std::string_view view, const std::vector<char>& buffer, std::size_t head_bytes) {
  return view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + head_bytes;
}

// The result is consistent with its status: an error has a category and a reason, the others
// have neither.
void check_result(const http_response_parse_result& r) {
  if (r.status == http_parse_status::error) {
    require(r.error != http_response_error::none && !r.error_reason.empty() && r.head_bytes == 0);
  } else {
    require(r.error == http_response_error::none && r.error_reason.empty());
    require((r.status == http_parse_status::complete) == (r.head_bytes != 0));
  }
}

// The head's views lie inside the head and satisfy the grammar's basic promises.
void check_head(const http_response_head& head, const std::vector<char>& buffer, std::size_t head_bytes) {
  require(head_bytes <= buffer.size() && head_bytes >= 14);
  require(std::string_view(buffer.data(), 5) == "HTTP/");
  require(std::string_view(buffer.data() + head_bytes - 4, 4) == "\r\n\r\n");
  require(head.version_minor <= 1);
  require(head.status >= 100 && head.status <= 599);
  require(inside(head.reason, buffer, head_bytes));
  require(head.header_count <= http_response_head::max_headers);
  for (std::size_t i = 0; i < head.header_count; ++i) {
    const auto& field = head.headers[i];
    require(!field.name.empty() && inside(field.name, buffer, head_bytes));
    require(inside(field.value, buffer, head_bytes));
    require(head.find(field.name) != nullptr);
    (void)head.has_token(field.name, "upgrade");
  }
  (void)head.interim();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const http_response_parser::limits limits =
      data[2] & 1 ? http_response_parser::limits{.max_head_bytes = 200, .max_headers = 4}
                  : http_response_parser::limits{};
  const char* text = reinterpret_cast<const char*>(data + 3);
  const std::size_t length = size - 3;
  const std::size_t split = (std::size_t(data[0]) | std::size_t(data[1]) << 8) % (length + 1);

  const std::vector<char> whole(text, text + length);
  http_response_parser one_call(limits);
  http_response_head whole_head;
  const http_response_parse_result expected = one_call.parse(whole, whole_head);
  check_result(expected);
  if (expected.status == http_parse_status::complete) check_head(whole_head, whole, expected.head_bytes);

  http_response_parser two_calls(limits);
  http_response_head head;
  const std::vector<char> prefix(text, text + split);
  const http_response_parse_result first = two_calls.parse(prefix, head);
  check_result(first);
  if (expected.status == http_parse_status::complete && split >= expected.head_bytes) {
    require(same(first, expected));
  } else if (first.status != http_parse_status::need_more) {
    require(expected.status == http_parse_status::error && same(first, expected));
  }
  const std::vector<char> grown(text, text + length);  // a new address, as after a realloc
  const http_response_parse_result second = two_calls.parse(grown, head);
  require(same(second, expected));
  if (second.status == http_parse_status::complete) {
    check_head(head, grown, second.head_bytes);
    require(head.version_minor == whole_head.version_minor && head.status == whole_head.status &&
            head.reason == whole_head.reason && head.header_count == whole_head.header_count);
    for (std::size_t i = 0; i < head.header_count; ++i) {
      require(head.headers[i].name == whole_head.headers[i].name &&
              head.headers[i].value == whole_head.headers[i].value);
    }
  }
  return 0;
}
