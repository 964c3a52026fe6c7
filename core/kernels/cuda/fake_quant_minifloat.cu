// The fused chunk kernels of the minifloat elements by bit rounding and by magnitude bins (MXFP4 with ties
// away) (fake_quant_chunks.cuh).

#include "kernels/cuda/fake_quant_chunks.cuh"

namespace qs::cuda {

template void launchChunks<ElementKind::Minifloat>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);
template void launchChunks<ElementKind::MagnitudeTable>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);

} // namespace qs::cuda
