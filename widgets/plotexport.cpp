#include "plotexport.h"

#include "qcustomplotinclude.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QMessageBox>
#include <QSettings>
#include <QSvgGenerator>

namespace qs::gui {

namespace {

const QString kExportDirectoryKey = QStringLiteral("plots/exportDirectory");

QString exportSvg(QCustomPlot& plot, const QString& path)
{
    const int width = plot.width();
    const int height = plot.height();
    QSvgGenerator generator;
    generator.setFileName(path);
    generator.setSize(QSize(width, height));
    generator.setViewBox(QRect(0, 0, width, height));
    generator.setTitle(plot.objectName());
    generator.setDescription(QObject::tr("Exported from Quantscope"));
    QCPPainter painter;
    if (!painter.begin(&generator))
        return QObject::tr("cannot write %1").arg(QDir::toNativeSeparators(path));
    plot.toPainter(&painter, width, height);
    painter.end();
    return {};
}

} // namespace

QString exportPlot(QCustomPlot& plot, const QString& path)
{
    const QString suffix = QFileInfo(path).suffix().toLower();
    QString error;
    bool written = false;
    if (suffix == QLatin1String("png")) {
        // Twice the pixels keep the figure sharp in slides and papers.
        written = plot.savePng(path, 0, 0, 2.0);
    } else if (suffix == QLatin1String("pdf")) {
        written
            = plot.savePdf(path, 0, 0, QCP::epNoCosmetic, QStringLiteral("Quantscope"), plot.objectName());
    } else if (suffix == QLatin1String("svg")) {
        error = exportSvg(plot, path);
        written = error.isEmpty();
    } else {
        return QObject::tr("unknown image format \u201c%1\u201d: use .png, .svg or .pdf").arg(suffix);
    }
    if (written && QFileInfo(path).size() > 0)
        return {};
    return error.isEmpty() ? QObject::tr("cannot write %1").arg(QDir::toNativeSeparators(path)) : error;
}

void exportPlotInteractively(QCustomPlot& plot, const QString& suggestedName, QWidget* parent)
{
    QSettings settings;
    const QString directory = settings.value(kExportDirectoryKey, QDir::homePath()).toString();
    const QString png = QObject::tr("PNG image (*.png)");
    const QString svg = QObject::tr("SVG drawing (*.svg)");
    const QString pdf = QObject::tr("PDF document (*.pdf)");
    QString filter = png;
    QString path = QFileDialog::getSaveFileName(parent, QObject::tr("Export Plot"),
        QDir(directory).filePath(suggestedName + QStringLiteral(".png")),
        png + QStringLiteral(";;") + svg + QStringLiteral(";;") + pdf, &filter);
    if (path.isEmpty())
        return;
    if (QFileInfo(path).suffix().isEmpty())
        path += filter == svg ? QStringLiteral(".svg")
            : filter == pdf   ? QStringLiteral(".pdf")
                              : QStringLiteral(".png");
    settings.setValue(kExportDirectoryKey, QFileInfo(path).absolutePath());
    const QString error = exportPlot(plot, path);
    if (!error.isEmpty())
        QMessageBox::warning(
            parent, QObject::tr("Export Plot"), QObject::tr("The plot was not exported: %1.").arg(error));
}

} // namespace qs::gui
