// The fused chunk kernels of the minifloat elements rounded by the magic addition (FP4 E2M1 with MXFP4 and
// NVFP4, FP16, FP6 and FP8 variants without a hardware conversion; fake_quant_chunks.cuh).

#include "kernels/cuda/fake_quant_chunks.cuh"

namespace qs::cuda {

template void launchChunks<ElementKind::MagicMinifloat>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);

} // namespace qs::cuda
