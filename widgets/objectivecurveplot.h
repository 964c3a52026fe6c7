#pragma once

#include "calib/calibration.h"
#include "plotcanvas.h"

#include <QPointF>

class QCPItemStraightLine;

namespace qs::gui {

/// The objective of a calibration search (KL divergence, MSE ...) against the candidate threshold, with the
/// minimum marked and the current choice as a vertical line the user can drag (press on the line, move,
/// release). Non-finite objective values are left out.
class ObjectiveCurvePlot : public PlotCanvas {
    Q_OBJECT

public:
    explicit ObjectiveCurvePlot(QWidget* parent = nullptr);

    /// Shows `curve` (threshold in tensor units) with the choice line at `choice`.
    void setCurve(const qs::ObjectiveCurve& curve, double choice);
    void clearCurve();
    const qs::ObjectiveCurve& curve() const { return m_curve; }

    /// Moves the choice line without emitting anything.
    void setChoice(double amax);
    double choice() const { return m_choice; }
    /// Where the minimum marker is drawn (threshold, value); (0, 0) without a curve.
    QPointF markedMinimum() const;
    /// Points of the drawn curve (the finite ones).
    int pointCount() const;

signals:
    /// The user is dragging the choice line: its position now (tensor units).
    void choiceDragged(double amax);

protected:
    QString hoverText(double key, double value) const override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;

private:
    bool nearChoice(const QPoint& position) const;
    void placeChoiceLine();

    qs::ObjectiveCurve m_curve;
    QCPGraph* m_graph;
    QCPGraph* m_minimum;
    QCPItemStraightLine* m_choiceLine;
    double m_choice = 0;
    bool m_dragging = false;
};

} // namespace qs::gui
