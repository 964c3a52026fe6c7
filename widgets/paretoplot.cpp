#include "paretoplot.h"

#include "formatting.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qs::gui {

namespace {

/// How close (pixels) the cursor must be to a point to name or pick it.
constexpr double kPickDistance = 10;

} // namespace

std::vector<std::size_t> paretoFront(const std::vector<ParetoPoint>& points, bool higherIsBetter)
{
    const auto better = [higherIsBetter](double a, double b) { return higherIsBetter ? a > b : a < b; };
    std::vector<std::size_t> front;
    for (std::size_t i = 0; i < points.size(); ++i) {
        const ParetoPoint& p = points[i];
        if (!std::isfinite(p.bitsPerValue) || !std::isfinite(p.error))
            continue;
        bool dominated = false;
        for (std::size_t j = 0; j < points.size() && !dominated; ++j) {
            const ParetoPoint& q = points[j];
            if (j == i || !std::isfinite(q.bitsPerValue) || !std::isfinite(q.error))
                continue;
            const bool noWorse = q.bitsPerValue <= p.bitsPerValue && !better(p.error, q.error);
            const bool strictly = q.bitsPerValue < p.bitsPerValue || better(q.error, p.error);
            dominated = noWorse && strictly;
        }
        if (!dominated)
            front.push_back(i);
    }
    std::stable_sort(front.begin(), front.end(), [&](std::size_t a, std::size_t b) {
        return points[a].bitsPerValue != points[b].bitsPerValue
            ? points[a].bitsPerValue < points[b].bitsPerValue
            : better(points[a].error, points[b].error);
    });
    return front;
}

ParetoPlot::ParetoPlot(QWidget* parent)
    : PlotCanvas(parent)
    , m_all(addGraph())
    , m_frontGraph(addGraph())
{
    m_all->setLineStyle(QCPGraph::lsNone);
    m_all->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QColor(95, 140, 190), 7));
    m_all->setName(tr("scheme"));
    m_all->setSelectable(QCP::stNone);
    m_frontGraph->setLineStyle(QCPGraph::lsStepLeft);
    m_frontGraph->setPen(QPen(QColor(214, 39, 40), 1.5));
    m_frontGraph->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssCircle, QPen(QColor(214, 39, 40), 2), Qt::NoBrush, 11));
    m_frontGraph->setName(tr("Pareto front"));
    m_frontGraph->setSelectable(QCP::stNone);
    legend->setVisible(true);
    legend->setBrush(QColor(255, 255, 255, 210));
    legend->setBorderPen(QPen(QColor(0, 0, 0, 60)));
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    xAxis->setLabel(tr("effective bits per value (scales included)"));
    connect(this, &PlotCanvas::clicked, this, [this](double key, double value) {
        const int point = pointNear(key, value);
        if (point >= 0)
            emit pointClicked(m_points[static_cast<std::size_t>(point)].cellIndex);
    });
}

void ParetoPlot::clearPoints()
{
    m_points.clear();
    m_front.clear();
    m_all->data()->clear();
    m_frontGraph->data()->clear();
    clearItems();
    replot();
}

void ParetoPlot::setPoints(
    std::vector<ParetoPoint> points, const QString& errorLabel, bool logError, bool higherIsBetter)
{
    std::erase_if(points, [logError](const ParetoPoint& p) {
        return !std::isfinite(p.bitsPerValue) || !std::isfinite(p.error) || (logError && p.error <= 0);
    });
    m_points = std::move(points);
    m_front = paretoFront(m_points, higherIsBetter);
    m_errorLabel = errorLabel;

    QVector<double> keys;
    QVector<double> values;
    for (const ParetoPoint& p : m_points) {
        keys.push_back(p.bitsPerValue);
        values.push_back(p.error);
    }
    m_all->setData(keys, values);
    QVector<double> frontKeys;
    QVector<double> frontValues;
    for (std::size_t i : m_front) {
        frontKeys.push_back(m_points[i].bitsPerValue);
        frontValues.push_back(m_points[i].error);
    }
    m_frontGraph->setData(frontKeys, frontValues, true);

    yAxis->setLabel(errorLabel);
    yAxis->setScaleType(logError ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (logError)
        yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    else
        yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
    if (!m_points.empty()) {
        const auto [minX, maxX] = std::minmax_element(keys.begin(), keys.end());
        const auto [minY, maxY] = std::minmax_element(values.begin(), values.end());
        const double spanX = std::max(*maxX - *minX, 1.0);
        xAxis->setRange(*minX - 0.05 * spanX, *maxX + 0.05 * spanX);
        if (logError)
            yAxis->setRange(*minY / 3, *maxY * 3);
        else {
            const double spanY = std::max(*maxY - *minY, 1.0);
            yAxis->setRange(*minY - 0.08 * spanY, *maxY + 0.12 * spanY);
        }
    }
    placeLabels();
    rememberHomeView();
    replot();
}

void ParetoPlot::placeLabels()
{
    clearItems();
    QFont labelFont = font();
    labelFont.setPointSizeF(labelFont.pointSizeF() * 0.85);
    const QFontMetrics metrics(labelFont);
    // Labels of the front, left out where they would cover one already placed (close points on a log axis).
    std::vector<QRectF> placed;
    const double rightEdge = xAxis->coordToPixel(xAxis->range().upper);
    for (std::size_t i : m_front) {
        const ParetoPoint& p = m_points[i];
        const QPointF at(xAxis->coordToPixel(p.bitsPerValue), yAxis->coordToPixel(p.error));
        const double width = metrics.horizontalAdvance(p.label) + 8;
        const bool toTheLeft = at.x() + width > rightEdge;
        const QRectF box(
            toTheLeft ? at.x() - width : at.x(), at.y() - metrics.height(), width, metrics.height());
        if (std::any_of(placed.begin(), placed.end(), [&](const QRectF& r) { return r.intersects(box); }))
            continue;
        placed.push_back(box);
        auto* label = new QCPItemText(this);
        label->position->setCoords(p.bitsPerValue, p.error);
        label->setPositionAlignment((toTheLeft ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignBottom);
        label->setPadding(toTheLeft ? QMargins(0, 0, 6, 4) : QMargins(6, 0, 0, 4));
        label->setFont(labelFont);
        label->setColor(QColor(150, 20, 20));
        label->setText(p.label);
        label->setClipToAxisRect(true);
    }
}

void ParetoPlot::resizeEvent(QResizeEvent* event)
{
    PlotCanvas::resizeEvent(event);
    // Lay out at the new size first: the overlap test works in pixels.
    replot(QCustomPlot::rpImmediateRefresh);
    placeLabels();
    replot();
}

std::vector<int> ParetoPlot::frontCells() const
{
    std::vector<int> cells;
    for (std::size_t i : m_front)
        cells.push_back(m_points[i].cellIndex);
    return cells;
}

int ParetoPlot::pointNear(double key, double value) const
{
    const double px = xAxis->coordToPixel(key);
    const double py = yAxis->coordToPixel(value);
    int nearest = -1;
    double best = kPickDistance;
    for (std::size_t i = 0; i < m_points.size(); ++i) {
        const double d = std::hypot(
            xAxis->coordToPixel(m_points[i].bitsPerValue) - px, yAxis->coordToPixel(m_points[i].error) - py);
        if (d <= best) {
            best = d;
            nearest = static_cast<int>(i);
        }
    }
    return nearest;
}

QString ParetoPlot::hoverText(double key, double value) const
{
    const int i = pointNear(key, value);
    if (i < 0)
        return {};
    const ParetoPoint& p = m_points[static_cast<std::size_t>(i)];
    const bool onFront
        = std::find(m_front.begin(), m_front.end(), static_cast<std::size_t>(i)) != m_front.end();
    return tr("%1: %2 bits per value, %3 %4%5")
        .arg(p.label, QString::number(p.bitsPerValue, 'f', 3), m_errorLabel, formatValue(p.error),
            onFront ? tr(" (on the Pareto front)") : QString());
}

} // namespace qs::gui
