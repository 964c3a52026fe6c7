// The fused chunk kernels of the integer elements (fake_quant_chunks.cuh).

#include "kernels/cuda/fake_quant_chunks.cuh"

namespace qs::cuda {

template void launchChunks<ElementKind::Integer>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);

} // namespace qs::cuda
