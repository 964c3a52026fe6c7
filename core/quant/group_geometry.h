#pragma once

// Internal to the quant module: the group structure of a granularity as a few extents, enumerated as runs of
// equally spaced elements that share one group, so the hot loops never look up a group per element.

#include "quant/scheme.h"
#include "tensor/tensor.h"

#include <algorithm>
#include <cstdint>

namespace qs::detail {

struct GroupGeometry {
    enum class Pattern { Single, Channel, Group, Block };
    Pattern pattern = Pattern::Single;
    std::int64_t elementCount = 0;
    std::int64_t groupCount = 0;
    // Channel and Group: the shape seen as [outer, length, inner] around the axis.
    // Block: [outer, length (rows), inner (cols)] with outer the product of the leading axes.
    std::int64_t outer = 1;
    std::int64_t length = 1;
    std::int64_t inner = 1;
    std::int64_t size = 1; ///< Group: group size; Block: block rows
    std::int64_t cols = 1; ///< Block: block cols
    std::int64_t perLine = 1; ///< Group: groups along the axis; Block: block columns per block row
    std::int64_t lineBlocks = 1; ///< Block: block rows
};

/// Normalises a possibly negative axis; throws qs::Error when it is out of range for `rank`.
int normalizeAxis(int axis, int rank, const char* what);

/// Throws qs::Error when the granularity does not fit the shape.
GroupGeometry groupGeometry(const Granularity& granularity, const Shape& shape);

/// The groups of a scheme: its granularity's, or a block format's blocks along the last axis.
GroupGeometry schemeGeometry(const Scheme& scheme, const Shape& shape);

/// Calls f(start, count, group, groupStride) for runs of `count` contiguous elements starting at `start`,
/// covering every element exactly once; element start + j belongs to group `group + j * groupStride`
/// (groupStride 0: the whole run is one group). Runs are visited in memory order.
template<class F> void forEachRun(const GroupGeometry& g, F&& f)
{
    using I = std::int64_t;
    if (g.elementCount == 0)
        return;
    switch (g.pattern) {
    case GroupGeometry::Pattern::Single:
        f(I {0}, g.elementCount, I {0}, I {0});
        return;
    case GroupGeometry::Pattern::Channel:
        for (I o = 0; o < g.outer; ++o) {
            if (g.inner == 1) {
                f(o * g.length, g.length, I {0}, I {1});
                continue;
            }
            for (I k = 0; k < g.length; ++k)
                f((o * g.length + k) * g.inner, g.inner, k, I {0});
        }
        return;
    case GroupGeometry::Pattern::Group:
        for (I o = 0; o < g.outer; ++o) {
            if (g.inner == 1) {
                for (I j = 0; j < g.perLine; ++j) {
                    const I first = j * g.size;
                    f(o * g.length + first, std::min(g.size, g.length - first), o * g.perLine + j, I {0});
                }
                continue;
            }
            for (I k = 0; k < g.length; ++k)
                f((o * g.length + k) * g.inner, g.inner, o * g.inner * g.perLine + k / g.size, g.perLine);
        }
        return;
    case GroupGeometry::Pattern::Block:
        for (I o = 0; o < g.outer; ++o)
            for (I r = 0; r < g.length; ++r)
                for (I j = 0; j < g.perLine; ++j) {
                    const I first = j * g.cols;
                    f((o * g.length + r) * g.inner + first, std::min(g.cols, g.inner - first),
                        (o * g.lineBlocks + r / g.size) * g.perLine + j, I {0});
                }
        return;
    }
}

} // namespace qs::detail
