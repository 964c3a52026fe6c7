#include "histogramplot.h"

#include "formatting.h"

#include <algorithm>
#include <cmath>

namespace qs::gui {

namespace {

const QColor kSigma3Color(214, 96, 0);
const QColor kSigma6Color(170, 0, 60);

QCPGraph* addLegendKey(QCustomPlot* plot, const QString& name, const QColor& color)
{
    QCPGraph* key = plot->addGraph();
    key->setName(name);
    key->setPen(QPen(color, 1, Qt::DashLine));
    key->removeFromLegend();
    return key;
}

} // namespace

HistogramPlot::HistogramPlot(QWidget* parent)
    : PlotCanvas(parent)
    , m_graph(addGraph())
    , m_sigma3Key(addLegendKey(this, tr("mean \u00b1 3\u03c3"), kSigma3Color))
    , m_sigma6Key(addLegendKey(this, tr("mean \u00b1 6\u03c3"), kSigma6Color))
{
    m_graph->setLineStyle(QCPGraph::lsStepCenter);
    m_graph->removeFromLegend();
    setColor(QColor(31, 119, 180));
    legend->setBrush(QColor(255, 255, 255, 210));
    legend->setBorderPen(QPen(QColor(0, 0, 0, 60)));
    legend->setIconSize(18, 10);
    QFont legendFont = font();
    legendFont.setPointSizeF(legendFont.pointSizeF() * 0.9);
    legend->setFont(legendFont);
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    xAxis->setLabel(tr("value"));
    yAxis->setLabel(tr("count"));
    axisRect()->setRangeZoom(Qt::Horizontal | Qt::Vertical);
}

void HistogramPlot::setColor(const QColor& color)
{
    m_graph->setPen(QPen(color, 1.5));
    QColor fill = color;
    fill.setAlpha(90);
    m_graph->setBrush(fill);
}

void HistogramPlot::clearHistogram()
{
    m_histogram = {};
    m_graph->data()->clear();
    clearItems();
    legend->setVisible(false);
    replot();
}

void HistogramPlot::setHistogram(
    const qs::Histogram& histogram, std::optional<std::pair<double, double>> sigma)
{
    m_histogram = histogram;
    QVector<double> keys;
    QVector<double> values;
    keys.reserve(static_cast<qsizetype>(histogram.binCount()));
    values.reserve(static_cast<qsizetype>(histogram.binCount()));
    m_peak = 0;
    for (std::size_t i = 0; i < histogram.binCount(); ++i) {
        keys.push_back(histogram.center(i));
        values.push_back(static_cast<double>(histogram.counts[i]));
        m_peak = std::max(m_peak, histogram.counts[i]);
    }
    m_graph->setData(keys, values, true);

    double lo = histogram.lo;
    double hi = histogram.hi;
    if (!(hi > lo)) {
        const double pad = lo == 0 ? 1.0 : std::fabs(lo) * 0.1;
        lo -= pad;
        hi += pad;
    }
    const double margin = (hi - lo) * 0.02;
    xAxis->setRange(lo - margin, hi + margin);

    clearItems();
    m_sigma3Key->removeFromLegend();
    m_sigma6Key->removeFromLegend();
    if (sigma && sigma->second > 0) {
        const auto [mean, sd] = *sigma;
        addMarker(mean - 3 * sd, kSigma3Color);
        addMarker(mean + 3 * sd, kSigma3Color);
        addMarker(mean - 6 * sd, kSigma6Color);
        addMarker(mean + 6 * sd, kSigma6Color);
        m_sigma3Key->addToLegend();
        m_sigma6Key->addToLegend();
    }
    legend->setVisible(legend->itemCount() > 0);
    updateValueRange();
    rememberHomeView();
    replot();
}

void HistogramPlot::addMarker(double position, const QColor& color)
{
    auto* line = new QCPItemStraightLine(this);
    line->setPen(QPen(color, 1, Qt::DashLine));
    line->point1->setCoords(position, 1);
    line->point2->setCoords(position, 2);
    line->setSelectable(false);
}

void HistogramPlot::setLogScale(bool logarithmic)
{
    if (m_log == logarithmic)
        return;
    m_log = logarithmic;
    if (logarithmic) {
        yAxis->setScaleType(QCPAxis::stLogarithmic);
        yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
        yAxis->setNumberFormat(QStringLiteral("eb"));
        yAxis->setNumberPrecision(0);
    } else {
        yAxis->setScaleType(QCPAxis::stLinear);
        yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
        yAxis->setNumberFormat(QStringLiteral("gb"));
        yAxis->setNumberPrecision(6);
    }
    updateValueRange();
    rememberHomeView();
    replot();
}

void HistogramPlot::updateValueRange()
{
    const double peak = std::max<double>(1.0, static_cast<double>(m_peak));
    if (m_log)
        yAxis->setRange(0.5, peak * 3.0);
    else
        yAxis->setRange(0, peak * 1.08);
}

int HistogramPlot::pointCount() const
{
    return m_graph->dataCount();
}

QString HistogramPlot::hoverText(double key, double) const
{
    const std::size_t bins = m_histogram.binCount();
    const double width = m_histogram.binWidth();
    if (bins == 0 || width <= 0 || key < m_histogram.lo || key > m_histogram.hi)
        return {};
    const auto bin = std::min(bins - 1, static_cast<std::size_t>((key - m_histogram.lo) / width));
    const std::int64_t total = m_histogram.total();
    const std::int64_t count = m_histogram.counts[bin];
    const QString variable = m_histogram.absolute ? QStringLiteral("|x|") : QStringLiteral("x");
    const QString closing = bin + 1 == bins ? QStringLiteral("]") : QStringLiteral(")");
    return tr("%1 \u2208 [%2, %3%4: %5 values (%6)")
        .arg(variable, formatValue(m_histogram.edge(bin)), formatValue(m_histogram.edge(bin + 1)), closing,
            formatCount(count), formatShare(total > 0 ? static_cast<double>(count) / total : 0.0));
}

} // namespace qs::gui
