#pragma once

#include "kernels/benchmark_suite.h"
#include "plotcanvas.h"

#include <QString>
#include <vector>

class QCPBarsGroup;
class QCPItemStraightLine;
class QCPItemText;

namespace qs::gui {

/// GB/s per kernel as bars grouped by backend, with the measured read bandwidth of the CPU (and of the GPU,
/// when a CUDA kernel ran) drawn as horizontal lines. Skipped results draw no bar.
class KernelBarChart : public PlotCanvas {
    Q_OBJECT

public:
    explicit KernelBarChart(QWidget* parent = nullptr);

    /// `cpuBaselineGbps` / `gpuBaselineGbps`: the read baselines (0 = none drawn).
    void setResults(
        const std::vector<qs::BenchResult>& results, double cpuBaselineGbps, double gpuBaselineGbps);
    void clearResults();

    /// Bars drawn for `backend` ("scalar", "simd", "cuda").
    int barCount(const QString& backend) const;
    /// The value of the CPU baseline line (0 when hidden).
    double cpuBaseline() const;
    QStringList kernelLabels() const { return m_kernels; }

protected:
    QString hoverText(double key, double value) const override;

private:
    struct Series {
        QString backend;
        QCPBars* bars = nullptr;
    };
    std::vector<Series> m_series;
    std::vector<qs::BenchResult> m_results;
    QStringList m_kernels;
    QCPBarsGroup* m_group;
    QCPItemStraightLine* m_cpuLine;
    QCPItemText* m_cpuLabel;
    QCPItemStraightLine* m_gpuLine;
    QCPItemText* m_gpuLabel;
};

} // namespace qs::gui
