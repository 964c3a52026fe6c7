#include "formatting.h"

#include "tensor/dtype.h"

#include <QCoreApplication>
#include <QLocale>
#include <cmath>

namespace qs::gui {

QString formatBytes(std::uint64_t bytes)
{
    if (bytes < 1024)
        return QCoreApplication::translate("qs::gui::Formatting", "%1 B").arg(bytes);
    return QLocale().formattedDataSize(static_cast<qint64>(bytes), 1, QLocale::DataSizeIecFormat);
}

QString formatShape(const qs::Shape& shape)
{
    return QString::fromStdString(qs::shapeToString(shape));
}

QString formatCount(std::int64_t count)
{
    return QLocale().toString(static_cast<qlonglong>(count));
}

QString tensorCountText(std::int64_t count)
{
    return count == 1
        ? QCoreApplication::translate("qs::gui::Formatting", "1 tensor")
        : QCoreApplication::translate("qs::gui::Formatting", "%1 tensors").arg(formatCount(count));
}

QString formatValue(double value)
{
    if (std::isnan(value))
        return QStringLiteral("NaN");
    if (std::isinf(value))
        return value > 0 ? QStringLiteral("+Inf") : QStringLiteral("\u2212Inf");
    return QString::number(value, 'g', 6);
}

QString formatValueShort(double value)
{
    if (!std::isfinite(value))
        return formatValue(value);
    return QString::number(value, 'g', 4);
}

QString formatShare(double share)
{
    const double percent = share * 100.0;
    if (percent == 0.0)
        return QStringLiteral("0 %");
    if (percent < 0.0001)
        return QStringLiteral("< 0.0001 %");
    return QString::number(percent, 'f', percent < 1.0 ? 4 : 2) + QStringLiteral(" %");
}

QString dtypeLabel(const qs::TensorInfo& info)
{
    if (info.loadable())
        return QString::fromLatin1(qs::dtypeName(info.dtype));
    return QString::fromStdString(info.dtypeName);
}

QString unsupportedReason(const qs::TensorInfo& info)
{
    if (info.loadable())
        return {};
    return QCoreApplication::translate("qs::gui::Formatting",
        "Element type \u201c%1\u201d cannot be converted to float32 yet, so this "
        "tensor is listed but cannot be loaded.")
        .arg(QString::fromStdString(info.dtypeName));
}

} // namespace qs::gui
