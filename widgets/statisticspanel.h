#pragma once

#include "session.h"

#include <QWidget>
#include <cstdint>

class QLabel;
class QTableView;

namespace qs::gui {

class OutlierChannelModel;
class SummaryStatsModel;

/// The numbers behind the plots: summary statistics of the selected tensor and its top outlier channels.
class StatisticsPanel : public QWidget {
    Q_OBJECT

public:
    explicit StatisticsPanel(QWidget* parent = nullptr);

    SummaryStatsModel* statsModel() const { return m_statsModel; }
    OutlierChannelModel* outlierModel() const { return m_outlierModel; }
    QTableView* statsView() const { return m_statsView; }
    QTableView* outlierView() const { return m_outlierView; }

public slots:
    void showAnalysis(const qs::gui::AnalysisPtr& analysis);
    void clear();
    /// Highlights `channel` in the outlier list when it is there.
    void setSelectedChannel(std::int64_t channel);

signals:
    void channelActivated(std::int64_t channel);

private:
    QLabel* m_tensorLabel;
    QLabel* m_outlierLabel;
    SummaryStatsModel* m_statsModel;
    OutlierChannelModel* m_outlierModel;
    QTableView* m_statsView;
    QTableView* m_outlierView;
    bool m_syncing = false;
};

} // namespace qs::gui
