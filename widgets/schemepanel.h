#pragma once

#include "schemesettings.h"

#include <QString>
#include <QWidget>
#include <optional>

class QComboBox;
class QDoubleSpinBox;
class QFormLayout;
class QGroupBox;
class QLabel;
class QPushButton;
class QSpinBox;
class QWidget;

namespace qs::gui {

/// The scheme dock: element or block format, granularity (axis, group size, 2-D block), range mode, scale
/// format, calibration method with its compatibility mode and parameters. Controls that do not apply to
/// the current choice are disabled (block formats fix their granularity and scales) or hidden (parameters
/// of other methods). Every change produces a SchemeSettings; one that cannot work shows the reason in the
/// dock instead of being emitted.
class SchemePanel : public QWidget {
    Q_OBJECT

public:
    explicit SchemePanel(QWidget* parent = nullptr);

    /// What the controls say now (also when it is not valid).
    SchemeSettings settings() const;
    /// Sets every control; emits settingsChanged when the result is valid and differs from the last one.
    void setSettings(const SchemeSettings& settings);

    /// Why the current settings cannot work (the panel's own check or the last setProblem), empty if none.
    QString problem() const;
    /// Shows a reason found elsewhere (the scheme does not fit the selected tensor); cleared by the next
    /// change of the controls.
    void setProblem(const QString& message);
    /// Enables "Use for this tensor" (a tensor is shown and its quantization is known).
    void setUseEnabled(bool enabled);

    QComboBox* formatCombo() const { return m_format; }
    QComboBox* granularityCombo() const { return m_granularity; }
    QSpinBox* axisSpin() const { return m_axis; }
    QSpinBox* groupSizeSpin() const { return m_groupSize; }
    QSpinBox* blockRowsSpin() const { return m_blockRows; }
    QSpinBox* blockColsSpin() const { return m_blockCols; }
    QComboBox* rangeModeCombo() const { return m_rangeMode; }
    QComboBox* scaleFormatCombo() const { return m_scaleFormat; }
    QComboBox* e8m0RoundingCombo() const { return m_e8m0Rounding; }
    QComboBox* methodCombo() const { return m_method; }
    QComboBox* compatCombo() const { return m_compat; }
    QDoubleSpinBox* percentileSpin() const { return m_percentile; }
    QSpinBox* binsSpin() const { return m_bins; }
    QSpinBox* batchesSpin() const { return m_batches; }
    QPushButton* useButton() const { return m_use; }
    QLabel* problemLabel() const { return m_problemLabel; }
    QLabel* noteLabel() const { return m_note; }

signals:
    void settingsChanged(const qs::gui::SchemeSettings& settings);
    void useForTensorRequested();

private:
    void fillFormats();
    void fillCompat();
    void onChanged();
    void updateControls();
    void showProblem();
    QString validate(const SchemeSettings& settings) const;

    QComboBox* m_format;
    QComboBox* m_granularity;
    QSpinBox* m_axis;
    QSpinBox* m_groupSize;
    QSpinBox* m_blockRows;
    QSpinBox* m_blockCols;
    QComboBox* m_rangeMode;
    QComboBox* m_scaleFormat;
    QComboBox* m_e8m0Rounding;
    QComboBox* m_method;
    QComboBox* m_compat;
    QDoubleSpinBox* m_percentile;
    QSpinBox* m_bins;
    QSpinBox* m_batches;
    QPushButton* m_use;
    QLabel* m_note;
    QLabel* m_problemLabel;
    QGroupBox* m_granularityBox;
    QGroupBox* m_scaleBox;
    QGroupBox* m_calibrationBox;
    QWidget* m_blockRow; ///< rows × cols
    QFormLayout* m_granularityForm;
    QFormLayout* m_scaleForm;
    QFormLayout* m_calibrationForm;

    QString m_ownProblem;
    QString m_externalProblem;
    std::optional<SchemeSettings> m_lastEmitted;
    bool m_updating = false;
};

} // namespace qs::gui
