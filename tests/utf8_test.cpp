#include "akida/utf8.h"

#include <gtest/gtest.h>

namespace {

using akida::is_utf8;

TEST(Utf8, AcceptsWellFormedText) {
  EXPECT_TRUE(is_utf8(""));
  EXPECT_TRUE(is_utf8("conv_0/relu"));
  EXPECT_TRUE(is_utf8("\xc3\xa9"));              // é U+00E9
  EXPECT_TRUE(is_utf8("\xe2\x82\xac"));          // € U+20AC
  EXPECT_TRUE(is_utf8("\xf0\x9f\x98\x80"));      // U+1F600
  EXPECT_TRUE(is_utf8("\xf4\x8f\xbf\xbf"));      // U+10FFFF, the last code point
  EXPECT_TRUE(is_utf8(std::string("a\0b", 3)));  // NUL is a character
}

TEST(Utf8, RefusesMalformedText) {
  EXPECT_FALSE(is_utf8("\xff"));
  EXPECT_FALSE(is_utf8("\x80"));                  // a lone continuation byte
  EXPECT_FALSE(is_utf8("\xc3"));                  // cut short
  EXPECT_FALSE(is_utf8("\xe2\x82"));              // cut short
  EXPECT_FALSE(is_utf8("\xc3\x28"));              // continuation missing
  EXPECT_FALSE(is_utf8("\xc0\x80"));              // overlong NUL
  EXPECT_FALSE(is_utf8("\xe0\x80\xaf"));          // overlong '/'
  EXPECT_FALSE(is_utf8("\xed\xa0\x80"));          // UTF-16 surrogate U+D800
  EXPECT_FALSE(is_utf8("\xf4\x90\x80\x80"));      // U+110000
  EXPECT_FALSE(is_utf8("\xf8\x88\x80\x80\x80"));  // 5-byte form
}

TEST(Utf8, EscapesWhatIsNotPrintableAscii) {
  EXPECT_EQ(akida::escaped("conv\xff\n\\"), "conv\\xff\\x0a\\x5c");
}

}  // namespace
