#include "distributionview.h"

#include "channelprofileplot.h"
#include "formatting.h"
#include "heatmapplot.h"
#include "histogramplot.h"
#include "plotpanel.h"
#include "quantizationanalysis.h"
#include "tensoranalysis.h"

#include <QAction>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QSplitter>
#include <QStackedWidget>
#include <QStyle>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>

namespace qs::gui {

namespace {

QString rankWord(std::size_t rank)
{
    // A non-breaking hyphen keeps "3-D" on one line when the message wraps.
    return rank == 0 ? QObject::tr("a scalar") : QObject::tr("%1\u2011D").arg(rank);
}

} // namespace

DistributionView::DistributionView(QWidget* parent)
    : QWidget(parent)
    , m_logScale(new QAction(tr("Log Count"), this))
    , m_magnitude(new QAction(tr("|x|"), this))
    , m_logColours(new QAction(tr("Log Colours"), this))
    , m_resetView(new QAction(tr("Reset View"), this))
    , m_axis(new QSpinBox(this))
    , m_header(new QLabel(this))
    , m_quantizationLabel(new QLabel(this))
    , m_pages(new QStackedWidget(this))
    , m_messageLabel(nullptr)
    , m_openButton(nullptr)
    , m_plotsPage(nullptr)
    , m_histogram(new HistogramPlot(this))
    , m_errorHistogram(new HistogramPlot(this))
    , m_profile(new ChannelProfilePlot(this))
    , m_channelHistogram(new HistogramPlot(this))
    , m_heatMap(new HeatMapPlot(this))
    , m_histogramPanel(new PlotPanel(m_histogram, this))
    , m_errorHistogramPanel(new PlotPanel(m_errorHistogram, this))
    , m_profilePanel(new PlotPanel(m_profile, this))
    , m_channelHistogramPanel(new PlotPanel(m_channelHistogram, this))
    , m_heatMapPanel(new PlotPanel(m_heatMap, this))
{
    m_histogram->setObjectName(QStringLiteral("histogramPlot"));
    m_profile->setObjectName(QStringLiteral("channelProfilePlot"));
    m_channelHistogram->setObjectName(QStringLiteral("channelHistogramPlot"));
    m_heatMap->setObjectName(QStringLiteral("heatMapPlot"));
    m_channelHistogram->setColor(QColor(230, 120, 20));
    m_errorHistogram->setObjectName(QStringLiteral("errorHistogramPlot"));
    m_errorHistogram->setColor(QColor(200, 40, 40));
    // Errors are small numbers with long tick labels: fewer ticks keep them apart on a narrow plot.
    m_errorHistogram->xAxis->ticker()->setTickCount(4);
    m_errorHistogram->xAxis->setLabel(tr("x\u0302 \u2212 x (tensor units)"));
    m_errorHistogramPanel->showMessage(tr("The quantization error appears here."));
    m_quantizationLabel->setObjectName(QStringLiteral("quantizationHeader"));
    m_quantizationLabel->setTextFormat(Qt::RichText);
    m_quantizationLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_quantizationLabel->setContentsMargins(6, 0, 6, 2);
    m_quantizationLabel->setWordWrap(true);

    m_header->setObjectName(QStringLiteral("analysisHeader"));
    m_header->setTextFormat(Qt::RichText);
    m_header->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_header->setContentsMargins(6, 2, 6, 2);

    m_pages->addWidget(createMessagePage());
    m_plotsPage = createPlots();
    m_pages->addWidget(m_plotsPage);

    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addWidget(createToolBar());
    layout->addWidget(m_header);
    layout->addWidget(m_quantizationLabel);
    layout->addWidget(m_pages, 1);

    for (PlotCanvas* plot : {static_cast<PlotCanvas*>(m_histogram), static_cast<PlotCanvas*>(m_profile),
             static_cast<PlotCanvas*>(m_channelHistogram), static_cast<PlotCanvas*>(m_heatMap),
             static_cast<PlotCanvas*>(m_errorHistogram)})
        connect(plot, &PlotCanvas::hoverTextChanged, this, &DistributionView::hoverTextChanged);
    connect(m_profile, &ChannelProfilePlot::channelClicked, this, &DistributionView::selectChannel);

    m_logScale->setChecked(true);
    m_histogram->setLogScale(true);
    m_channelHistogram->setLogScale(true);
    m_errorHistogram->setLogScale(true);
    showWelcome();
}

QWidget* DistributionView::createToolBar()
{
    auto* bar = new QToolBar(this);
    bar->setObjectName(QStringLiteral("distributionToolBar"));
    bar->setToolButtonStyle(Qt::ToolButtonTextOnly);

    m_logScale->setCheckable(true);
    m_logScale->setToolTip(tr("Logarithmic count axis for the histograms: shows the tails"));
    connect(m_logScale, &QAction::toggled, this, [this](bool on) {
        m_histogram->setLogScale(on);
        m_channelHistogram->setLogScale(on);
        m_errorHistogram->setLogScale(on);
    });

    m_magnitude->setCheckable(true);
    m_magnitude->setToolTip(tr("Histogram of the magnitude |x| instead of the signed value x"));
    connect(m_magnitude, &QAction::toggled, this, [this] { updateHistogram(); });

    m_logColours->setCheckable(true);
    m_logColours->setToolTip(tr("Logarithmic colour scale for the heat map (six decades below the peak)"));
    connect(m_logColours, &QAction::toggled, m_heatMap, &HeatMapPlot::setLogColours);

    m_resetView->setIcon(style()->standardIcon(QStyle::SP_BrowserReload));
    m_resetView->setToolTip(tr("Show every plot's full data range again"));
    connect(m_resetView, &QAction::triggered, this, &DistributionView::resetViews);

    m_axis->setObjectName(QStringLiteral("channelAxis"));
    m_axis->setRange(0, 0);
    m_axis->setToolTip(tr("The axis whose index is the channel (PyTorch Linear.weight [out, in]: axis 0 = "
                          "output channels)"));
    connect(m_axis, &QSpinBox::valueChanged, this, &DistributionView::channelAxisRequested);

    bar->addAction(m_logScale);
    bar->addAction(m_magnitude);
    bar->addSeparator();
    auto* axisLabel = new QLabel(tr("Channel axis "), bar);
    axisLabel->setBuddy(m_axis);
    bar->addWidget(axisLabel);
    bar->addWidget(m_axis);
    bar->addSeparator();
    bar->addAction(m_logColours);
    bar->addSeparator();
    bar->addAction(m_resetView);

    auto* exportMenu = new QMenu(tr("Export Plot"), this);
    const auto addExport = [this, exportMenu](const QString& label, PlotCanvas* plot, const QString& name) {
        plot->setExportName(name);
        exportMenu->addAction(label, plot, &PlotCanvas::exportInteractively);
    };
    addExport(tr("Histogram\u2026"), m_histogram, QStringLiteral("histogram"));
    addExport(tr("Channel Profile\u2026"), m_profile, QStringLiteral("channel-profile"));
    addExport(tr("Channel Histogram\u2026"), m_channelHistogram, QStringLiteral("channel-histogram"));
    addExport(tr("Heat Map\u2026"), m_heatMap, QStringLiteral("heat-map"));
    addExport(tr("Quantization Error\u2026"), m_errorHistogram, QStringLiteral("quantization-error"));
    auto* exportButton = new QToolButton(bar);
    exportButton->setText(tr("Export Plot"));
    exportButton->setToolTip(tr("Save a plot as PNG, SVG or PDF (also in each plot's context menu)"));
    exportButton->setMenu(exportMenu);
    exportButton->setPopupMode(QToolButton::InstantPopup);
    bar->addWidget(exportButton);
    return bar;
}

QWidget* DistributionView::createMessagePage()
{
    auto* page = new QWidget(this);
    m_messageLabel = new QLabel(page);
    m_messageLabel->setObjectName(QStringLiteral("distributionMessage"));
    m_messageLabel->setAlignment(Qt::AlignCenter);
    m_messageLabel->setWordWrap(true);
    m_messageLabel->setTextFormat(Qt::RichText);
    // A centred word-wrapped label would otherwise shrink to its narrowest wrap.
    m_messageLabel->setFixedWidth(560);
    m_openButton = new QPushButton(tr("Open File\u2026"), page);
    connect(m_openButton, &QPushButton::clicked, this, &DistributionView::openRequested);

    auto* layout = new QVBoxLayout(page);
    layout->addStretch(1);
    layout->addWidget(m_messageLabel, 0, Qt::AlignHCenter);
    layout->addSpacing(12);
    layout->addWidget(m_openButton, 0, Qt::AlignHCenter);
    layout->addStretch(2);
    return page;
}

QWidget* DistributionView::createPlots()
{
    // The value histogram and the quantization error side by side (they answer one question), the
    // per-channel views and the heat map below.
    auto* top = new QSplitter(Qt::Horizontal);
    top->addWidget(m_histogramPanel);
    top->addWidget(m_errorHistogramPanel);
    top->setStretchFactor(0, 3);
    top->setStretchFactor(1, 2);

    auto* bottom = new QSplitter(Qt::Horizontal);
    bottom->addWidget(m_profilePanel);
    bottom->addWidget(m_channelHistogramPanel);
    bottom->addWidget(m_heatMapPanel);
    bottom->setStretchFactor(0, 1);
    bottom->setStretchFactor(1, 1);
    bottom->setStretchFactor(2, 1);

    auto* rows = new QSplitter(Qt::Vertical, this);
    rows->setObjectName(QStringLiteral("distributionSplitter"));
    rows->addWidget(top);
    rows->addWidget(bottom);
    rows->setChildrenCollapsible(false);
    return rows;
}

bool DistributionView::isShowingAnalysis() const
{
    return m_pages->currentWidget() == m_plotsPage && m_analysis;
}

QString DistributionView::messageText() const
{
    return m_pages->currentWidget() == m_plotsPage ? QString() : m_messageLabel->text();
}

void DistributionView::showWelcome()
{
    m_analysis.reset();
    m_quantization.reset();
    m_quantizationLabel->clear();
    m_quantizationLabel->hide();
    m_header->clear();
    m_header->hide();
    m_axis->setEnabled(false);
    m_messageLabel->setText(tr(
        "<h2>Open a tensor file</h2><p>Use <b>File \u203a Open\u2026</b> (Ctrl+O) or drop a file on this "
        "window: "
        "safetensors checkpoints (also sharded, via <i>model.safetensors.index.json</i>), NumPy .npy and "
        ".npz, HDF5.</p><p>Pick a tensor in the tree to see its histogram, summary statistics, "
        "per-channel absmax profile with the outlier channels, and for matrices a magnitude heat map.</p>"));
    m_openButton->show();
    m_pages->setCurrentIndex(0);
}

void DistributionView::showMessage(const QString& message)
{
    m_analysis.reset();
    m_quantization.reset();
    m_quantizationLabel->hide();
    m_header->hide();
    m_axis->setEnabled(false);
    m_messageLabel->setText(QStringLiteral("<p>%1</p>").arg(message.toHtmlEscaped()));
    m_openButton->hide();
    m_pages->setCurrentIndex(0);
}

void DistributionView::showAnalysis(const AnalysisPtr& analysis)
{
    if (!analysis) {
        showWelcome();
        return;
    }
    if (!m_analysis || m_analysis->id != analysis->id) {
        m_quantization.reset();
        m_errorHistogram->clearHistogram();
        m_errorHistogramPanel->showMessage(tr("Quantizing\u2026"));
        m_quantizationLabel->hide();
    }
    m_analysis = analysis;
    m_shownChannel = -1;
    updateHeader();
    {
        const QSignalBlocker blocker(m_axis);
        const int rank = static_cast<int>(analysis->rank());
        m_axis->setRange(0, std::max(0, rank - 1));
        m_axis->setValue(analysis->channels ? analysis->channels->axis : 0);
        m_axis->setEnabled(rank > 1);
    }
    updateHistogram();
    updateChannelPlots();
    updateHeatMap();
    m_pages->setCurrentWidget(m_plotsPage);
    emit analysisShown(analysis);
}

void DistributionView::updateHeader()
{
    const TensorAnalysis& a = *m_analysis;
    const QString name = QString::fromStdString(a.info.name).toHtmlEscaped();
    const QString file = QFileInfo(QString::fromStdString(a.filePath)).fileName().toHtmlEscaped();
    m_header->setText(
        tr("<b>%1</b> &nbsp;\u00b7&nbsp; %2 %3 &nbsp;\u00b7&nbsp; %4 elements &nbsp;\u00b7&nbsp; %5 "
           "&nbsp;\u00b7&nbsp; %6")
            .arg(name, dtypeLabel(a.info), formatShape(a.info.shape), formatCount(a.stats.count),
                formatBytes(a.info.byteSize), file));
    m_header->show();
}

void DistributionView::updateHistogram()
{
    if (!m_analysis)
        return;
    const TensorAnalysis& a = *m_analysis;
    if (a.stats.finiteCount == 0) {
        m_histogram->clearHistogram();
        m_histogramPanel->showMessage(a.stats.count == 0
                ? tr("This tensor has no elements (shape %1).").arg(formatShape(a.info.shape))
                : tr("This tensor has no finite values: %1 NaN, %2 Inf.")
                      .arg(formatCount(a.stats.nanCount), formatCount(a.stats.infCount)));
        return;
    }
    const bool magnitude = m_magnitude->isChecked();
    const qs::Histogram& histogram = magnitude ? a.absHistogram : a.histogram;
    m_histogram->setHistogram(
        histogram, magnitude ? std::nullopt : std::make_optional(std::pair(a.stats.mean, a.stats.std)));
    updateOverlay();
    m_histogram->xAxis->setLabel(magnitude ? tr("|value| (tensor units)") : tr("value (tensor units)"));
    m_histogram->setTitle(magnitude ? tr("Histogram of |x| (%1 bins)").arg(histogram.binCount())
                                    : tr("Histogram of x (%1 bins)").arg(histogram.binCount()));
    m_histogram->replot();
    m_histogramPanel->showPlot();
}

QString DistributionView::quantizationText() const
{
    return m_quantizationLabel->isVisible() || m_quantization ? m_quantizationLabel->text() : QString();
}

void DistributionView::showQuantizationPending(const QString& message)
{
    if (!m_analysis)
        return;
    if (message.isEmpty()) {
        if (!m_quantization) {
            m_errorHistogram->clearHistogram();
            m_errorHistogramPanel->showMessage(tr("Quantizing\u2026"));
        }
        return;
    }
    m_quantization.reset();
    m_histogram->clearOverlay();
    m_errorHistogram->clearHistogram();
    m_errorHistogramPanel->showMessage(message);
    m_quantizationLabel->setText(tr("<span style=\"color:#b00020\">%1</span>").arg(message.toHtmlEscaped()));
    m_quantizationLabel->show();
}

void DistributionView::showQuantization(const QuantizationPtr& quantization)
{
    if (!m_analysis || !quantization || quantization->analysisId != m_analysis->id)
        return;
    m_quantization = quantization;
    const QuantizationAnalysis& q = *quantization;
    const qs::ErrorReport& r = q.report;
    const QString name = QString::fromStdString(settingsName(q.settings)).toHtmlEscaped();
    m_quantizationLabel->setText(
        tr("<b>%1</b> &nbsp;\u00b7&nbsp; SQNR <b>%2 dB</b> &nbsp;\u00b7&nbsp; RMSE %3 &nbsp;\u00b7&nbsp; max "
           "|error| %4 &nbsp;\u00b7&nbsp; clipped %5 &nbsp;\u00b7&nbsp; %6 bits/value")
            .arg(name, formatValueShort(r.sqnrDb), formatValueShort(r.rmse), formatValueShort(r.maxAbsError),
                formatShare(r.clippedShare), QString::number(r.bitsPerValue, 'f', 3)));
    m_quantizationLabel->show();
    updateOverlay();

    if (q.report.count == 0) {
        m_errorHistogram->clearHistogram();
        m_errorHistogramPanel->showMessage(tr("There are no finite values to quantize."));
        return;
    }
    m_errorHistogram->setHistogram(q.errorHistogram);
    const QString counted = q.errorSampleStride > 1
        ? tr("%1 bins, every %2th value").arg(q.errorHistogram.binCount()).arg(q.errorSampleStride)
        : tr("%1 bins").arg(q.errorHistogram.binCount());
    m_errorHistogram->setTitle(tr("Quantization error (%1)\nRMSE %2 \u00b7 max |error| %3")
                                   .arg(counted, formatValueShort(r.rmse), formatValueShort(r.maxAbsError)));
    m_errorHistogram->replot();
    m_errorHistogramPanel->showPlot();
}

void DistributionView::updateOverlay()
{
    if (!m_quantization) {
        m_histogram->clearOverlay();
        return;
    }
    const QuantizationAnalysis& q = *m_quantization;
    QString gridLabel;
    if (!q.grid.empty()) {
        const QString format = QString::fromStdString(q.settings.scheme.format.name);
        gridLabel = q.referenceGroupLabel == "per tensor"
            ? tr("%1 grid (%2 levels)").arg(format).arg(q.grid.size())
            : tr("%1 grid, scale of %2").arg(format, QString::fromStdString(q.referenceGroupLabel));
    }
    m_histogram->setOverlay(q.clipRanges, q.grid, gridLabel);
}

void DistributionView::updateChannelPlots()
{
    const TensorAnalysis& a = *m_analysis;
    if (!a.channels) {
        m_profile->clearProfile();
        m_channelHistogram->clearHistogram();
        const QString why
            = tr("Per-channel statistics need a tensor with at least one axis; this one is a scalar.");
        m_profilePanel->showMessage(why);
        m_channelHistogramPanel->showMessage(why);
        return;
    }
    const qs::ChannelStats& channels = *a.channels;
    if (channels.channelCount() == 0) {
        m_profile->clearProfile();
        m_channelHistogram->clearHistogram();
        const QString why = tr("There are no channels along axis %1 of %2.")
                                .arg(channels.axis)
                                .arg(formatShape(a.info.shape));
        m_profilePanel->showMessage(why);
        m_channelHistogramPanel->showMessage(why);
        return;
    }
    m_profile->setProfile(channels, a.outliers);
    m_profile->setTitle(tr("Per-channel absmax\nalong axis %1 (%2 channels)")
                            .arg(channels.axis)
                            .arg(formatCount(static_cast<std::int64_t>(channels.channelCount()))));
    m_profilePanel->showPlot();

    if (a.focusChannel) {
        showChannelHistogram(std::make_shared<const ChannelHistogram>(*a.focusChannel));
    } else {
        m_channelHistogram->clearHistogram();
        m_channelHistogramPanel->showMessage(tr("Click a channel bar to see its histogram."));
    }
}

void DistributionView::updateHeatMap()
{
    const TensorAnalysis& a = *m_analysis;
    if (a.heatMap) {
        const HeatMap& map = *a.heatMap;
        m_heatMap->setHeatMap(map);
        const bool flattened = a.rank() > 2;
        const QString view
            = flattened ? tr(", as [%1, %2]").arg(map.sourceRows).arg(map.sourceCols) : QString();
        if (map.rowsPerCell > 1 || map.colsPerCell > 1)
            m_heatMap->setTitle(tr("|x| heat map%1, max over %2\u00d7%3 blocks")
                                    .arg(view)
                                    .arg(map.rowsPerCell)
                                    .arg(map.colsPerCell));
        else
            m_heatMap->setTitle(tr("|x| heat map%1").arg(view));
        m_heatMap->xAxis->setLabel(
            flattened ? tr("axes 1\u2013%1 flattened").arg(a.rank() - 1) : tr("column (axis 1)"));
        m_heatMap->replot();
        m_heatMapPanel->showPlot();
        return;
    }
    m_heatMap->clearHeatMap();
    if (a.rank() >= 2)
        m_heatMapPanel->showMessage(
            tr("The heat map needs elements; this tensor is %1.").arg(formatShape(a.info.shape)));
    else
        m_heatMapPanel->showMessage(
            tr("The heat map is shown for tensors of rank 2 and more; this one is %1 (%2).")
                .arg(formatShape(a.info.shape), rankWord(a.rank())));
}

void DistributionView::selectChannel(std::int64_t channel)
{
    if (!m_analysis || !m_analysis->channels || channel == m_shownChannel)
        return;
    m_profile->setSelectedChannel(channel);
    emit channelRequested(channel);
}

void DistributionView::showChannelHistogram(const ChannelHistogramPtr& histogram)
{
    if (!m_analysis || !histogram || histogram->analysisId != m_analysis->id)
        return;
    const ChannelHistogram& h = *histogram;
    m_shownChannel = h.channel;
    m_profile->setSelectedChannel(h.channel);
    if (h.stats.finiteCount == 0) {
        m_channelHistogram->clearHistogram();
        m_channelHistogramPanel->showMessage(
            tr("Channel %1 along axis %2 has no finite values.").arg(h.channel).arg(h.axis));
    } else {
        m_channelHistogram->setHistogram(h.histogram, std::pair(h.stats.mean, h.stats.std));
        m_channelHistogram->setTitle(
            tr("Channel %1 along axis %2\nabsmax %3 \u00b7 std %4 \u00b7 kurtosis %5")
                .arg(h.channel)
                .arg(h.axis)
                .arg(formatValueShort(h.stats.absmax), formatValueShort(h.stats.std),
                    formatValueShort(h.stats.kurtosis)));
        m_channelHistogram->replot();
        m_channelHistogramPanel->showPlot();
    }
    emit channelShown(h.channel);
}

void DistributionView::resetViews()
{
    m_histogram->resetView();
    m_profile->resetView();
    m_channelHistogram->resetView();
    m_heatMap->resetView();
    m_errorHistogram->resetView();
}

} // namespace qs::gui
