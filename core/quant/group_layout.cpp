#include "base/error.h"
#include "quant/block_formats.h"
#include "quant/group_geometry.h"
#include "quant/quantizer.h"

#include <string>

namespace qs {

namespace detail {

int normalizeAxis(int axis, int rank, const char* what)
{
    if (axis < -rank || axis >= rank)
        throw Error(std::string(what) + " axis " + std::to_string(axis)
            + " is out of range for a tensor of rank " + std::to_string(rank));
    return axis < 0 ? axis + rank : axis;
}

namespace {

std::int64_t product(const Shape& shape, std::size_t from, std::size_t to)
{
    std::int64_t n = 1;
    for (std::size_t i = from; i < to; ++i)
        n *= shape[i];
    return n;
}

std::int64_t ceilDiv(std::int64_t a, std::int64_t b)
{
    return (a + b - 1) / b;
}

} // namespace

GroupGeometry groupGeometry(const Granularity& granularity, const Shape& shape)
{
    GroupGeometry g;
    g.elementCount = shapeElementCount(shape);
    const int rank = static_cast<int>(shape.size());
    switch (granularity.kind) {
    case Granularity::Kind::PerTensor:
        g.pattern = GroupGeometry::Pattern::Single;
        g.groupCount = 1;
        return g;
    case Granularity::Kind::PerChannel: {
        const auto axis = static_cast<std::size_t>(normalizeAxis(granularity.axis, rank, "per-channel"));
        g.pattern = GroupGeometry::Pattern::Channel;
        g.outer = product(shape, 0, axis);
        g.length = shape[axis];
        g.inner = product(shape, axis + 1, shape.size());
        g.groupCount = g.length;
        return g;
    }
    case Granularity::Kind::PerGroup: {
        if (granularity.groupSize < 1)
            throw Error("group size must be at least 1 (got " + std::to_string(granularity.groupSize) + ")");
        const auto axis = static_cast<std::size_t>(normalizeAxis(granularity.axis, rank, "per-group"));
        g.pattern = GroupGeometry::Pattern::Group;
        g.outer = product(shape, 0, axis);
        g.length = shape[axis];
        g.inner = product(shape, axis + 1, shape.size());
        g.size = granularity.groupSize;
        g.perLine = ceilDiv(g.length, g.size);
        g.groupCount = g.outer * g.inner * g.perLine;
        return g;
    }
    case Granularity::Kind::Block2D: {
        if (granularity.blockRows < 1 || granularity.blockCols < 1)
            throw Error("2-D block size must be at least 1x1 (got " + std::to_string(granularity.blockRows)
                + "x" + std::to_string(granularity.blockCols) + ")");
        if (rank < 2)
            throw Error("2-D blocks need a tensor of rank 2 or more (shape " + shapeToString(shape) + ")");
        g.pattern = GroupGeometry::Pattern::Block;
        g.outer = product(shape, 0, shape.size() - 2);
        g.length = shape[shape.size() - 2];
        g.inner = shape.back();
        g.size = granularity.blockRows;
        g.cols = granularity.blockCols;
        g.lineBlocks = ceilDiv(g.length, g.size);
        g.perLine = ceilDiv(g.inner, g.cols);
        g.groupCount = g.outer * g.lineBlocks * g.perLine;
        return g;
    }
    }
    throw Error("unknown granularity kind");
}

GroupGeometry schemeGeometry(const Scheme& scheme, const Shape& shape)
{
    if (scheme.blockFormat == BlockFormat::None)
        return groupGeometry(scheme.granularity, shape);
    // Block formats: blocks along the last axis, a scalar being one row of one value (block_formats.h).
    return groupGeometry(
        Granularity::perGroup(blockFormatBlockSize(scheme), -1), shape.empty() ? Shape {1} : shape);
}

} // namespace detail

GroupLayout groupLayout(const Scheme& scheme, const Shape& shape)
{
    const detail::GroupGeometry geometry = detail::schemeGeometry(scheme, shape);
    GroupLayout layout;
    layout.groupCount = geometry.groupCount;
    layout.groupOfElement.resize(static_cast<std::size_t>(geometry.elementCount));
    detail::forEachRun(
        geometry, [&](std::int64_t start, std::int64_t count, std::int64_t group, std::int64_t step) {
            for (std::int64_t j = 0; j < count; ++j)
                layout.groupOfElement[static_cast<std::size_t>(start + j)] = group + j * step;
        });
    return layout;
}

std::int64_t groupCount(const Scheme& scheme, const Shape& shape)
{
    return detail::schemeGeometry(scheme, shape).groupCount;
}

} // namespace qs
