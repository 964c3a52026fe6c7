#include "kernelbarchart.h"

#include <algorithm>
#include <cmath>

namespace qs::gui {

namespace {

QColor backendColour(const QString& backend)
{
    if (backend == QLatin1String("scalar"))
        return QColor(150, 150, 150);
    if (backend == QLatin1String("simd"))
        return QColor(31, 119, 180);
    if (backend == QLatin1String("cuda"))
        return QColor(44, 160, 44);
    return QColor(148, 103, 189);
}

void styleBaseline(QCPItemStraightLine* line, QCPItemText* label, const QColor& colour)
{
    line->setPen(QPen(colour, 2, Qt::DashLine));
    line->setSelectable(false);
    label->setColor(colour);
    label->setPositionAlignment(Qt::AlignRight | Qt::AlignBottom);
    label->setSelectable(false);
    label->position->setTypeX(QCPItemPosition::ptAxisRectRatio);
    label->position->setTypeY(QCPItemPosition::ptPlotCoords);
    label->setPadding(QMargins(0, 0, 4, 2));
}

} // namespace

KernelBarChart::KernelBarChart(QWidget* parent)
    : PlotCanvas(parent)
    , m_group(new QCPBarsGroup(this))
    , m_cpuLine(new QCPItemStraightLine(this))
    , m_cpuLabel(new QCPItemText(this))
    , m_gpuLine(new QCPItemStraightLine(this))
    , m_gpuLabel(new QCPItemText(this))
{
    styleBaseline(m_cpuLine, m_cpuLabel, QColor(214, 39, 40));
    styleBaseline(m_gpuLine, m_gpuLabel, QColor(20, 110, 20));
    m_group->setSpacingType(QCPBarsGroup::stAbsolute);
    m_group->setSpacing(2);
    legend->setVisible(false);
    legend->setBrush(QColor(255, 255, 255, 210));
    legend->setBorderPen(QPen(QColor(0, 0, 0, 60)));
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
    yAxis->setLabel(tr("GB/s moved (the tensor per pass, scales, codes)"));
    xAxis->setTickLabelRotation(30);
    xAxis->grid()->setVisible(false);
    clearResults();
}

void KernelBarChart::clearResults()
{
    for (const Series& series : m_series)
        removePlottable(series.bars);
    m_series.clear();
    m_results.clear();
    m_kernels.clear();
    for (QCPAbstractItem* item :
        {static_cast<QCPAbstractItem*>(m_cpuLine), static_cast<QCPAbstractItem*>(m_cpuLabel),
            static_cast<QCPAbstractItem*>(m_gpuLine), static_cast<QCPAbstractItem*>(m_gpuLabel)})
        item->setVisible(false);
    xAxis->setTicker(QSharedPointer<QCPAxisTickerText>::create());
    xAxis->setRange(-0.5, 0.5);
    yAxis->setRange(0, 1);
    legend->setVisible(legend->itemCount() > 0);
    replot();
}

void KernelBarChart::setResults(
    const std::vector<qs::BenchResult>& results, double cpuBaselineGbps, double gpuBaselineGbps)
{
    clearResults();
    m_results = results;
    QStringList backends;
    for (const qs::BenchResult& r : results) {
        const QString kernel = QString::fromStdString(r.kernel);
        const QString backend = QString::fromStdString(r.backend);
        if (!m_kernels.contains(kernel))
            m_kernels.push_back(kernel);
        if (!backends.contains(backend))
            backends.push_back(backend);
    }
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    for (int k = 0; k < m_kernels.size(); ++k)
        ticker->addTick(k, m_kernels[k]);
    xAxis->setTicker(ticker);

    double peak = std::max(cpuBaselineGbps, gpuBaselineGbps);
    const double width = 0.8 / std::max<qsizetype>(backends.size(), 1);
    for (const QString& backend : backends) {
        auto* bars = new QCPBars(xAxis, yAxis);
        const QColor colour = backendColour(backend);
        bars->setPen(QPen(colour.darker(130), 1));
        bars->setBrush(colour);
        bars->setName(backend);
        bars->setWidth(width);
        bars->setSelectable(QCP::stNone);
        bars->setBarsGroup(m_group);
        for (const qs::BenchResult& r : results) {
            if (r.skipped || QString::fromStdString(r.backend) != backend)
                continue;
            bars->addData(m_kernels.indexOf(QString::fromStdString(r.kernel)), r.gbps);
            peak = std::max(peak, r.gbps);
        }
        m_series.push_back({backend, bars});
    }

    const auto placeBaseline
        = [](QCPItemStraightLine* line, QCPItemText* label, double gbps, const QString& text) {
              line->point1->setCoords(0, gbps);
              line->point2->setCoords(1, gbps);
              label->position->setCoords(0.995, gbps);
              label->setText(text);
              line->setVisible(gbps > 0);
              label->setVisible(gbps > 0);
          };
    placeBaseline(m_cpuLine, m_cpuLabel, cpuBaselineGbps,
        tr("CPU read baseline %1 GB/s").arg(QString::number(cpuBaselineGbps, 'f', 1)));
    placeBaseline(m_gpuLine, m_gpuLabel, gpuBaselineGbps,
        tr("GPU read baseline %1 GB/s").arg(QString::number(gpuBaselineGbps, 'f', 1)));

    xAxis->setRange(-0.6, std::max<double>(static_cast<double>(m_kernels.size()) - 0.4, 0.6));
    yAxis->setRange(0, peak > 0 ? peak * 1.15 : 1.0);
    rememberHomeView();
    legend->setVisible(legend->itemCount() > 0);
    replot();
}

int KernelBarChart::barCount(const QString& backend) const
{
    for (const Series& series : m_series)
        if (series.backend == backend)
            return series.bars->dataCount();
    return 0;
}

double KernelBarChart::cpuBaseline() const
{
    return m_cpuLine->visible() ? m_cpuLine->point1->coords().y() : 0.0;
}

QString KernelBarChart::hoverText(double key, double) const
{
    const int kernel = static_cast<int>(std::lround(key));
    if (kernel < 0 || kernel >= m_kernels.size() || m_series.empty())
        return {};
    // Which bar of the group: the offset within the kernel's slot.
    const double width = m_series.front().bars->width();
    const double start = kernel - width * static_cast<double>(m_series.size()) / 2.0;
    const int slot = static_cast<int>(std::floor((key - start) / width));
    if (slot < 0 || slot >= static_cast<int>(m_series.size()))
        return {};
    const QString backend = m_series[static_cast<std::size_t>(slot)].backend;
    for (const qs::BenchResult& r : m_results) {
        if (QString::fromStdString(r.kernel) != m_kernels[kernel]
            || QString::fromStdString(r.backend) != backend)
            continue;
        if (r.skipped)
            return tr("%1 on %2: skipped (%3)")
                .arg(m_kernels[kernel], backend, QString::fromStdString(r.skipReason));
        return tr("%1 on %2 (%3): %4 GB/s moved (%5 GB/s of the tensor), median %6 ms%7")
            .arg(m_kernels[kernel], backend, QString::fromStdString(r.target),
                QString::number(r.gbps, 'f', 2), QString::number(r.inputGbps, 'f', 2),
                QString::number(r.timing.medianMs, 'f', 3),
                r.fractionOfBaseline > 0
                    ? tr(", %1 % of the read baseline").arg(r.fractionOfBaseline * 100, 0, 'f', 1)
                    : QString());
    }
    return {};
}

} // namespace qs::gui
