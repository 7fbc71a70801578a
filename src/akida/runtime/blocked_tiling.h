// What the AVX-512 and AVX2 blocked kernels (blocked_sums.cpp, blocked_avx2.cpp) share apart
// from their vector types: the tile widths, where a tile's output items go, and the pixel tiles
// of the depthwise kernels.
#pragma once

#include <cstdint>
#include <type_traits>

namespace akida::runtime::blocked::tiling {

// The tile widths (output pixels per tile) the kernels instantiate, widest first; also the
// pooling windows a tile can hold whole (can_pool).
inline constexpr int kTileWidths[] = {16, 12, 9, 8, 6, 4, 3, 2, 1};

// Where the consecutive output items of a tile go: `filters` values apart, or, for a padded
// staging (ConvTask::out_row_items > 0), in rows of row_items items, row_stride values apart.
template <typename O>
struct ItemCursor {
  O* at = nullptr;
  int64_t filters = 0, row_items = 0, row_stride = 0, y = 0;  // y: the item's place in its row
  void next() {
    at += filters;
    if (row_items > 0 && ++y == row_items) {
      y = 0;
      at += row_stride - row_items * filters;
    }
  }
};

// Calls tile(std::integral_constant<int, P>{}, p, count) for the pixels [begin, end): tiles of
// 8, then the last few pixels in one tile (independent sums overlap; one pixel at a time waits
// on each tap's latency).
template <typename Tile>
void pixel_tiles(int64_t begin, int64_t end, Tile tile) {
  constexpr int kP = 8;
  int64_t p = begin;
  for (; p + kP <= end; p += kP) tile(std::integral_constant<int, kP>{}, p, kP);
  if (end - p > 4) tile(std::integral_constant<int, kP>{}, p, end - p);
  else if (end - p > 1) tile(std::integral_constant<int, 4>{}, p, end - p);
  else if (end - p == 1) tile(std::integral_constant<int, 1>{}, p, 1);
}

}  // namespace akida::runtime::blocked::tiling
