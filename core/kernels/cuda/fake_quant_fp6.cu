// The fused chunk kernels of the minifloats that the FP8 hardware conversion rounds once rescaled (FP6 E2M3
// and E3M2, fake_quant.cuh's E4M3Embedded and E5M2Embedded; fake_quant_chunks.cuh).

#include "kernels/cuda/fake_quant_chunks.cuh"

namespace qs::cuda {

template void launchChunks<ElementKind::E4M3Embedded>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);
template void launchChunks<ElementKind::E5M2Embedded>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);

} // namespace qs::cuda
