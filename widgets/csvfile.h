#pragma once

#include <QString>
#include <QStringList>
#include <functional>

class QWidget;

namespace qs::gui {

/// One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break, quotes doubled.
QString csvField(const QString& text);

/// A number in full precision (17 significant digits, shortest form); "nan", "inf", "-inf" spelled out.
QString csvNumber(double value);

/// One CSV line (fields quoted as csvField does) ending in "\n".
QString csvLine(const QStringList& fields);

/// Writes `text` as UTF-8 to `path` atomically (QSaveFile: a temporary file renamed over the target).
/// Returns an empty string on success, otherwise the reason naming the file.
QString writeTextFileAtomically(const QString& path, const QString& text);

/// Asks for a .csv file name (the folder remembered in QSettings) starting from `suggestedName`; empty
/// when the user cancels.
QString askCsvPath(QWidget* parent, const QString& suggestedName);

/// The views' "Export CSV…": asks for a path (askCsvPath), then writes `text()` there atomically. Returns an
/// empty string on success or cancel, otherwise the reason naming the file.
QString exportCsvInteractively(
    QWidget* parent, const QString& suggestedName, const std::function<QString()>& text);

} // namespace qs::gui
