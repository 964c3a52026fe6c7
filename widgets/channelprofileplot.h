#pragma once

#include "plotcanvas.h"
#include "tensor/stats.h"

#include <cstdint>
#include <vector>

namespace qs::gui {

/// Per-channel absmax as bars, with the top outlier channels (those above the median) in a second colour
/// and the selected channel marked. A click on a bar selects that channel.
class ChannelProfilePlot : public PlotCanvas {
    Q_OBJECT

public:
    explicit ChannelProfilePlot(QWidget* parent = nullptr);

    void setProfile(const qs::ChannelStats& channels, const std::vector<qs::OutlierChannel>& outliers);
    void clearProfile();
    void setSelectedChannel(std::int64_t channel);
    std::int64_t selectedChannel() const { return m_selected; }

    /// Channels drawn (as bars, or as impulses when there are many).
    int channelCount() const;
    int outlierBarCount() const;

signals:
    void channelClicked(std::int64_t channel);

protected:
    QString hoverText(double key, double value) const override;

private:
    std::int64_t channelAt(double key) const;

    QCPBars* m_bars;
    QCPGraph* m_impulses; ///< used instead of m_bars for many channels: QCustomPlot samples it per pixel
    QCPBars* m_outlierBars;
    QCPBars* m_selectedBar;
    qs::ChannelStats m_channels;
    std::vector<qs::OutlierChannel> m_outliers;
    std::int64_t m_selected = -1;
};

} // namespace qs::gui
