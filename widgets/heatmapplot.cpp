#include "heatmapplot.h"

#include "formatting.h"

#include <algorithm>
#include <cmath>

namespace qs::gui {

namespace {

/// Viridis (matplotlib's default): perceptually uniform and readable by colour-blind viewers.
QCPColorGradient viridis()
{
    QCPColorGradient gradient;
    gradient.clearColorStops();
    gradient.setColorStopAt(0.00, QColor(68, 1, 84));
    gradient.setColorStopAt(0.25, QColor(59, 82, 139));
    gradient.setColorStopAt(0.50, QColor(33, 145, 140));
    gradient.setColorStopAt(0.75, QColor(94, 201, 98));
    gradient.setColorStopAt(1.00, QColor(253, 231, 37));
    gradient.setColorInterpolation(QCPColorGradient::ciRGB);
    gradient.setLevelCount(256);
    return gradient;
}

/// The smallest magnitude the log scale shows; six decades below the peak keep the scale readable.
constexpr double kLogDecades = 6.0;

} // namespace

HeatMapPlot::HeatMapPlot(QWidget* parent)
    : PlotCanvas(parent)
    , m_colorMap(new QCPColorMap(xAxis, yAxis))
    , m_scale(new QCPColorScale(this))
{
    plotLayout()->addElement(1, 1, m_scale);
    m_scale->setType(QCPAxis::atRight);
    m_scale->setBarWidth(12);
    m_scale->axis()->setLabel(tr("absmax"));
    m_scale->axis()->setLabelFont(font());
    m_scale->axis()->setTickLabelFont(font());
    m_colorMap->setColorScale(m_scale);
    m_colorMap->setGradient(viridis());
    m_colorMap->setInterpolate(false);
    m_colorMap->setTightBoundary(false);

    // The colour scale's height follows the plot area's.
    auto* margins = new QCPMarginGroup(this);
    axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    m_scale->setMarginGroup(QCP::msBottom | QCP::msTop, margins);

    xAxis->setLabel(tr("column (axis 1)"));
    yAxis->setLabel(tr("row (axis 0)"));
    yAxis->setRangeReversed(true);
    xAxis->ticker()->setTickCount(4);
    yAxis->ticker()->setTickCount(6);
}

void HeatMapPlot::clearHeatMap()
{
    m_map = {};
    m_colorMap->data()->clear();
    replot();
}

void HeatMapPlot::setHeatMap(const HeatMap& map)
{
    m_map = map;
    const double halfRow = (static_cast<double>(map.rowsPerCell) - 1) / 2.0;
    const double halfCol = (static_cast<double>(map.colsPerCell) - 1) / 2.0;
    m_colorMap->data()->setSize(map.cols, map.rows);
    m_colorMap->data()->setRange(
        QCPRange(halfCol, static_cast<double>(map.cols - 1) * static_cast<double>(map.colsPerCell) + halfCol),
        QCPRange(
            halfRow, static_cast<double>(map.rows - 1) * static_cast<double>(map.rowsPerCell) + halfRow));
    fillCells();

    xAxis->setRange(-0.5, static_cast<double>(map.sourceCols) - 0.5);
    yAxis->setRange(-0.5, static_cast<double>(map.sourceRows) - 0.5);
    rememberHomeView();
    replot();
}

double HeatMapPlot::floorForLog() const
{
    const double peak = m_map.maxValue;
    if (peak <= 0)
        return 1.0;
    return std::max<double>(m_map.minPositive, peak * std::pow(10.0, -kLogDecades));
}

void HeatMapPlot::fillCells()
{
    QCPColorMapData* data = m_colorMap->data();
    const double floor = floorForLog();
    for (int r = 0; r < m_map.rows; ++r) {
        for (int c = 0; c < m_map.cols; ++c) {
            const double value = m_map.at(r, c);
            data->setCell(c, r, m_log ? std::log10(std::max(value, floor)) : value);
        }
    }
    if (m_log) {
        const double top = std::log10(std::max<double>(m_map.maxValue, floor));
        const double bottom = std::log10(floor);
        m_scale->setDataRange(QCPRange(bottom, top > bottom ? top : bottom + 1));
        m_scale->axis()->setLabel(tr("log\u2081\u2080 absmax"));
    } else {
        m_scale->setDataRange(QCPRange(0, m_map.maxValue > 0 ? m_map.maxValue : 1.0));
        m_scale->axis()->setLabel(tr("absmax"));
    }
}

void HeatMapPlot::setLogColours(bool logarithmic)
{
    if (m_log == logarithmic)
        return;
    m_log = logarithmic;
    fillCells();
    replot();
}

QString HeatMapPlot::hoverText(double key, double value) const
{
    if (m_map.cells.empty())
        return {};
    const double row = std::round(value);
    const double col = std::round(key);
    if (row < 0 || col < 0 || row >= static_cast<double>(m_map.sourceRows)
        || col >= static_cast<double>(m_map.sourceCols))
        return {};
    const auto r = static_cast<std::int64_t>(row);
    const auto c = static_cast<std::int64_t>(col);
    const int cellRow = static_cast<int>(r / m_map.rowsPerCell);
    const int cellCol = static_cast<int>(c / m_map.colsPerCell);
    const QString magnitude = formatValue(m_map.at(cellRow, cellCol));
    if (m_map.rowsPerCell == 1 && m_map.colsPerCell == 1)
        return tr("row %1, column %2: |x| = %3").arg(r).arg(c).arg(magnitude);
    const std::int64_t rowBegin = cellRow * m_map.rowsPerCell;
    const std::int64_t colBegin = cellCol * m_map.colsPerCell;
    const std::int64_t rowEnd = std::min(rowBegin + m_map.rowsPerCell, m_map.sourceRows) - 1;
    const std::int64_t colEnd = std::min(colBegin + m_map.colsPerCell, m_map.sourceCols) - 1;
    return tr("rows %1\u2013%2, columns %3\u2013%4: max |x| = %5")
        .arg(rowBegin)
        .arg(rowEnd)
        .arg(colBegin)
        .arg(colEnd)
        .arg(magnitude);
}

} // namespace qs::gui
