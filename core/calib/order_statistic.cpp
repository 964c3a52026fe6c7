#include "calib/order_statistic.h"

#include "base/error.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>

namespace qs {

namespace {

constexpr std::uint32_t kExponentMask = 0x7f800000u;

bool finiteBits(std::uint32_t bits)
{
    return (bits & kExponentMask) != kExponentMask;
}

/// Monotone key: unsigned order of keys = float order with -0 < +0.
std::uint32_t signedKey(std::uint32_t bits)
{
    // Branch-free: negative values flip every bit, the others only the sign bit.
    const std::uint32_t mask = std::uint32_t(std::int32_t(bits) >> 31) | 0x80000000u;
    return bits ^ mask;
}

float fromSignedKey(std::uint32_t key)
{
    return std::bit_cast<float>((key & 0x80000000u) ? key & 0x7fffffffu : ~key);
}

template<typename Visit>
void forEachFiniteKey(std::span<const std::span<const float>> spans, bool magnitudes, Visit&& visit)
{
    for (const std::span<const float> span : spans)
        for (const float v : span) {
            const std::uint32_t bits = std::bit_cast<std::uint32_t>(v);
            if (!finiteBits(bits))
                continue;
            visit(magnitudes ? bits & 0x7fffffffu : signedKey(bits));
        }
}

/// The bucket holding 0-based rank `rank` of a histogram, and the rank left inside it.
std::pair<std::uint32_t, std::int64_t> locate(const std::vector<std::int64_t>& counts, std::int64_t rank)
{
    for (std::uint32_t b = 0; b < counts.size(); ++b) {
        if (rank < counts[b])
            return {b, rank};
        rank -= counts[b];
    }
    throw Error("order statistic: rank beyond the counted values");
}

/// Counts of the top 16 key bits. Four interleaved 32-bit tables so that runs of equal keys do not wait on
/// each other's increments; folded into int64 every 2^30 values.
std::vector<std::int64_t> topBitsHistogram(std::span<const std::span<const float>> spans, bool magnitudes)
{
    constexpr std::size_t kBuckets = 1u << 16;
    constexpr std::int64_t kFoldEvery = std::int64_t(1) << 30;
    std::vector<std::int64_t> total(kBuckets, 0);
    std::vector<std::uint32_t> tables(4 * kBuckets, 0);
    std::int64_t pending = 0;
    const auto fold = [&] {
        for (std::size_t b = 0; b < kBuckets; ++b)
            total[b] += std::int64_t(tables[b]) + tables[kBuckets + b] + tables[2 * kBuckets + b]
                + tables[3 * kBuckets + b];
        std::fill(tables.begin(), tables.end(), 0u);
        pending = 0;
    };
    const std::uint32_t clearSign = magnitudes ? 0x7fffffffu : 0xffffffffu;
    for (const std::span<const float> span : spans) {
        std::size_t i = 0;
        while (i < span.size()) {
            const std::size_t start = i;
            const std::size_t end = std::min(span.size(), i + std::size_t(kFoldEvery - pending));
            for (; i + 4 <= end; i += 4)
                for (std::size_t lane = 0; lane < 4; ++lane) {
                    const std::uint32_t bits = std::bit_cast<std::uint32_t>(span[i + lane]) & clearSign;
                    if (!finiteBits(bits))
                        continue;
                    const std::uint32_t key = magnitudes ? bits : signedKey(bits);
                    ++tables[lane * kBuckets + (key >> 16)];
                }
            for (; i < end; ++i) {
                const std::uint32_t bits = std::bit_cast<std::uint32_t>(span[i]) & clearSign;
                if (finiteBits(bits))
                    ++tables[(magnitudes ? bits : signedKey(bits)) >> 16];
            }
            pending += std::int64_t(end - start);
            if (pending >= kFoldEvery)
                fold();
        }
    }
    fold();
    return total;
}

} // namespace

std::int64_t countFinite(std::span<const std::span<const float>> spans)
{
    std::int64_t n = 0;
    for (const std::span<const float> span : spans)
        for (const float v : span)
            n += finiteBits(std::bit_cast<std::uint32_t>(v));
    return n;
}

std::vector<float> selectRanks(std::span<const std::span<const float>> spans,
    const std::vector<std::int64_t>& ranks, bool magnitudes, std::int64_t finiteCount)
{
    for (const std::int64_t r : ranks)
        if (r < 0 || r >= finiteCount)
            throw Error("order statistic: rank " + std::to_string(r) + " outside 0.."
                + std::to_string(finiteCount - 1));
    std::vector<float> out(ranks.size());
    if (ranks.empty())
        return out;

    std::vector<std::int64_t> high = topBitsHistogram(spans, magnitudes);

    // One low-bits histogram per distinct top bucket among the ranks (at most ranks.size()).
    std::vector<std::uint32_t> buckets;
    std::vector<std::int64_t> inner(ranks.size());
    std::vector<std::size_t> slot(ranks.size());
    for (std::size_t i = 0; i < ranks.size(); ++i) {
        const auto [bucket, rest] = locate(high, ranks[i]);
        inner[i] = rest;
        std::size_t s = 0;
        while (s < buckets.size() && buckets[s] != bucket)
            ++s;
        if (s == buckets.size())
            buckets.push_back(bucket);
        slot[i] = s;
    }
    std::vector<std::vector<std::int64_t>> low(buckets.size(), std::vector<std::int64_t>(1u << 16, 0));
    if (buckets.size() == 1) {
        const std::uint32_t only = buckets.front();
        std::vector<std::int64_t>& counts = low.front();
        forEachFiniteKey(spans, magnitudes, [&](std::uint32_t key) {
            if ((key >> 16) == only)
                ++counts[key & 0xffffu];
        });
    } else if (buckets.size() == 2) {
        const std::uint32_t first = buckets[0];
        const std::uint32_t second = buckets[1];
        std::int64_t* const firstCounts = low[0].data();
        std::int64_t* const secondCounts = low[1].data();
        forEachFiniteKey(spans, magnitudes, [&](std::uint32_t key) {
            const std::uint32_t top = key >> 16;
            if (top == first)
                ++firstCounts[key & 0xffffu];
            else if (top == second)
                ++secondCounts[key & 0xffffu];
        });
    } else {
        forEachFiniteKey(spans, magnitudes, [&](std::uint32_t key) {
            for (std::size_t s = 0; s < buckets.size(); ++s)
                if ((key >> 16) == buckets[s])
                    ++low[s][key & 0xffffu];
        });
    }
    for (std::size_t i = 0; i < ranks.size(); ++i) {
        const std::uint32_t key = (buckets[slot[i]] << 16) | locate(low[slot[i]], inner[i]).first;
        out[i] = magnitudes ? std::bit_cast<float>(key) : fromSignedKey(key);
    }
    return out;
}

} // namespace qs
