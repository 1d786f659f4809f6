// Unit tests for provider/wire: bounds, prefixes, failure consumes nothing.
#include "wire/wire.h"

#include "test_support.h"

using exattest::Bytes;
using exattest::ByteView;
using exattest::wire::Reader;
using exattest::wire::Writer;
using exattest::test::from_hex;

TEST_CASE("Reader reads big-endian integers and stops at the end", "[wire]") {
  Bytes in = from_hex("01 0203 040506 0708090a");
  Reader r{exattest::view(in)};
  uint8_t a;
  uint16_t b;
  uint32_t c, d;
  REQUIRE(r.u8(a));
  REQUIRE(r.u16(b));
  REQUIRE(r.u24(c));
  REQUIRE(r.u32(d));
  CHECK(a == 0x01);
  CHECK(b == 0x0203);
  CHECK(c == 0x040506);
  CHECK(d == 0x0708090a);
  CHECK(r.empty());
  CHECK_FALSE(r.u8(a));
}

TEST_CASE("A failed read consumes nothing", "[wire]") {
  Bytes in = from_hex("0005 0102");  // announces 5, holds 2
  Reader r{exattest::view(in)};
  Reader sub;
  CHECK_FALSE(r.prefixed_u16(sub));
  CHECK(r.remaining() == 4);
  uint32_t v;
  CHECK_FALSE((r.u24(v) && r.u24(v)));
}

TEST_CASE("Prefixed sub-readers are bounded by their prefix", "[wire]") {
  Bytes in = from_hex("02 aabb cc");
  Reader r{exattest::view(in)};
  Reader sub;
  REQUIRE(r.prefixed_u8(sub));
  CHECK(sub.remaining() == 2);
  ByteView three;
  CHECK_FALSE(sub.bytes(3, three));
  CHECK(r.remaining() == 1);
}

TEST_CASE("Writer patches nested prefixes", "[wire]") {
  Writer w;
  w.u8(0x0d);
  w.prefixed_u24([](Writer& body) {
    body.prefixed_u8([](Writer& ctx) { ctx.u16(0xabcd); });
    body.prefixed_u16([](Writer&) {});
  });
  REQUIRE(w.ok());
  CHECK(w.data() == from_hex("0d 000005 02 abcd 0000"));
}

TEST_CASE("Writer fails when a prefix overflows", "[wire]") {
  Writer w;
  Bytes big(256, 0);
  w.prefixed_u8([&](Writer& b) { b.bytes(big); });
  CHECK_FALSE(w.ok());
  Writer w2;
  w2.u24(1u << 24);
  CHECK_FALSE(w2.ok());
}

TEST_CASE("handshake_message frames type and 24-bit length", "[wire]") {
  Bytes body = from_hex("00 0000");
  CHECK(exattest::wire::handshake_message(11, exattest::view(body)) == from_hex("0b000003 000000"));
}

TEST_CASE("Reader reads little-endian integers for TCG structures", "[wire]") {
  Bytes in = from_hex("0201 04030201 0807060504030201 01");
  Reader r{exattest::view(in)};
  uint16_t a;
  uint32_t b;
  uint64_t c;
  REQUIRE(r.u16le(a));
  REQUIRE(r.u32le(b));
  REQUIRE(r.u64le(c));
  CHECK(a == 0x0102);
  CHECK(b == 0x01020304);
  CHECK(c == 0x0102030405060708ULL);
  CHECK_FALSE(r.u16le(a));  // one byte left: nothing consumed
  CHECK(r.remaining() == 1);
}
