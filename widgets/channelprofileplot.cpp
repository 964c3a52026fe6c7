#include "channelprofileplot.h"

#include "formatting.h"

#include <algorithm>
#include <cmath>

namespace qs::gui {

namespace {

/// Above this many channels one rectangle per channel makes panning sluggish.
constexpr std::size_t kMaxBars = 2048;

const QColor kChannelColor(95, 140, 190);

QCPBars* makeBars(QCustomPlot* plot, const QColor& color)
{
    auto* bars = new QCPBars(plot->xAxis, plot->yAxis);
    bars->setWidth(1.0);
    // A pen in the fill colour keeps bars visible when there are more channels than pixels.
    bars->setPen(QPen(color, 1));
    bars->setBrush(color);
    bars->setSelectable(QCP::stNone);
    return bars;
}

} // namespace

ChannelProfilePlot::ChannelProfilePlot(QWidget* parent)
    : PlotCanvas(parent)
    , m_bars(makeBars(this, kChannelColor))
    , m_impulses(addGraph())
    , m_outlierBars(makeBars(this, QColor(214, 39, 40)))
    , m_selectedBar(makeBars(this, QColor(255, 150, 0)))
{
    m_impulses->setLineStyle(QCPGraph::lsImpulse);
    m_impulses->setPen(QPen(kChannelColor, 1));
    m_impulses->setSelectable(QCP::stNone);
    m_impulses->setName(tr("channel absmax"));
    m_impulses->removeFromLegend();
    m_bars->setName(tr("channel absmax"));
    m_outlierBars->setName(tr("top outliers"));
    m_selectedBar->setName(tr("shown channel"));
    legend->setVisible(true);
    legend->setBrush(QColor(255, 255, 255, 210));
    legend->setBorderPen(QPen(QColor(0, 0, 0, 60)));
    legend->setIconSize(14, 10);
    QFont legendFont = font();
    legendFont.setPointSizeF(legendFont.pointSizeF() * 0.9);
    legend->setFont(legendFont);
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);

    xAxis->setLabel(tr("channel"));
    yAxis->setLabel(tr("absmax"));
    axisRect()->setRangeZoom(Qt::Horizontal);
    axisRect()->setRangeDrag(Qt::Horizontal);
    connect(this, &PlotCanvas::clicked, this, [this](double key, double) {
        const std::int64_t channel = channelAt(key);
        if (channel >= 0)
            emit channelClicked(channel);
    });
}

void ChannelProfilePlot::clearProfile()
{
    m_channels = {};
    m_outliers.clear();
    m_selected = -1;
    m_bars->data()->clear();
    m_impulses->data()->clear();
    m_outlierBars->data()->clear();
    m_selectedBar->data()->clear();
    replot();
}

void ChannelProfilePlot::setProfile(
    const qs::ChannelStats& channels, const std::vector<qs::OutlierChannel>& outliers)
{
    m_channels = channels;
    m_outliers = outliers;
    m_selected = -1;
    m_selectedBar->data()->clear();

    const std::size_t count = channels.channelCount();
    QVector<double> keys(static_cast<qsizetype>(count));
    QVector<double> values(static_cast<qsizetype>(count));
    double peak = 0;
    for (std::size_t c = 0; c < count; ++c) {
        keys[static_cast<qsizetype>(c)] = static_cast<double>(c);
        values[static_cast<qsizetype>(c)] = channels.absmax[c];
        peak = std::max(peak, channels.absmax[c]);
    }
    // Members are created in draw order: channels, then outliers, then the selection on top.
    const bool many = count > kMaxBars;
    m_bars->data()->clear();
    m_impulses->data()->clear();
    if (many) {
        m_impulses->setData(keys, values, true);
        m_impulses->addToLegend();
        m_bars->removeFromLegend();
    } else {
        m_bars->setData(keys, values, true);
        m_bars->addToLegend();
        m_impulses->removeFromLegend();
    }
    for (QCPBars* marked : {m_outlierBars, m_selectedBar}) {
        marked->removeFromLegend();
        marked->addToLegend();
    }

    QVector<double> outlierKeys;
    QVector<double> outlierValues;
    for (const qs::OutlierChannel& outlier : outliers) {
        // When every channel is alike (ratio 1), the "top" ones are no outliers and stay uncoloured.
        if (outlier.ratio > 1.0) {
            outlierKeys.push_back(static_cast<double>(outlier.channel));
            outlierValues.push_back(outlier.absmax);
        }
    }
    m_outlierBars->setData(outlierKeys, outlierValues);
    const double width = count <= 128 ? 0.8 : 1.0;
    for (QCPBars* bars : {m_bars, m_outlierBars, m_selectedBar})
        bars->setWidth(width);

    xAxis->setLabel(tr("channel (axis %1)").arg(channels.axis));
    xAxis->setRange(-0.5, std::max<double>(1.0, static_cast<double>(count)) - 0.5);
    yAxis->setRange(0, peak > 0 ? peak * 1.08 : 1.0);
    rememberHomeView();
    replot();
}

void ChannelProfilePlot::setSelectedChannel(std::int64_t channel)
{
    m_selected = channel;
    m_selectedBar->data()->clear();
    if (channel >= 0 && channel < static_cast<std::int64_t>(m_channels.channelCount()))
        m_selectedBar->addData(
            static_cast<double>(channel), m_channels.absmax[static_cast<std::size_t>(channel)]);
    replot();
}

int ChannelProfilePlot::channelCount() const
{
    return m_bars->dataCount() + m_impulses->dataCount();
}

int ChannelProfilePlot::outlierBarCount() const
{
    return m_outlierBars->dataCount();
}

std::int64_t ChannelProfilePlot::channelAt(double key) const
{
    const double rounded = std::round(key);
    if (rounded < 0 || rounded >= static_cast<double>(m_channels.channelCount()))
        return -1;
    return static_cast<std::int64_t>(rounded);
}

QString ChannelProfilePlot::hoverText(double key, double) const
{
    const std::int64_t channel = channelAt(key);
    if (channel < 0)
        return {};
    const auto c = static_cast<std::size_t>(channel);
    QString text = tr("channel %1: absmax %2, min %3, max %4, mean %5, std %6")
                       .arg(channel)
                       .arg(formatValue(m_channels.absmax[c]), formatValue(m_channels.min[c]),
                           formatValue(m_channels.max[c]), formatValue(m_channels.mean[c]),
                           formatValue(m_channels.std[c]));
    const auto outlier = std::find_if(m_outliers.begin(), m_outliers.end(),
        [&](const qs::OutlierChannel& o) { return o.channel == channel; });
    if (outlier != m_outliers.end())
        text += tr(" \u2014 %1\u00d7 the median channel").arg(formatValue(outlier->ratio));
    return text;
}

} // namespace qs::gui
