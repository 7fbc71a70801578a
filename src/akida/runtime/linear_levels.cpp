#include "akida/runtime/linear_levels.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <utility>
#include <vector>

namespace akida::runtime {
namespace {

constexpr int64_t kLimit = int64_t{1} << 31;  // every intermediate value stays below
// Spans past this need a multiplier too coarse to place every boundary.
constexpr int64_t kMaxSpan = int64_t{1} << 24;
// Multipliers tried on each side of an estimate.
constexpr int kSearch = 32;

}  // namespace

// With u = x − (r_1 − 1) clamped to [0, span] (below r_1 the level is 0, from r_n on it is n)
// and ρ_k = r_k − (r_1 − 1), the fit is floor((u · M + B) / 2^S). Both it and the level are
// non-decreasing in u, and the level only changes at the ρ_k; so they are equal on all of
// [0, span] when they are equal at 0 and at every ρ_k − 1 and ρ_k. At a point u of level g
// that is g · 2^S <= u · M + B < (g + 1) · 2^S: an interval of B for each point, whose
// intersection, for a given M, holds every B that fits.
std::optional<LinearLevels> fit_linear_levels(const int64_t* relative, int32_t count,
                                              double step) {
  if (count < 1 || count > 255 || !(step > 0)) return std::nullopt;
  const int64_t base = relative[0] - 1;
  std::vector<int64_t> rho(static_cast<size_t>(count));
  for (int32_t k = 0; k < count; ++k) {
    rho[k] = relative[k] - base;
    if (k > 0 && rho[k] < rho[k - 1]) return std::nullopt;
  }
  const int64_t span = rho.back();
  if (span >= kMaxSpan) return std::nullopt;
  std::vector<std::pair<int64_t, int64_t>> points{{0, 0}};  // (u, its level)
  auto level_at = [&](int64_t u) {
    return static_cast<int64_t>(std::upper_bound(rho.begin(), rho.end(), u) - rho.begin());
  };
  for (int64_t r : rho) {
    points.emplace_back(r - 1, level_at(r - 1));
    points.emplace_back(r, level_at(r));
  }
  // The widest shift that leaves room for the largest value (about (count + 1) · 2^S).
  const int shift = 29 - std::bit_width(static_cast<uint32_t>(count));
  // Multipliers near 2^S / step, then near the mean slope of the boundaries (for steps below
  // one, where several boundaries coincide).
  for (const double slope : {1.0 / step, static_cast<double>(count) / static_cast<double>(span)}) {
    const double estimate = std::ldexp(slope, shift);
    if (!(estimate < static_cast<double>(kLimit))) continue;
    for (int i = 0; i <= 2 * kSearch; ++i) {
      const int64_t mult = std::llround(estimate) + (i % 2 ? (i + 1) / 2 : -(i / 2));
      if (mult <= 0 || mult >= kLimit) continue;
      int64_t lo = 0, hi = kLimit;
      for (const auto& [u, level] : points) {
        lo = std::max(lo, (level << shift) - u * mult);
        hi = std::min(hi, ((level + 1) << shift) - 1 - u * mult);
      }
      if (lo > hi || span * mult + lo >= kLimit) continue;
      return LinearLevels{-base, static_cast<int32_t>(span), static_cast<int32_t>(mult),
                          static_cast<int32_t>(lo), shift};
    }
  }
  return std::nullopt;
}

int32_t linear_level(const LinearLevels& fit, int64_t x) {
  const int64_t u = std::clamp<int64_t>(x + fit.offset, 0, fit.high);
  return static_cast<int32_t>((u * fit.mult + fit.add) >> fit.shift);
}

}  // namespace akida::runtime
