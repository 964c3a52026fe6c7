#pragma once

#include <QString>

class QCustomPlot;
class QWidget;

namespace qs::gui {

/// Writes `plot` to `path` as PNG, SVG or PDF, chosen by the suffix, at the plot's on-screen size.
/// Returns an empty string on success, otherwise the reason.
QString exportPlot(QCustomPlot& plot, const QString& path);

/// Asks for a file name (remembering the folder in QSettings) and exports; errors go to a message box.
void exportPlotInteractively(QCustomPlot& plot, const QString& suggestedName, QWidget* parent);

} // namespace qs::gui
