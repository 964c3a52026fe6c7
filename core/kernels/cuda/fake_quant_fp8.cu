// The fused chunk kernels of the FP8 E4M3 and E5M2 elements by the hardware conversion
// (fake_quant_chunks.cuh).

#include "kernels/cuda/fake_quant_chunks.cuh"

namespace qs::cuda {

template void launchChunks<ElementKind::E4M3Hardware>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);
template void launchChunks<ElementKind::E5M2Hardware>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);

} // namespace qs::cuda
