#pragma once

#include "calib/calibration.h"
#include "kernels/benchmark_suite.h"
#include "kernels/kernels.h"
#include "quant/scheme.h"
#include "tensor/tensor.h"

#include <QString>
#include <QStringList>
#include <QWidget>
#include <memory>
#include <vector>

class QCheckBox;
class QLabel;
class QListWidget;
class QPushButton;
class QRadioButton;
class QSpinBox;
class QTableView;

namespace qs::gui {

class KernelBarChart;
class KernelResultsModel;

/// The Kernels tab: pick kernels (benchKernels()) and backends, run them on the selected tensor or on a
/// synthetic one in the background, one kernel × backend at a time, and see GB/s as a bar chart against
/// the measured read bandwidth and as a table.
class KernelsView : public QWidget {
    Q_OBJECT

public:
    explicit KernelsView(QWidget* parent = nullptr);
    ~KernelsView() override;

    /// The tensor "Selected tensor" runs on (null: only the synthetic one can run). Starts nothing: the user
    /// presses Run. `scheme` and `options` are not used (each kernel has fixed parameters).
    void setInput(std::shared_ptr<const qs::Tensor> tensor, const QString& tensorName,
        const qs::Scheme& scheme, const qs::CalibrationOptions& options);
    void cancel();
    bool busy() const;

    /// Which kernels and backends run (names from benchKernels() and backendName()); unknown or
    /// unavailable ones are ignored.
    void setSelectedKernels(const QStringList& names);
    QStringList selectedKernels() const;
    void setSelectedBackends(const QStringList& names);
    QStringList selectedBackends() const;
    /// Run on syntheticBenchTensor(elements) instead of the selected tensor.
    void setSynthetic(bool synthetic, qint64 elements);
    /// CPU threads (0 = all hardware threads).
    void setThreads(int threads);
    /// Timing repeats per kernel (warm-up 1).
    void setRepeats(int repeats);

    KernelResultsModel* resultsModel() const { return m_model; }
    KernelBarChart* barChart() const { return m_chart; }
    QTableView* tableView() const { return m_table; }
    QPushButton* runButton() const { return m_run; }

    /// The results table as CSV (the model's columns, numbers in full precision).
    QString csvText() const;
    /// Writes csvText() atomically; returns an empty string on success, otherwise the reason.
    QString exportCsv(const QString& path) const;

public slots:
    /// Runs every selected kernel × backend (newest run wins; a running one is cancelled).
    void run();
    void exportCsvInteractively();

signals:
    void activityChanged(const QString& description, int progress);
    void errorOccurred(const QString& message);
    /// One kernel × backend result arrived (also skipped ones, with their reason).
    void resultAdded(const qs::BenchResult& result);
    /// The run ended: every selected pair ran, or it was cancelled.
    void runFinished(bool cancelled);
    void hoverTextChanged(const QString& text);

private:
    struct Run;
    void startNextJob(const std::shared_ptr<Run>& run);
    void finishRun(const std::shared_ptr<Run>& run, bool cancelled, const QString& error);
    void updateSourceLabel();

    std::shared_ptr<const qs::Tensor> m_tensor;
    QString m_tensorName;
    std::shared_ptr<Run> m_current;
    qint64 m_syntheticElements = 0; ///< the synthetic size: the spin box in Mi steps, or setSynthetic exactly

    QListWidget* m_kernels;
    QListWidget* m_backends;
    QRadioButton* m_useSelected;
    QRadioButton* m_useSynthetic;
    QSpinBox* m_syntheticMega;
    QSpinBox* m_threads;
    QSpinBox* m_repeats;
    QPushButton* m_run;
    QPushButton* m_cancel;
    QLabel* m_source;
    QLabel* m_baseline;
    KernelResultsModel* m_model;
    KernelBarChart* m_chart;
    QTableView* m_table;
};

} // namespace qs::gui
