#pragma once

#include "session.h"

#include <QWidget>
#include <cstdint>

class QAction;
class QLabel;
class QPushButton;
class QSpinBox;
class QSplitter;
class QStackedWidget;

namespace qs::gui {

class ChannelProfilePlot;
class HeatMapPlot;
class HistogramPlot;
class PlotPanel;

/// The Distribution tab: the value histogram, the per-channel absmax profile, the histogram of one
/// channel and the |x| heat map of the selected tensor, with the controls that change them.
class DistributionView : public QWidget {
    Q_OBJECT

public:
    explicit DistributionView(QWidget* parent = nullptr);

    AnalysisPtr analysis() const { return m_analysis; }
    bool isShowingAnalysis() const;
    /// The text of the page shown instead of the plots (welcome, error, cancelled), empty otherwise.
    QString messageText() const;

    HistogramPlot* histogramPlot() const { return m_histogram; }
    /// x̂ − x of the current quantization.
    HistogramPlot* errorHistogramPlot() const { return m_errorHistogram; }
    PlotPanel* errorHistogramPanel() const { return m_errorHistogramPanel; }
    /// One line on the scheme and its error ("int8 sym tensor · minmax: SQNR …"), empty before one.
    QString quantizationText() const;
    QuantizationPtr quantization() const { return m_quantization; }
    ChannelProfilePlot* channelProfilePlot() const { return m_profile; }
    HistogramPlot* channelHistogramPlot() const { return m_channelHistogram; }
    HeatMapPlot* heatMapPlot() const { return m_heatMap; }
    PlotPanel* channelProfilePanel() const { return m_profilePanel; }
    PlotPanel* channelHistogramPanel() const { return m_channelHistogramPanel; }
    PlotPanel* heatMapPanel() const { return m_heatMapPanel; }
    PlotPanel* histogramPanel() const { return m_histogramPanel; }

    QAction* logScaleAction() const { return m_logScale; }
    QAction* magnitudeAction() const { return m_magnitude; }
    QAction* logColoursAction() const { return m_logColours; }
    QAction* resetViewAction() const { return m_resetView; }
    QSpinBox* axisSpinBox() const { return m_axis; }

public slots:
    void showAnalysis(const qs::gui::AnalysisPtr& analysis);
    void showChannelHistogram(const qs::gui::ChannelHistogramPtr& histogram);
    /// Draws the clip ranges, the grid and the error histogram of `quantization` (ignored unless it
    /// belongs to the shown analysis).
    void showQuantization(const qs::gui::QuantizationPtr& quantization);
    /// The quantization of the shown tensor is being recomputed, or failed (`message` non-empty).
    void showQuantizationPending(const QString& message = {});
    /// Asks for the histogram of `channel` of the shown tensor.
    void selectChannel(std::int64_t channel);
    void showWelcome();
    /// Replaces the plots by a sentence (a failed or cancelled analysis).
    void showMessage(const QString& message);
    void resetViews();

signals:
    void channelAxisRequested(int axis);
    void channelRequested(std::int64_t channel);
    /// A channel histogram is now shown.
    void channelShown(std::int64_t channel);
    void hoverTextChanged(const QString& text);
    void openRequested();
    /// Emitted once the plots of a new analysis are drawn.
    void analysisShown(const qs::gui::AnalysisPtr& analysis);

private:
    QWidget* createToolBar();
    QWidget* createMessagePage();
    QWidget* createPlots();
    void updateHeader();
    void updateHistogram();
    void updateChannelPlots();
    void updateHeatMap();
    void updateOverlay();

    AnalysisPtr m_analysis;
    QuantizationPtr m_quantization;
    std::int64_t m_shownChannel = -1;

    QAction* m_logScale;
    QAction* m_magnitude;
    QAction* m_logColours;
    QAction* m_resetView;
    QSpinBox* m_axis;
    QLabel* m_header;
    QLabel* m_quantizationLabel;
    QStackedWidget* m_pages;
    QLabel* m_messageLabel;
    QPushButton* m_openButton;
    QWidget* m_plotsPage;

    HistogramPlot* m_histogram;
    HistogramPlot* m_errorHistogram;
    ChannelProfilePlot* m_profile;
    HistogramPlot* m_channelHistogram;
    HeatMapPlot* m_heatMap;
    PlotPanel* m_histogramPanel;
    PlotPanel* m_errorHistogramPanel;
    PlotPanel* m_profilePanel;
    PlotPanel* m_channelHistogramPanel;
    PlotPanel* m_heatMapPanel;
};

} // namespace qs::gui
