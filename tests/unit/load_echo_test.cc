#include "bench/load/echo_check.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace postern::load {
namespace {

std::string text_of(std::span<const std::byte> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::string prefix_of(std::uint64_t seq, std::uint64_t sent_ns) {
  std::byte out[prefix_bytes];
  encode_prefix(seq, sent_ns, out);
  return text_of(out);
}

// What a tracker reports for a stream of input, one line per event.
struct replay {
  std::vector<std::string> events;
  void add(const echo_event& ev) {
    switch (ev.what) {
      case echo_event::kind::need_more:
        break;
      case echo_event::kind::echoed:
        events.push_back("echoed " + std::to_string(ev.seq) + " sent " + std::to_string(ev.sent_ns));
        break;
      case echo_event::kind::mismatch:
        events.push_back("mismatch " + std::string(ev.reason) + " seq " + std::to_string(ev.seq) + " byte " +
                         std::to_string(ev.offset));
        break;
    }
  }
  // Feeds in until need_more (or a mismatch, which is sticky).
  void feed(echo_tracker& t, std::span<const std::byte> in) {
    while (true) {
      const echo_event ev = t.next(in);
      add(ev);
      if (ev.what != echo_event::kind::echoed) {
        if (ev.what == echo_event::kind::need_more) {
          EXPECT_EQ(ev.consumed, in.size());
        }
        return;
      }
      ASSERT_LE(ev.consumed, in.size());
      in = in.subspan(ev.consumed);
    }
  }
};

// Makes `count` messages on t (sent at 1000, 2000...) and returns them back to back.
std::vector<std::byte> make_messages(echo_tracker& t, std::size_t size, int count) {
  std::vector<std::byte> out(size * count);
  for (int i = 0; i < count; ++i) t.make_next(out.data() + i * size, 1000u * (i + 1));
  return out;
}

TEST(load_echo, prefix_encoding) {
  EXPECT_EQ(prefix_of(0, 0), "AAAAAAAAAAAAAAAA");
  EXPECT_EQ(prefix_of(1, 64), "AAAAAAABAAAAAABA");
  EXPECT_EQ(prefix_of(63, 62), "AAAAAAA_AAAAAAA-");
  EXPECT_EQ(prefix_of((std::uint64_t{1} << 48) - 1, 26), "________AAAAAAAa");
  EXPECT_EQ(prefix_of(std::uint64_t{1} << 48, 0), "AAAAAAAAAAAAAAAA") << "fields wrap at 2^48";
}

TEST(load_echo, messages_are_printable_ascii) {
  const std::vector<std::byte> tmpl = make_message_template(300);
  echo_tracker t(tmpl, 1, false);
  std::vector<std::byte> msg(300);
  t.make_next(msg.data(), 123'456'789);
  const std::string text = text_of(msg);
  EXPECT_EQ(text.substr(0, 16), prefix_of(0, 123'456'789));
  EXPECT_EQ(text.substr(16, 4), "0123");  // ' ' + 16 = '0'
  EXPECT_EQ(text[16 + 95], text[16]);
  for (char c : text) EXPECT_TRUE(c >= ' ' && c <= '~') << int(c);
}

TEST(load_echo, tracks_in_flight_and_sequence) {
  const std::vector<std::byte> tmpl = make_message_template(40);
  echo_tracker t(tmpl, 3, false);
  EXPECT_EQ(t.capacity(), 3u);
  const std::vector<std::byte> stream = make_messages(t, 40, 3);
  EXPECT_TRUE(t.full());
  EXPECT_EQ(t.in_flight(), 3u);
  EXPECT_EQ(text_of(std::span(stream).subspan(40, 16)), prefix_of(1, 2000));
  replay r;
  r.feed(t, stream);
  EXPECT_EQ(r.events, (std::vector<std::string>{"echoed 0 sent 1000", "echoed 1 sent 2000", "echoed 2 sent 3000"}));
  EXPECT_EQ(t.in_flight(), 0u);
  EXPECT_EQ(t.made(), 3u);
}

TEST(load_echo, the_ring_wraps) {
  const std::vector<std::byte> tmpl = make_message_template(16);
  echo_tracker t(tmpl, 2, false);
  replay r;
  std::vector<std::byte> msg(16);
  for (std::uint64_t i = 0; i < 7; ++i) {
    t.make_next(msg.data(), 50 + i);
    r.feed(t, msg);
  }
  ASSERT_EQ(r.events.size(), 7u);
  EXPECT_EQ(r.events[6], "echoed 6 sent 56");
}

TEST(load_echo, unframed_stream_split_at_every_offset) {
  const std::vector<std::byte> tmpl = make_message_template(40);
  for (std::size_t a = 0; a <= 120; ++a) {
    for (std::size_t b = a; b <= 120; b += 7) {
      echo_tracker t(tmpl, 3, false);
      const std::vector<std::byte> stream = make_messages(t, 40, 3);
      replay r;
      r.feed(t, std::span(stream).subspan(0, a));
      r.feed(t, std::span(stream).subspan(a, b - a));
      r.feed(t, std::span(stream).subspan(b));
      ASSERT_EQ(r.events, (std::vector<std::string>{"echoed 0 sent 1000", "echoed 1 sent 2000",
                                                    "echoed 2 sent 3000"}))
          << "split at " << a << " and " << b;
    }
  }
}

TEST(load_echo, byte_by_byte) {
  const std::vector<std::byte> tmpl = make_message_template(17);
  echo_tracker t(tmpl, 2, false);
  const std::vector<std::byte> stream = make_messages(t, 17, 2);
  replay r;
  for (std::size_t i = 0; i < stream.size(); ++i) r.feed(t, std::span(stream).subspan(i, 1));
  EXPECT_EQ(r.events, (std::vector<std::string>{"echoed 0 sent 1000", "echoed 1 sent 2000"}));
}

TEST(load_echo, framed_messages_need_their_end_split_at_every_offset) {
  const std::vector<std::byte> tmpl = make_message_template(24);
  for (std::size_t a = 0; a <= 24; ++a) {
    echo_tracker t(tmpl, 2, true);
    const std::vector<std::byte> stream = make_messages(t, 24, 2);
    replay r;
    for (int m = 0; m < 2; ++m) {
      const auto msg = std::span(stream).subspan(24 * m, 24);
      r.feed(t, msg.subspan(0, a));
      r.feed(t, msg.subspan(a));
      r.add(t.end_message());
    }
    ASSERT_EQ(r.events, (std::vector<std::string>{"echoed 0 sent 1000", "echoed 1 sent 2000"})) << a;
  }
}

TEST(load_echo, every_changed_byte_is_caught_where_it_is) {
  const std::vector<std::byte> tmpl = make_message_template(48);
  for (std::size_t pos = 0; pos < 96; ++pos) {
    echo_tracker t(tmpl, 2, false);
    std::vector<std::byte> stream = make_messages(t, 48, 2);
    stream[pos] ^= std::byte{0x20};
    replay r;
    r.feed(t, stream);
    std::vector<std::string> want;
    if (pos >= 48) want.push_back("echoed 0 sent 1000");
    want.push_back("mismatch echo differs from the message sent seq " + std::to_string(pos / 48) + " byte " +
                   std::to_string(pos % 48));
    ASSERT_EQ(r.events, want) << pos;
    EXPECT_TRUE(t.failed());
    // Sticky: nothing is consumed and the same verdict comes back.
    const echo_event again = t.next(stream);
    EXPECT_EQ(again.what, echo_event::kind::mismatch);
    EXPECT_EQ(again.consumed, 0u);
    EXPECT_EQ(again.offset, pos % 48);
    EXPECT_EQ(t.end_message().what, echo_event::kind::mismatch);
  }
}

TEST(load_echo, a_change_deep_in_a_large_message_is_caught) {
  const std::vector<std::byte> tmpl = make_message_template(64 * 1024);
  for (std::size_t pos : {std::size_t{4000}, std::size_t{65535}}) {
    echo_tracker t(tmpl, 1, true);
    std::vector<std::byte> msg = make_messages(t, 64 * 1024, 1);
    msg[pos] = std::byte{'\n'};  // never in the pattern
    replay r;
    r.feed(t, msg);
    EXPECT_EQ(r.events, (std::vector<std::string>{"mismatch echo differs from the message sent seq 0 byte " +
                                                  std::to_string(pos)}));
  }
}

TEST(load_echo, a_reordered_echo_is_a_mismatch) {
  const std::vector<std::byte> tmpl = make_message_template(32);
  echo_tracker t(tmpl, 2, false);
  const std::vector<std::byte> stream = make_messages(t, 32, 2);
  replay r;
  r.feed(t, std::span(stream).subspan(32));  // message 1 before message 0
  // The sequence numbers 0 and 1 differ in their last character (offset 7); the send times
  // differ as well, but the first difference is reported.
  EXPECT_EQ(r.events, (std::vector<std::string>{"mismatch echo differs from the message sent seq 0 byte 7"}));
}

TEST(load_echo, framing_errors) {
  const std::vector<std::byte> tmpl = make_message_template(20);
  {
    echo_tracker t(tmpl, 1, true);
    std::vector<std::byte> msg = make_messages(t, 20, 1);
    msg.push_back(std::byte{'x'});
    replay r;
    r.feed(t, msg);
    EXPECT_EQ(r.events, (std::vector<std::string>{"echoed 0 sent 1000",
                                                  "mismatch echo longer than the message sent seq 1 byte 20"}));
  }
  {
    echo_tracker t(tmpl, 1, true);
    const std::vector<std::byte> msg = make_messages(t, 20, 1);
    replay r;
    r.feed(t, std::span(msg).subspan(0, 19));
    r.add(t.end_message());
    EXPECT_EQ(r.events, (std::vector<std::string>{"mismatch echo shorter than the message sent seq 0 byte 19"}));
  }
  {
    echo_tracker t(tmpl, 1, true);
    replay r;
    r.add(t.end_message());
    EXPECT_EQ(r.events, (std::vector<std::string>{"mismatch a message arrived with no message in flight seq 0 byte 0"}));
  }
  {
    echo_tracker t(tmpl, 1, false);
    const std::byte stray[1] = {std::byte{'A'}};
    replay r;
    r.feed(t, stray);
    EXPECT_EQ(r.events, (std::vector<std::string>{"mismatch bytes arrived with no message in flight seq 0 byte 0"}));
  }
  {
    // Unframed: bytes past the messages in flight are stray bytes too.
    echo_tracker t(tmpl, 1, false);
    std::vector<std::byte> msg = make_messages(t, 20, 1);
    msg.push_back(std::byte{'A'});
    replay r;
    r.feed(t, msg);
    EXPECT_EQ(r.events, (std::vector<std::string>{"echoed 0 sent 1000",
                                                  "mismatch bytes arrived with no message in flight seq 1 byte 0"}));
  }
}

}  // namespace
}  // namespace postern::load
