#pragma once

#include "comparematrixmodel.h"

#include <QWidget>

namespace qs::gui {

/// The legend of the Compare matrix: the colour ramp from worst to best with the metric's values at both
/// ends and its name, drawn from a CompareMatrixModel's colour range.
class ColourScaleBar : public QWidget {
    Q_OBJECT

public:
    explicit ColourScaleBar(const CompareMatrixModel* model, QWidget* parent = nullptr);

    /// "SQNR (dB): 12.3 (worst) … 48.1 (best)", empty without a range: what the bar shows, for tests.
    QString legendText() const;

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    const CompareMatrixModel* m_model;
};

} // namespace qs::gui
