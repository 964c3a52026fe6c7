#include "csvfile.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QSaveFile>
#include <QSettings>
#include <cmath>

namespace qs::gui {

QString csvField(const QString& text)
{
    if (!text.contains(QLatin1Char(',')) && !text.contains(QLatin1Char('"'))
        && !text.contains(QLatin1Char('\n')) && !text.contains(QLatin1Char('\r')))
        return text;
    QString quoted = text;
    quoted.replace(QStringLiteral("\""), QStringLiteral("\"\""));
    return QLatin1Char('"') + quoted + QLatin1Char('"');
}

QString csvNumber(double value)
{
    if (std::isnan(value))
        return QStringLiteral("nan");
    if (std::isinf(value))
        return value > 0 ? QStringLiteral("inf") : QStringLiteral("-inf");
    return QString::number(value, 'g', 17);
}

QString csvLine(const QStringList& fields)
{
    QStringList quoted;
    quoted.reserve(fields.size());
    for (const QString& field : fields)
        quoted.push_back(csvField(field));
    return quoted.join(QLatin1Char(',')) + QLatin1Char('\n');
}

QString writeTextFileAtomically(const QString& path, const QString& text)
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly))
        return QObject::tr("Cannot write %1: %2").arg(QFileInfo(path).fileName(), file.errorString());
    const QByteArray bytes = text.toUtf8();
    if (file.write(bytes) != bytes.size()) {
        const QString reason = file.errorString();
        file.cancelWriting();
        return QObject::tr("Cannot write %1: %2").arg(QFileInfo(path).fileName(), reason);
    }
    if (!file.commit())
        return QObject::tr("Cannot write %1: %2").arg(QFileInfo(path).fileName(), file.errorString());
    return {};
}

QString askCsvPath(QWidget* parent, const QString& suggestedName)
{
    QSettings settings;
    const QString key = QStringLiteral("export/csvFolder");
    const QString folder = settings.value(key, QDir::homePath()).toString();
    const QString path = QFileDialog::getSaveFileName(parent, QObject::tr("Export Table as CSV"),
        QDir(folder).filePath(suggestedName + QStringLiteral(".csv")), QObject::tr("CSV files (*.csv)"));
    if (!path.isEmpty())
        settings.setValue(key, QFileInfo(path).absolutePath());
    return path;
}

QString exportCsvInteractively(
    QWidget* parent, const QString& suggestedName, const std::function<QString()>& text)
{
    const QString path = askCsvPath(parent, suggestedName);
    return path.isEmpty() ? QString() : writeTextFileAtomically(path, text());
}

} // namespace qs::gui
