// fit_linear_levels (linear_levels.h): the level count of an Akida 1.0 neuron as a clamp, a
// multiplication and a shift. Checked against the count itself, #{k : x >= r_k}, at every x
// around the boundaries and far outside them, for boundaries from the act_step rule (as
// V1Activation derives them: the smallest integer d with (k − 1)·q < d) and irregular ones.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "akida/runtime/linear_levels.h"

namespace akida::runtime {
namespace {

int32_t count_reached(const std::vector<int64_t>& relative, int64_t x) {
  int32_t n = 0;
  for (int64_t r : relative) n += x >= r;
  return n;
}

// Every x from below the first boundary to past the last, and far on both sides.
void expect_exact(const LinearLevels& fit, const std::vector<int64_t>& relative) {
  for (int64_t x = relative.front() - 3; x <= relative.back() + 3; ++x)
    ASSERT_EQ(count_reached(relative, x), linear_level(fit, x)) << "x = " << x;
  for (int64_t x : {int64_t{-(1 << 30)}, int64_t{1} << 30})
    ASSERT_EQ(count_reached(relative, x), linear_level(fit, x)) << "x = " << x;
}

// The act_step rule's relative boundaries for step q: d_k = floor((k − 1)·q) + 1, in exact
// arithmetic on the float q.
std::vector<int64_t> rule_boundaries(float q, int32_t count) {
  std::vector<int64_t> r;
  for (int32_t k = 1; k <= count; ++k)
    r.push_back(static_cast<int64_t>(std::floor(static_cast<double>(k - 1) * q)) + 1);
  return r;
}

TEST(LinearLevels, ActStepRuleBoundariesFitExactly) {
  std::mt19937 rng(7);
  int fitted = 0, cases = 0;
  for (int32_t count : {1, 3, 15}) {
    for (int i = 0; i < 400; ++i, ++cases) {
      // Steps from 2^-12 (every boundary at 1) to 300, integers among them.
      const float q = i % 10 == 0 ? static_cast<float>(1 + rng() % 64)
                      : i % 10 == 1 ? std::ldexp(1.0f + static_cast<float>(rng() % 1000) / 1000.0f, -12)
                                    : 0.5f + static_cast<float>(rng() % 300000) / 1000.0f;
      const std::vector<int64_t> relative = rule_boundaries(q, count);
      const std::optional<LinearLevels> fit = fit_linear_levels(relative.data(), count, q);
      if (!fit) continue;
      ++fitted;
      SCOPED_TRACE(q);
      expect_exact(*fit, relative);
    }
  }
  // What makes the epilogue worth having: the rule's boundaries at these steps nearly always
  // fit (every neuron of the Akida 1.0 fixtures with act_step up to 450 does).
  EXPECT_GE(fitted, cases * 98 / 100);
}

TEST(LinearLevels, BoundariesOffTheRuleFitOnlyWhenExact) {
  std::mt19937 rng(11);
  int fitted = 0;
  for (int i = 0; i < 2000; ++i) {
    // The rule's boundaries with one moved by one, or boundaries with random gaps (some equal).
    const float q = 2.0f + static_cast<float>(rng() % 20000) / 1000.0f;
    std::vector<int64_t> relative = rule_boundaries(q, 15);
    if (i % 2 == 0) {
      relative[1 + rng() % 14] += (rng() % 2) ? 1 : -1;
    } else {
      int64_t at = static_cast<int64_t>(rng() % 40) - 20;
      for (auto& r : relative) r = at += static_cast<int64_t>(rng() % 6);
    }
    bool sorted = true;
    for (size_t k = 1; k < relative.size(); ++k) sorted = sorted && relative[k - 1] <= relative[k];
    const std::optional<LinearLevels> fit = fit_linear_levels(relative.data(), 15, q);
    if (!sorted) {
      EXPECT_FALSE(fit) << "unsorted boundaries have no fit";
      continue;
    }
    if (!fit) continue;
    ++fitted;
    expect_exact(*fit, relative);
  }
  EXPECT_GT(fitted, 0);  // some do fit, and then exactly
}

TEST(LinearLevels, UnusableInputsHaveNoFit) {
  const std::vector<int64_t> relative{1, 5, 9};
  EXPECT_FALSE(fit_linear_levels(relative.data(), 0, 4.0));
  EXPECT_FALSE(fit_linear_levels(relative.data(), 3, 0.0));
  EXPECT_FALSE(fit_linear_levels(relative.data(), 3, std::nan("")));
  // Spans of 2^24 and more: the multiplier cannot place every boundary.
  const std::vector<int64_t> wide{1, int64_t{1} << 24, int64_t{1} << 25};
  EXPECT_FALSE(fit_linear_levels(wide.data(), 3, double(1 << 24)));
}

}  // namespace
}  // namespace akida::runtime
