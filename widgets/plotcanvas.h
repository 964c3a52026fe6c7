#pragma once

#include "qcustomplotinclude.h"

#include <QPoint>
#include <QString>

class QCPTextElement;

namespace qs::gui {

/// The base of every plot in Quantscope: drag to pan, wheel to zoom, a "home" view to return to, a hover
/// read-out of the data under the cursor, a click that is not a drag, and a context menu that exports.
class PlotCanvas : public QCustomPlot {
    Q_OBJECT

public:
    explicit PlotCanvas(QWidget* parent = nullptr);

    void setTitle(const QString& title);
    QString title() const;

    /// The base name suggested when exporting (no suffix).
    void setExportName(const QString& name) { m_exportName = name; }

    /// Remembers the current axis ranges as the view that resetView() returns to.
    void rememberHomeView();

public slots:
    void resetView();
    void exportInteractively();

signals:
    /// A read-out of what is under the cursor; empty when the cursor leaves the data.
    void hoverTextChanged(const QString& text);
    /// A press and release at (nearly) the same place, in plot coordinates.
    void clicked(double key, double value);

protected:
    /// What to say about the data at plot coordinates (key, value); empty for nothing.
    virtual QString hoverText(double key, double value) const;

    void mousePressEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void leaveEvent(QEvent* event) override;
    void contextMenuEvent(QContextMenuEvent* event) override;

    void styleAxes(QCPAxisRect* rect);

private:
    QCPTextElement* m_title;
    QString m_exportName;
    QCPRange m_homeX;
    QCPRange m_homeY;
    QPoint m_pressPosition;
    bool m_pressed = false;
};

} // namespace qs::gui
