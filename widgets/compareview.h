#pragma once

#include "calib/calibration.h"
#include "quant/compare_matrix.h"
#include "quant/scheme.h"
#include "tensor/tensor.h"

#include <QString>
#include <QWidget>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

class QComboBox;
class QLabel;
class QProgressBar;
class QTableView;
class QTimer;

namespace qs::gui {

class CompareMatrixModel;
class ColourScaleBar;
class ParetoPlot;

/// The Compare tab: the formats × granularities matrix of compareSchemes as a colour-coded table (pick the
/// metric), filled progressively while the cells are computed, and a Pareto plot of error against effective
/// bits per value. Clicking a cell or a point emits schemeChosen.
class CompareView : public QWidget {
    Q_OBJECT

public:
    explicit CompareView(QWidget* parent = nullptr);
    ~CompareView() override;

    /// The rows of the matrix: defaultCompareFormats() then defaultCompareBlockFormats().
    static std::vector<std::string> defaultFormats();
    /// The columns: defaultCompareGranularities() and "native".
    static std::vector<std::string> defaultGranularities();

    /// Starts computing the matrix for `tensor` in the background, with `scheme`'s range mode, scale format,
    /// E8M0 rounding and arithmetic as the base of every element-format cell (`options` is not used: the
    /// matrix takes min-max ranges). A null tensor clears the view. A newer call supersedes a running one.
    void setInput(std::shared_ptr<const qs::Tensor> tensor, const QString& tensorName,
        const qs::Scheme& scheme, const qs::CalibrationOptions& options);
    /// Rows and columns of the matrix (validateCompareNames); takes effect at the next setInput. Throws
    /// qs::Error for unknown names.
    void setFormats(std::vector<std::string> formats, std::vector<std::string> granularities);
    /// Stops starting new cells; cells not computed show "cancelled".
    void cancel();
    bool busy() const;

    CompareMatrixModel* matrixModel() const { return m_model; }
    QTableView* tableView() const { return m_table; }
    ParetoPlot* paretoPlot() const { return m_pareto; }
    QComboBox* metricCombo() const { return m_metric; }
    QProgressBar* progressBar() const { return m_progress; }

    /// The matrix as CSV: one line per cell (format, granularity, scheme, mse, rmse, sqnr_db, max_abs_error,
    /// mean_abs_error, bits_per_value, error), the columns of `quantscope-cli compare --csv` it shares.
    QString csvText() const;
    /// Writes csvText() atomically; returns an empty string on success, otherwise the reason.
    QString exportCsv(const QString& path) const;

public slots:
    /// Asks for a file name and writes the CSV; errors go to errorOccurred.
    void exportCsvInteractively();

signals:
    void activityChanged(const QString& description, int progress);
    void errorOccurred(const QString& message);
    /// The user clicked a matrix cell or a Pareto point that holds a result.
    void schemeChosen(const qs::Scheme& scheme);
    /// `finished` of `total` cells are known (emitted as cells arrive, in batches).
    void cellsUpdated(int finished, int total);
    /// The matrix is complete (or cancelled: the rest of its cells carry "cancelled").
    void matrixFinished(bool cancelled);
    void hoverTextChanged(const QString& text);

private:
    struct Run;
    void deliverCells(const std::shared_ptr<Run>& run);
    void finishRun(const std::shared_ptr<Run>& run, bool cancelled, const QString& error);
    void updatePareto();
    void chooseCell(int index);

    std::vector<std::string> m_formats;
    std::vector<std::string> m_granularities;
    std::shared_ptr<Run> m_run;
    QString m_tensorName;

    CompareMatrixModel* m_model;
    QTableView* m_table;
    ParetoPlot* m_pareto;
    QComboBox* m_metric;
    QComboBox* m_paretoMetric;
    QProgressBar* m_progress;
    QLabel* m_header;
    ColourScaleBar* m_legend;
    QTimer* m_paretoTimer;
};

} // namespace qs::gui
