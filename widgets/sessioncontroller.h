#pragma once

#include "chosensetting.h"
#include "latestonlytask.h"
#include "quantizationanalysis.h"
#include "schemesettings.h"
#include "session.h"
#include "tensoranalysis.h"

#include <QFutureWatcher>
#include <QHash>
#include <QObject>
#include <QString>
#include <QThreadPool>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace qs::gui {

/// One result of a statistics scan.
struct TensorStats {
    std::string name;
    qs::SummaryStats stats;
};

/// The session and its controller: owns the open files and the selected tensor, runs file opening, tensor
/// loading and statistics off the UI thread, and publishes immutable snapshots by signal. Every public
/// method must be called on the UI thread; every signal is emitted there.
///
/// Analyses and channel histograms are "latest only": a newer request supersedes the running one and its
/// result is never published. File openings run side by side.
///
/// After a file opens, a background scan loads its tensors one at a time and publishes their summary
/// statistics (tensorStatsReady, for the tensor browser's columns); it waits while other work runs and
/// does not count as busy. An analysed tensor's statistics are published with its analysis.
///
/// After each published analysis, and on every scheme change, a second latest-only task quantizes
/// the shown tensor with the scheme settings and publishes a QuantizationAnalysis (quantizationReady), always
/// after the analysisReady of the same tensor, which it never delays. The settings the user chose per tensor
/// ("Use this") are kept here for export.
class SessionController : public QObject {
    Q_OBJECT

public:
    explicit SessionController(QObject* parent = nullptr);
    ~SessionController() override;

    const std::vector<OpenFile>& openFiles() const { return m_files; }
    const OpenFile* file(int fileId) const;
    const OpenFile* fileForPath(const QString& path) const;

    /// The tensor the user asked for last (its analysis may still be running).
    TensorRef selectedTensor() const { return m_selected; }
    /// The newest published analysis (null before the first one and after its file was closed).
    AnalysisPtr currentAnalysis() const { return m_current; }

    /// The channel axis asked for; tensors of lower rank use axis 0.
    int channelAxis() const { return m_options.channelAxis; }
    const AnalysisOptions& analysisOptions() const { return m_options; }

    bool isBusy() const { return m_busy; }
    QString activity() const { return m_activity; }

    /// Starts opening `path` in the background. Returns false, doing nothing, when that file is already open
    /// or being opened.
    bool openFile(const QString& path);
    void closeFile(int fileId);
    /// Loads and analyses `tensor` (nothing happens when it is already shown or being analysed).
    void selectTensor(const qs::gui::TensorRef& tensor);
    /// Re-analyses the selected tensor along `axis` (the loaded data is reused).
    void setChannelAxis(int axis);
    /// Computes the histogram of one channel of the current analysis.
    void requestChannelHistogram(std::int64_t channel);
    /// Stops everything that runs; nothing of it is published.
    void cancel();

    const SchemeSettings& schemeSettings() const { return m_scheme; }
    /// Quantizes the shown tensor with `settings` (nothing happens when they are the current ones).
    void setSchemeSettings(const qs::gui::SchemeSettings& settings);
    /// The newest published quantization (of the shown tensor with the current settings, or older ones
    /// while the next one runs); null before the first one.
    QuantizationPtr currentQuantization() const { return m_quantization; }

    /// Every tensor's chosen setting, in the order they were first chosen.
    const std::vector<ChosenSetting>& chosenSettings() const { return m_chosen; }
    /// The chosen setting of a tensor of an open file, or null.
    const ChosenSetting* chosenSetting(const qs::gui::TensorRef& tensor) const;
    /// Keeps the shown tensor's current quantization as its chosen setting. Returns false, doing nothing,
    /// when no quantization of the shown tensor with the current settings has been published. A report
    /// without error percentiles (QuantizationAnalysis::errorPercentilesKnown) is replaced in the background
    /// by the reference report (referenceErrorReport), with chosenSettingsChanged, unless the setting
    /// changed meanwhile.
    bool chooseCurrentSettings();
    /// Keeps `setting` for its tensor (replacing an earlier one), e.g. from the Calibration tab.
    void choose(const qs::gui::ChosenSetting& setting);
    /// Forgets the chosen setting of `tensor`.
    void forgetChosen(const qs::gui::TensorRef& tensor);

signals:
    void fileOpened(const qs::gui::OpenFile& file);
    /// Also emitted, without errorOccurred, when the opening was cancelled.
    void fileOpenFailed(const QString& path, const QString& message);
    void fileClosed(int fileId);
    void analysisStarted(const qs::gui::TensorRef& tensor);
    void analysisReady(const qs::gui::AnalysisPtr& analysis);
    void analysisFailed(const qs::gui::TensorRef& tensor, const QString& message);
    void analysisCancelled(const qs::gui::TensorRef& tensor);
    /// The current analysis is gone (its file was closed).
    void analysisCleared();
    void channelHistogramReady(const qs::gui::ChannelHistogramPtr& histogram);
    /// The summary statistics of one tensor of an open file (from the background scan or an analysis).
    void tensorStatsReady(const qs::gui::TensorRef& tensor, const qs::SummaryStats& stats);
    void quantizationStarted();
    void quantizationReady(const qs::gui::QuantizationPtr& quantization);
    /// The scheme does not work for the shown tensor: the reason, for the scheme dock.
    void quantizationFailed(const QString& message);
    /// The settings changed from here (a tensor with a chosen setting was selected): the dock follows.
    void schemeSettingsChanged(const qs::gui::SchemeSettings& settings);
    void chosenSettingsChanged();
    /// A complete sentence for the user, naming the file (and tensor) it is about.
    void errorOccurred(const QString& message);
    void busyChanged(bool busy);
    /// What runs now and how far it is (0..100, or -1 when unknown); an empty description when idle.
    void activityChanged(const QString& description, int progress);

private:
    struct InFlight {
        TensorRef tensor;
        int axis = 0;
    };

    void startAnalysis();
    void startStatsScan(const OpenFile& file);
    void completeChosenReport(const ChosenSetting& chosen, std::shared_ptr<const qs::Tensor> tensor);
    void startQuantization();
    void publishAnalysis(const AnalysisPtr& analysis);
    void returnToCurrent();
    void addOpenedFile(const QString& path, std::shared_ptr<const qs::TensorFile> file);
    void updateActivity();
    bool currentMatches(const TensorRef& tensor) const;
    TensorRef currentRef() const;
    QString describe(const TensorRef& tensor) const;

    std::vector<OpenFile> m_files;
    int m_nextFileId = 0;
    QHash<QString, std::shared_ptr<std::atomic<bool>>> m_opening;

    AnalysisOptions m_options;
    TensorRef m_selected;
    AnalysisPtr m_current;
    std::optional<InFlight> m_inFlight;
    std::uint64_t m_nextAnalysisId = 0;

    bool m_busy = false;
    QString m_activity;
    QString m_analysisActivity;
    QString m_channelActivity;
    QString m_quantizationActivity;
    int m_analysisProgress = 0;

    SchemeSettings m_scheme;
    QuantizationPtr m_quantization;
    std::uint64_t m_nextQuantizationId = 0;
    std::vector<ChosenSetting> m_chosen;

    /// One thread for the statistics scans, so that they never hold the threads interactive work needs.
    QThreadPool m_scanPool;
    /// Set while interactive work runs: the scans wait between tensors.
    std::shared_ptr<std::atomic<bool>> m_scanPaused = std::make_shared<std::atomic<bool>>(false);
    QHash<int, QFutureWatcher<TensorStats>*> m_scans; ///< by file id

    LatestOnlyTask<AnalysisPtr> m_analysisTask;
    LatestOnlyTask<ChannelHistogramPtr> m_channelTask;
    LatestOnlyTask<QuantizationPtr> m_quantizationTask;
};

} // namespace qs::gui
