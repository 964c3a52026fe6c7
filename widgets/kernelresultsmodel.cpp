#include "kernelresultsmodel.h"

#include "csvfile.h"
#include "formatting.h"

#include <QColor>

namespace qs::gui {

KernelResultsModel::KernelResultsModel(QObject* parent)
    : QAbstractTableModel(parent)
{
}

void KernelResultsModel::clear()
{
    beginResetModel();
    m_results.clear();
    endResetModel();
}

void KernelResultsModel::addResults(const std::vector<qs::BenchResult>& results)
{
    if (results.empty())
        return;
    const int first = static_cast<int>(m_results.size());
    beginInsertRows({}, first, first + static_cast<int>(results.size()) - 1);
    m_results.insert(m_results.end(), results.begin(), results.end());
    endInsertRows();
}

int KernelResultsModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_results.size());
}

int KernelResultsModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant KernelResultsModel::value(const qs::BenchResult& r, int column) const
{
    switch (column) {
    case KernelColumn:
        return QString::fromStdString(r.kernel);
    case BackendColumn:
        return QString::fromStdString(r.backend);
    case TargetColumn:
        return QString::fromStdString(r.target);
    case ElementsColumn:
        return static_cast<qlonglong>(r.elements);
    case MedianColumn:
        return r.skipped ? QVariant() : QVariant(r.timing.medianMs);
    case GbpsColumn:
        return r.skipped ? QVariant() : QVariant(r.gbps);
    case FractionColumn:
        return r.skipped || r.fractionOfBaseline <= 0 ? QVariant() : QVariant(r.fractionOfBaseline);
    case MatchesColumn:
        if (r.skipped || !r.checked)
            return {};
        return r.matchesScalar ? QStringLiteral("yes") : QStringLiteral("no");
    default:
        return {};
    }
}

QVariant KernelResultsModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const qs::BenchResult& r = m_results[static_cast<std::size_t>(index.row())];
    const int column = index.column();
    switch (role) {
    case Qt::DisplayRole: {
        if (r.skipped && column == MedianColumn)
            return tr("skipped: %1").arg(QString::fromStdString(r.skipReason));
        const QVariant v = value(r, column);
        switch (column) {
        case ElementsColumn:
            return formatCount(r.elements);
        case MedianColumn:
            return v.isValid() ? QString::number(v.toDouble(), 'f', 3) : QVariant();
        case GbpsColumn:
            return v.isValid() ? QString::number(v.toDouble(), 'f', 2) : QVariant();
        case FractionColumn:
            return v.isValid() ? QStringLiteral("%1 %").arg(v.toDouble() * 100, 0, 'f', 1) : QVariant();
        case MatchesColumn:
            if (r.skipped)
                return QVariant();
            return r.checked ? v : tr("not checked");
        default:
            return v;
        }
    }
    case ValueRole:
        return value(r, column);
    case Qt::TextAlignmentRole:
        return column <= TargetColumn || (r.skipped && column == MedianColumn)
            ? QVariant::fromValue(Qt::AlignLeft | Qt::AlignVCenter)
            : QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
    case Qt::ForegroundRole:
        if (r.skipped)
            return QColor(120, 120, 120);
        if (column == MatchesColumn && r.checked && !r.matchesScalar)
            return QColor(190, 30, 30);
        return {};
    case Qt::ToolTipRole:
        if (r.skipped)
            return QString::fromStdString(r.skipReason);
        return tr("%1 on %2 (%3), %4 thread(s): median %5 ms (min %6, max %7 over %8 runs)%9; moves %10 "
                  "per run, %11 GB/s of the float32 tensor")
            .arg(QString::fromStdString(r.kernel), QString::fromStdString(r.backend),
                QString::fromStdString(r.target))
            .arg(r.threads)
            .arg(QString::number(r.timing.medianMs, 'f', 3), QString::number(r.timing.minMs, 'f', 3),
                QString::number(r.timing.maxMs, 'f', 3))
            .arg(r.timing.repeats)
            .arg(r.deviceTimed ? tr(", timed on the device with CUDA events") : QString())
            .arg(formatBytes(static_cast<std::uint64_t>(r.bytes)), QString::number(r.inputGbps, 'f', 2));
    default:
        return {};
    }
}

QVariant KernelResultsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal)
        return {};
    if (role == Qt::ToolTipRole && (section == GbpsColumn || section == FractionColumn))
        return tr("Bytes moved per second: the float32 tensor once per pass over it (NVFP4 and bitsandbytes "
                  "double quantization read it twice), the scales and zero points read, and the codes, "
                  "scales and zero points written (unpack: read, and the tensor written)");
    if (role != Qt::DisplayRole)
        return {};
    switch (section) {
    case KernelColumn:
        return tr("Kernel");
    case BackendColumn:
        return tr("Backend");
    case TargetColumn:
        return tr("Target");
    case ElementsColumn:
        return tr("Elements");
    case MedianColumn:
        return tr("Median (ms)");
    case GbpsColumn:
        return tr("GB/s");
    case FractionColumn:
        return tr("Of baseline");
    case MatchesColumn:
        return tr("Matches scalar");
    default:
        return {};
    }
}

QString KernelResultsModel::csvText() const
{
    QString text = csvLine({QStringLiteral("kernel"), QStringLiteral("backend"), QStringLiteral("target"),
        QStringLiteral("elements"), QStringLiteral("threads"), QStringLiteral("median_ms"),
        QStringLiteral("gbps"), QStringLiteral("fraction_of_baseline"), QStringLiteral("matches_scalar"),
        QStringLiteral("skipped"), QStringLiteral("bytes"), QStringLiteral("input_gbps")});
    for (const qs::BenchResult& r : m_results) {
        const auto number = [&r](double value) { return r.skipped ? QString() : csvNumber(value); };
        text += csvLine({QString::fromStdString(r.kernel), QString::fromStdString(r.backend),
            QString::fromStdString(r.target), QString::number(r.elements), QString::number(r.threads),
            number(r.timing.medianMs), number(r.gbps), number(r.fractionOfBaseline),
            r.skipped || !r.checked ? QString()
                                    : (r.matchesScalar ? QStringLiteral("true") : QStringLiteral("false")),
            QString::fromStdString(r.skipReason), QString::number(r.bytes), number(r.inputGbps)});
    }
    return text;
}

} // namespace qs::gui
