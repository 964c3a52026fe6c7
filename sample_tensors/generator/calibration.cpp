// calibration_set.h5: calibration batches of two layers' inputs, as a PTQ pipeline would dump them. The
// outlier channels are the same in every batch, but each batch reaches a slightly different extreme, which
// is what makes min/max calibration depend on the batches chosen.

#include "activation_model.h"
#include "io/writers.h"
#include "samples.h"

#include <array>
#include <string>
#include <vector>

namespace qs::samples {

namespace {

constexpr std::int64_t kTokensPerBatch = 64;
constexpr std::int64_t kHidden = 256;
constexpr std::array<float, 4> kBatchGain {1.0f, 1.07f, 0.94f, 1.12f};
// Deeper in the network the body is heavier-tailed and the massive channels have grown.
constexpr float kLayer1Gain = 1.5f;

} // namespace

void writeCalibrationSet(const std::filesystem::path& dir)
{
    std::vector<Hdf5Dataset> datasets;
    for (int layer = 0; layer < 2; ++layer)
        for (std::size_t batch = 0; batch < kBatchGain.size(); ++batch) {
            const std::string path
                = "/calib/layer" + std::to_string(layer) + "/batch_" + std::to_string(batch);
            Rng rng(seedFor(kCalibrationSeed, path));
            const bool deep = layer == 1;
            Hdf5Dataset dataset;
            dataset.path = path;
            dataset.tensor = residualActivations(path, kTokensPerBatch, kHidden,
                deep ? ActivationBody::Laplace : ActivationBody::Normal,
                kBatchGain[batch] * (deep ? kLayer1Gain : 1.0f), rng);
            // layer0 stays contiguous and layer1 is chunked + deflated, so both HDF5 layouts appear.
            if (deep) {
                dataset.chunk = {16, kHidden};
                dataset.deflateLevel = 4;
            }
            datasets.push_back(std::move(dataset));
        }
    writeHdf5((dir / "calibration_set.h5").string(), datasets);
}

} // namespace qs::samples
