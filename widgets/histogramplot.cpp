#include "histogramplot.h"

#include "formatting.h"

#include <algorithm>
#include <cmath>

namespace qs::gui {

namespace {

const QColor kSigma3Color(214, 96, 0);
const QColor kSigma6Color(170, 0, 60);
const QColor kChosenColor(200, 0, 0);
const QColor kGridColor(40, 40, 40, 110);

QColor clipColor(const std::string& label)
{
    if (label.rfind("min-max", 0) == 0)
        return QColor(60, 60, 60);
    if (label.rfind("percentile 99.99", 0) == 0)
        return QColor(0, 140, 140);
    if (label.rfind("percentile", 0) == 0)
        return QColor(40, 160, 40);
    if (label.rfind("entropy", 0) == 0)
        return QColor(130, 60, 190);
    if (label.rfind("MSE", 0) == 0)
        return QColor(150, 90, 30);
    return QColor(230, 0, 160);
}

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
    connect(
        xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] { updateGridVisibility(); });
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
    m_clipLines.clear();
    m_gridLines.clear();
    m_clipPositions.clear();
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
    m_clipLines.clear();
    m_gridLines.clear();
    m_clipPositions.clear();
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
    drawOverlay();
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

void HistogramPlot::setOverlay(
    const std::vector<ClipRange>& clips, const std::vector<double>& grid, const QString& gridLabel)
{
    m_clips = clips;
    m_grid = grid;
    m_gridLabel = gridLabel;
    removeOverlay();
    drawOverlay();
    legend->setVisible(legend->itemCount() > 0);
    replot();
}

void HistogramPlot::clearOverlay()
{
    setOverlay({}, {}, {});
}

void HistogramPlot::removeOverlay()
{
    for (QCPItemStraightLine* line : std::as_const(m_clipLines))
        removeItem(line);
    for (QCPItemStraightLine* line : std::as_const(m_gridLines))
        removeItem(line);
    for (QCPGraph* key : std::as_const(m_overlayKeys))
        removeGraph(key);
    m_clipLines.clear();
    m_gridLines.clear();
    m_overlayKeys.clear();
    m_clipPositions.clear();
    m_gridKey = nullptr;
}

void HistogramPlot::drawOverlay()
{
    for (QCPGraph* key : std::as_const(m_overlayKeys))
        removeGraph(key);
    m_overlayKeys.clear();
    m_gridKey = nullptr;
    if (m_histogram.binCount() == 0)
        return;
    const bool folded = m_histogram.absolute;
    const auto addLine = [this](double x, const QPen& pen) {
        auto* line = new QCPItemStraightLine(this);
        line->setPen(pen);
        line->point1->setCoords(x, 1);
        line->point2->setCoords(x, 2);
        line->setSelectable(false);
        return line;
    };
    for (const ClipRange& clip : m_clips) {
        const QColor color = clip.chosen ? kChosenColor : clipColor(clip.label);
        const QPen pen(color, clip.chosen ? 2.5 : 1.3, clip.chosen ? Qt::SolidLine : Qt::DashDotLine);
        std::vector<double> positions;
        if (folded)
            positions.push_back(std::max(std::fabs(clip.min), std::fabs(clip.max)));
        else
            positions = {clip.min, clip.max};
        for (const double x : positions) {
            m_clipLines << addLine(x, pen);
            m_clipPositions.push_back(x);
        }
        QCPGraph* key = addGraph();
        key->setName(QString::fromStdString(clip.label));
        key->setPen(pen);
        m_overlayKeys << key;
    }
    if (!m_grid.empty()) {
        std::vector<double> levels = m_grid;
        if (folded) {
            for (double& v : levels)
                v = std::fabs(v);
            std::sort(levels.begin(), levels.end());
            levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
        }
        const QPen pen(kGridColor, 1);
        for (const double v : levels)
            m_gridLines << addLine(v, pen);
        m_gridKey = addGraph();
        m_gridKey->setPen(pen);
        m_overlayKeys << m_gridKey;
    }
    updateGridVisibility();
}

void HistogramPlot::updateGridVisibility()
{
    if (m_gridLines.isEmpty())
        return;
    const QCPRange range = xAxis->range();
    int inView = 0;
    for (const QCPItemStraightLine* line : std::as_const(m_gridLines)) {
        if (range.contains(line->point1->key()))
            ++inView;
    }
    const bool show = inView <= kMaxVisibleGridLines;
    for (QCPItemStraightLine* line : std::as_const(m_gridLines))
        line->setVisible(show);
    if (m_gridKey)
        m_gridKey->setName(show
                ? m_gridLabel
                : tr("%1: %2 levels in view, zoom in to see them").arg(m_gridLabel).arg(inView));
}

std::vector<double> HistogramPlot::clipLinePositions() const
{
    return m_clipPositions;
}

std::vector<double> HistogramPlot::gridPositions() const
{
    std::vector<double> positions;
    for (const QCPItemStraightLine* line : m_gridLines)
        positions.push_back(line->point1->key());
    return positions;
}

int HistogramPlot::visibleGridLineCount() const
{
    int visible = 0;
    for (const QCPItemStraightLine* line : m_gridLines)
        visible += line->visible() ? 1 : 0;
    return visible;
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
    // At least a decade and a half, so the log ticker has powers of ten to label (a narrower range makes it
    // label 2 and 3 with one significant digit each, twice).
    if (m_log)
        yAxis->setRange(0.5, std::max(peak * 3.0, 20.0));
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
