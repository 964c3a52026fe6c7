// The fused chunk kernels of the lookup-table elements, by search and by bins (fake_quant_chunks.cuh).

#include "kernels/cuda/fake_quant_chunks.cuh"

namespace qs::cuda {

template void launchChunks<ElementKind::Table>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);
template void launchChunks<ElementKind::BinnedTable>(
    const float*, I, const FakeQuantPlan&, const ChunkTargets&, unsigned, cudaStream_t);

} // namespace qs::cuda
