#include "objectivecurveplot.h"

#include "formatting.h"

#include <QMouseEvent>
#include <algorithm>
#include <cmath>

namespace qs::gui {

namespace {

/// How close (pixels) a press must be to the choice line to grab it rather than pan.
constexpr int kGrabDistance = 6;

} // namespace

ObjectiveCurvePlot::ObjectiveCurvePlot(QWidget* parent)
    : PlotCanvas(parent)
    , m_graph(addGraph())
    , m_minimum(addGraph())
    , m_choiceLine(new QCPItemStraightLine(this))
{
    m_graph->setPen(QPen(QColor(31, 119, 180), 2));
    m_graph->setName(tr("objective"));
    m_graph->setSelectable(QCP::stNone);
    m_minimum->setLineStyle(QCPGraph::lsNone);
    m_minimum->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssCircle, QColor(214, 39, 40), QColor(214, 39, 40), 9));
    m_minimum->setName(tr("minimum"));
    m_minimum->setSelectable(QCP::stNone);
    m_choiceLine->setPen(QPen(QColor(255, 127, 14), 2, Qt::DashLine));
    m_choiceLine->setSelectable(false);
    m_choiceLine->setVisible(false);

    legend->setVisible(true);
    legend->setBrush(QColor(255, 255, 255, 210));
    legend->setBorderPen(QPen(QColor(0, 0, 0, 60)));
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    xAxis->setLabel(tr("threshold amax (tensor units)"));
    yAxis->setLabel(tr("objective"));
}

void ObjectiveCurvePlot::clearCurve()
{
    m_curve = {};
    m_graph->data()->clear();
    m_minimum->data()->clear();
    m_choiceLine->setVisible(false);
    replot();
}

void ObjectiveCurvePlot::setCurve(const qs::ObjectiveCurve& curve, double choice)
{
    m_curve = curve;
    QVector<double> keys;
    QVector<double> values;
    bool allPositive = true;
    double lo = INFINITY;
    double hi = -INFINITY;
    for (std::size_t i = 0; i < curve.threshold.size() && i < curve.value.size(); ++i) {
        if (!std::isfinite(curve.value[i]) || !std::isfinite(curve.threshold[i]))
            continue;
        keys.push_back(curve.threshold[i]);
        values.push_back(curve.value[i]);
        allPositive = allPositive && curve.value[i] > 0;
        lo = std::min(lo, curve.value[i]);
        hi = std::max(hi, curve.value[i]);
    }
    m_graph->setData(keys, values, true);
    m_minimum->data()->clear();
    if (curve.best < curve.value.size() && std::isfinite(curve.value[curve.best]))
        m_minimum->addData(curve.threshold[curve.best], curve.value[curve.best]);

    // Objectives span decades near the optimum and far from it: a log axis shows both.
    const bool logScale = allPositive && !values.isEmpty() && hi / lo > 100;
    yAxis->setScaleType(logScale ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (logScale)
        yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    else
        yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
    yAxis->setLabel(QString::fromStdString(curve.objective));
    m_graph->setName(QString::fromStdString(curve.objective));
    rescaleAxes();
    if (!keys.isEmpty()) {
        const double span = std::max(keys.back() - keys.front(), std::abs(keys.back()) * 1e-3);
        xAxis->setRange(keys.front() - 0.02 * span, std::max(keys.back(), choice) + 0.02 * span);
        if (logScale)
            yAxis->setRange(lo / 1.5, hi * 1.5);
        else {
            const double pad = std::max((hi - lo) * 0.06, std::abs(hi) * 1e-6 + 1e-30);
            yAxis->setRange(lo - pad, hi + pad);
        }
    }
    rememberHomeView();
    setChoice(choice);
}

void ObjectiveCurvePlot::setChoice(double amax)
{
    m_choice = amax;
    placeChoiceLine();
    replot();
}

void ObjectiveCurvePlot::placeChoiceLine()
{
    m_choiceLine->point1->setCoords(m_choice, 0);
    m_choiceLine->point2->setCoords(m_choice, 1);
    m_choiceLine->setVisible(m_graph->dataCount() > 0);
}

QPointF ObjectiveCurvePlot::markedMinimum() const
{
    if (m_minimum->dataCount() == 0)
        return {};
    const auto point = m_minimum->data()->constBegin();
    return {point->key, point->value};
}

int ObjectiveCurvePlot::pointCount() const
{
    return m_graph->dataCount();
}

bool ObjectiveCurvePlot::nearChoice(const QPoint& position) const
{
    return m_choiceLine->visible() && axisRect()->rect().contains(position)
        && std::abs(xAxis->coordToPixel(m_choice) - position.x()) <= kGrabDistance;
}

void ObjectiveCurvePlot::mousePressEvent(QMouseEvent* event)
{
    if (event->button() == Qt::LeftButton && nearChoice(event->pos())) {
        m_dragging = true;
        event->accept();
        return;
    }
    PlotCanvas::mousePressEvent(event);
}

void ObjectiveCurvePlot::mouseMoveEvent(QMouseEvent* event)
{
    if (m_dragging) {
        const double amax = std::max(0.0, xAxis->pixelToCoord(event->pos().x()));
        setChoice(amax);
        emit choiceDragged(amax);
        emit hoverTextChanged(tr("threshold %1").arg(formatValue(amax)));
        return;
    }
    setCursor(nearChoice(event->pos()) ? Qt::SizeHorCursor : Qt::ArrowCursor);
    PlotCanvas::mouseMoveEvent(event);
}

void ObjectiveCurvePlot::mouseReleaseEvent(QMouseEvent* event)
{
    if (m_dragging) {
        m_dragging = false;
        event->accept();
        return;
    }
    PlotCanvas::mouseReleaseEvent(event);
}

QString ObjectiveCurvePlot::hoverText(double key, double) const
{
    if (m_curve.threshold.empty())
        return {};
    const auto it = std::lower_bound(m_curve.threshold.begin(), m_curve.threshold.end(), key);
    std::size_t i = static_cast<std::size_t>(it - m_curve.threshold.begin());
    if (i == m_curve.threshold.size()
        || (i > 0 && key - m_curve.threshold[i - 1] < m_curve.threshold[i] - key))
        i = i > 0 ? i - 1 : 0;
    if (i >= m_curve.value.size())
        return {};
    return tr("threshold %1: %2 %3%4")
        .arg(formatValue(m_curve.threshold[i]), QString::fromStdString(m_curve.objective),
            formatValue(m_curve.value[i]), i == m_curve.best ? tr(" (minimum)") : QString());
}

} // namespace qs::gui
