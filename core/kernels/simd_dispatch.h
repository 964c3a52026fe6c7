#pragma once

// Internal to the kernels module: finding one compiled Highway target's entry in the dispatch table of an
// HWY_EXPORT'ed function, so that every SIMD kernel family (simd_kernels.cpp, simd_packed.cpp,
// simd_ggml_blocks.cpp) runs the target the simd backend uses.

#include "kernels/kernel_backends.h"

#include <cstddef>
#include <cstdint>
#include <hwy/highway.h>
#include <string>
#include <vector>

namespace qs::kernel_detail {

/// Index of a compiled target's entry in an HWY_EXPORT table (the mapping HWY_DYNAMIC_DISPATCH uses): the
/// dynamic targets by their bit, EMU128/SCALAR in the last entry.
inline std::size_t dispatchIndex(std::int64_t target)
{
    const std::int64_t chosen = HWY_CHOSEN_TARGET_SHIFT(target);
    return hwy::Num0BitsBelowLS1Bit_Nonzero64(
        static_cast<std::uint64_t>(chosen != 0 ? chosen : HWY_CHOSEN_TARGET_MASK_SCALAR));
}

/// hwy::SupportedAndGeneratedTargets(), found once: Highway asks the CPU (CPUID, which traps to the
/// hypervisor on a VM) on every call.
inline const std::vector<std::int64_t>& generatedTargets()
{
    static const std::vector<std::int64_t> targets = hwy::SupportedAndGeneratedTargets();
    return targets;
}

/// The per-target table (a struct whose `target` is hwy::TargetName) that `getters`, an HWY_DISPATCH_TABLE,
/// gives for the target simdKernels() uses (setSimdTarget may have picked one other than Highway's best);
/// Highway's best supported target if none matches.
template<class Table> const Table& simdTargetEntry(const Table* (*const* getters)())
{
    const std::string wanted = simdKernels().target;
    const Table* best = nullptr;
    for (const std::int64_t target : generatedTargets()) {
        const Table* table = getters[dispatchIndex(target)]();
        if (wanted == table->target)
            return *table;
        best = best ? best : table;
    }
    return *best;
}

/// `scalar` (a CPU backend's table) under another target name: Highway's one-lane SCALAR fallback (what GCC
/// < 12.3 gets instead of EMU128) brings nothing over the scalar reference, which it reuses.
template<class Table> const Table* renamedTable(const Table& scalar, const char* target)
{
    static const Table renamed = [&] {
        Table copy = scalar;
        copy.target = target;
        return copy;
    }();
    return &renamed;
}

} // namespace qs::kernel_detail
