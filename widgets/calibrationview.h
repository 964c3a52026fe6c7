#pragma once

#include "calib/calibration.h"
#include "calibrationcomparison.h"
#include "quant/scheme.h"
#include "tensor/tensor.h"

#include <QString>
#include <QWidget>
#include <memory>

class QLabel;
class QPushButton;
class QSplitter;
class QTableView;

namespace qs::gui {

class CalibrationTableModel;
class ObjectiveCurvePlot;
class PlotPanel;
template<typename Result> class LatestOnlyTask;

/// The Calibration tab: every calibration method × compatibility mode that applies to the scheme, side by
/// side in a table, the objective curve (KL or MSE against the threshold) of the selected search method with
/// its minimum marked and the current choice as a draggable line, and "Use this" to adopt a row.
class CalibrationView : public QWidget {
    Q_OBJECT

public:
    explicit CalibrationView(QWidget* parent = nullptr);
    ~CalibrationView() override;

    /// Calibrates `tensor` with every candidate (calibrationCandidates(scheme, options, batches)) in the
    /// background; a null tensor clears the view. A newer call supersedes a running one.
    void setInput(std::shared_ptr<const qs::Tensor> tensor, const QString& tensorName,
        const qs::Scheme& scheme, const qs::CalibrationOptions& options);
    /// Splits the tensor into `count` equal batches along axis 0 (as `quantscope-cli calibrate --batches`);
    /// 1 = one batch. Takes effect at the next setInput.
    void setBatchCount(int count);
    /// Stops the running comparison and threshold evaluation; the view keeps what it shows.
    void cancel();
    bool busy() const;

    /// The last finished comparison (empty rows before the first).
    const CalibrationComparison& comparison() const { return m_comparison; }
    CalibrationTableModel* tableModel() const { return m_model; }
    QTableView* tableView() const { return m_table; }
    ObjectiveCurvePlot* curvePlot() const { return m_curve; }
    PlotPanel* curvePanel() const { return m_curvePanel; }
    QPushButton* useButton() const { return m_useButton; }
    /// The source row (CalibrationComparison::rows index) selected in the table, or -1.
    int selectedRow() const;
    void selectRow(int row);
    /// The sentence shown instead of the table (no tensor, error, cancelled); empty when the table shows.
    QString messageText() const;
    /// The table as CSV: a header line, then one line per method in the table's order; numbers in full
    /// precision (ranges as shown).
    QString csvText() const;
    /// Writes csvText() atomically; empty on success, otherwise the reason naming the file.
    QString exportCsv(const QString& path) const;

public slots:
    /// Emits `chosen` with the selected row's scheme, options and result.
    void useSelected();
    /// Asks for a file name and writes the table there (errors by errorOccurred).
    void exportCsvInteractively();
    /// Evaluates the per-tensor threshold `amax` ([-amax, amax]) in the background (newest wins) and shows
    /// its error next to the curve; what dragging the choice line does.
    void evaluateThreshold(double amax);

signals:
    /// `description` empty = idle; `progress` 0..100 or -1 (unknown).
    void activityChanged(const QString& description, int progress);
    void errorOccurred(const QString& message);
    /// "Use this": the scheme, the options with the row's method and mode, and the row's result.
    void chosen(
        const qs::Scheme& scheme, const qs::CalibrationOptions& options, const qs::CalibrationResult& result);
    /// The user dragged the threshold line on the objective curve to `amax` (tensor units).
    void manualThresholdChanged(double amax);
    /// A comparison finished and is shown.
    void comparisonShown();
    /// The error of a manually chosen threshold is known (evaluateThreshold).
    void thresholdEvaluated(double amax, const qs::ErrorReport& report);
    void hoverTextChanged(const QString& text);

private:
    void showComparison(CalibrationComparison comparison);
    void showMessage(const QString& message);
    void updateCurve();
    void updateActivity();

    std::shared_ptr<const qs::Tensor> m_tensor;
    QString m_tensorName;
    qs::Scheme m_scheme;
    qs::CalibrationOptions m_options;
    int m_batchCount = 1;
    CalibrationComparison m_comparison;

    CalibrationTableModel* m_model;
    QTableView* m_table;
    ObjectiveCurvePlot* m_curve;
    PlotPanel* m_curvePanel;
    QPushButton* m_useButton;
    QLabel* m_header;
    QLabel* m_message;
    QLabel* m_thresholdLabel;
    QWidget* m_content;
    QSplitter* m_splitter = nullptr;
    std::unique_ptr<LatestOnlyTask<CalibrationComparison>> m_task;
    std::unique_ptr<LatestOnlyTask<ThresholdEvaluation>> m_thresholdTask;
};

} // namespace qs::gui
