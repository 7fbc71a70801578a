#include "akida/layer_kind.h"

#include <gtest/gtest.h>

#include <set>

namespace akida {

TEST(LayerKind, CodesAndNamesAreUniqueAndRoundTrip) {
  std::set<int32_t> codes;
  std::set<std::string_view> names;
  for (const auto& entry : kLayerKinds) {
    EXPECT_TRUE(codes.insert(code_of(entry.kind)).second) << entry.name;
    EXPECT_TRUE(names.insert(entry.name).second) << entry.name;
    EXPECT_EQ(kind_from_code(code_of(entry.kind)), entry.kind);
    EXPECT_EQ(kind_from_name(entry.name), entry.kind);
  }
}

// Codes read off the real fixtures (docs/fbz-format.md) must stay as they are.
TEST(LayerKind, CodesSeenInRealFiles) {
  EXPECT_EQ(kind_from_code(1), LayerKind::InputData);
  EXPECT_EQ(kind_from_code(2), LayerKind::InputConvolutional);
  EXPECT_EQ(kind_from_code(3), LayerKind::FullyConnected);
  EXPECT_EQ(kind_from_code(4), LayerKind::Convolutional);
  EXPECT_EQ(kind_from_code(5), LayerKind::SeparableConvolutional);
  EXPECT_EQ(kind_from_code(14), LayerKind::Conv2D);
  EXPECT_EQ(kind_from_code(15), LayerKind::InputConv2D);
  EXPECT_EQ(kind_from_code(16), LayerKind::DepthwiseConv2D);
  EXPECT_EQ(kind_from_code(19), LayerKind::Dequantizer);
  EXPECT_EQ(kind_from_code(21), LayerKind::BufferTempConv);
  EXPECT_EQ(kind_from_code(22), LayerKind::DepthwiseBufferTempConv);
  EXPECT_EQ(kind_from_code(25), LayerKind::Dense1D);
  EXPECT_FALSE(kind_from_code(7).has_value());
  EXPECT_FALSE(kind_from_code(0).has_value());
}

TEST(LayerKind, SummaryLabelsUseV1ShortForms) {
  EXPECT_EQ(info(LayerKind::InputConvolutional).label, "InputConv.");
  EXPECT_EQ(info(LayerKind::SeparableConvolutional).label, "Sep.Conv.");
  EXPECT_EQ(info(LayerKind::Conv2D).label, "Conv2D");
}

}  // namespace akida
