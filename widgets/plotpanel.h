#pragma once

#include <QStackedWidget>

class QLabel;

namespace qs::gui {

class PlotCanvas;

/// A plot, or in its place a sentence saying why there is nothing to plot (never an empty box).
class PlotPanel : public QStackedWidget {
    Q_OBJECT

public:
    explicit PlotPanel(PlotCanvas* plot, QWidget* parent = nullptr);

    PlotCanvas* plot() const { return m_plot; }
    void showPlot();
    void showMessage(const QString& message);

    bool isShowingPlot() const;
    QString message() const;

private:
    PlotCanvas* m_plot;
    QLabel* m_message;
};

} // namespace qs::gui
