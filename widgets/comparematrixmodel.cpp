#include "comparematrixmodel.h"

#include "formatting.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qs::gui {

CompareMatrixModel::CompareMatrixModel(QObject* parent)
    : QAbstractTableModel(parent)
{
}

void CompareMatrixModel::reset(std::vector<std::string> formats, std::vector<std::string> granularities)
{
    beginResetModel();
    m_formats = std::move(formats);
    m_granularities = std::move(granularities);
    m_cells.assign(m_formats.size() * m_granularities.size(), std::nullopt);
    m_finished = 0;
    m_range = {0, 0};
    endResetModel();
    emit colourScaleChanged();
}

void CompareMatrixModel::setCell(std::size_t index, qs::CompareCell cell)
{
    if (index >= m_cells.size())
        return;
    if (!m_cells[index])
        ++m_finished;
    m_cells[index] = std::move(cell);
    const auto before = m_range;
    updateRange();
    if (before != m_range) {
        emit dataChanged(this->index(0, 0), this->index(rowCount() - 1, columnCount() - 1));
        emit colourScaleChanged();
        return;
    }
    const int columns = static_cast<int>(m_granularities.size());
    const QModelIndex changed
        = this->index(static_cast<int>(index) / columns, static_cast<int>(index) % columns);
    emit dataChanged(changed, changed);
}

void CompareMatrixModel::setMetric(Metric metric)
{
    if (metric == m_metric)
        return;
    m_metric = metric;
    updateRange();
    if (rowCount() > 0 && columnCount() > 0)
        emit dataChanged(index(0, 0), index(rowCount() - 1, columnCount() - 1));
    emit colourScaleChanged();
}

double CompareMatrixModel::metricValue(const qs::ErrorReport& report, Metric metric)
{
    switch (metric) {
    case Metric::Sqnr:
        return report.sqnrDb;
    case Metric::Mse:
        return report.mse;
    case Metric::MaxError:
        return report.maxAbsError;
    case Metric::BitsPerValue:
        return report.bitsPerValue;
    }
    return 0;
}

QString CompareMatrixModel::metricName(Metric metric)
{
    switch (metric) {
    case Metric::Sqnr:
        return tr("SQNR (dB)");
    case Metric::Mse:
        return tr("MSE");
    case Metric::MaxError:
        return tr("max |error|");
    case Metric::BitsPerValue:
        return tr("bits per value");
    }
    return {};
}

bool CompareMatrixModel::higherIsBetter(Metric metric)
{
    return metric == Metric::Sqnr;
}

bool CompareMatrixModel::logColours(Metric metric)
{
    return metric == Metric::Mse || metric == Metric::MaxError;
}

QString CompareMatrixModel::formatMetric(double value, Metric metric)
{
    if (std::isinf(value))
        return value > 0 ? QStringLiteral("\u221e") : QStringLiteral("\u2212\u221e");
    switch (metric) {
    case Metric::Sqnr:
        return QString::number(value, 'f', 2);
    case Metric::BitsPerValue:
        return QString::number(value, 'f', 3);
    case Metric::Mse:
    case Metric::MaxError:
        break;
    }
    return QString::number(value, 'g', 4);
}

void CompareMatrixModel::updateRange()
{
    double lo = std::numeric_limits<double>::infinity();
    double hi = -lo;
    for (const std::optional<qs::CompareCell>& cell : m_cells) {
        if (!cell || !cell->error.empty())
            continue;
        const double value = metricValue(cell->report, m_metric);
        if (!std::isfinite(value) || (logColours(m_metric) && value <= 0))
            continue;
        lo = std::min(lo, value);
        hi = std::max(hi, value);
    }
    m_range = lo <= hi ? std::pair {lo, hi} : std::pair {0.0, 0.0};
}

double CompareMatrixModel::goodness(double value) const
{
    const bool higher = higherIsBetter(m_metric);
    if (std::isnan(value))
        return 0.5;
    if (std::isinf(value))
        return (value > 0) == higher ? 1.0 : 0.0;
    double lo = m_range.first;
    double hi = m_range.second;
    double v = value;
    if (logColours(m_metric)) {
        if (value <= 0)
            return 1.0;
        lo = std::log10(lo);
        hi = std::log10(hi);
        v = std::log10(value);
    }
    if (!(hi > lo))
        return 1.0;
    const double t = std::clamp((v - lo) / (hi - lo), 0.0, 1.0);
    return higher ? t : 1.0 - t;
}

QColor CompareMatrixModel::goodnessColour(double goodness)
{
    // ColorBrewer RdYlGn, its light middle part: black text stays readable on every step.
    static const QColor stops[] = {QColor(244, 109, 67), QColor(253, 174, 97), QColor(254, 224, 139),
        QColor(217, 239, 139), QColor(166, 217, 106), QColor(102, 189, 99)};
    constexpr int last = static_cast<int>(std::size(stops)) - 1;
    const double x = std::clamp(goodness, 0.0, 1.0) * last;
    const int i = std::min(static_cast<int>(x), last - 1);
    const double t = x - i;
    const QColor& a = stops[i];
    const QColor& b = stops[i + 1];
    return QColor::fromRgbF(static_cast<float>(a.redF() + t * (b.redF() - a.redF())),
        static_cast<float>(a.greenF() + t * (b.greenF() - a.greenF())),
        static_cast<float>(a.blueF() + t * (b.blueF() - a.blueF())));
}

int CompareMatrixModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_formats.size());
}

int CompareMatrixModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_granularities.size());
}

QVariant CompareMatrixModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const std::size_t flat = static_cast<std::size_t>(index.row()) * m_granularities.size()
        + static_cast<std::size_t>(index.column());
    const std::optional<qs::CompareCell>& cell = m_cells[flat];
    const bool ok = cell && cell->error.empty();
    switch (role) {
    case Qt::DisplayRole:
        if (!cell)
            return QStringLiteral("\u2026");
        if (!cell->error.empty())
            return cell->error == "cancelled" ? tr("cancelled") : QStringLiteral("\u2014");
        return formatMetric(metricValue(cell->report, m_metric), m_metric);
    case Qt::TextAlignmentRole:
        return QVariant::fromValue(Qt::AlignCenter);
    case Qt::BackgroundRole:
        if (!ok)
            return QColor(238, 238, 238);
        return goodnessColour(goodness(metricValue(cell->report, m_metric)));
    case Qt::ForegroundRole:
        return ok ? QColor(Qt::black) : QColor(120, 120, 120);
    case Qt::ToolTipRole: {
        const QString where
            = QStringLiteral("%1 \u00d7 %2")
                  .arg(QString::fromStdString(m_formats[static_cast<std::size_t>(index.row())]),
                      QString::fromStdString(m_granularities[static_cast<std::size_t>(index.column())]));
        if (!cell)
            return tr("%1: being computed").arg(where);
        if (!cell->error.empty())
            return tr("%1: %2").arg(where, QString::fromStdString(cell->error));
        const qs::ErrorReport& r = cell->report;
        return tr(
            "%1 (%2)\nSQNR %3 dB, MSE %4, max |error| %5\nmean |error| %6, clipped %7\n%8 bits per value "
            "(scales included)\nClick to use this scheme.")
            .arg(where, QString::fromStdString(qs::schemeName(cell->scheme)),
                formatMetric(r.sqnrDb, Metric::Sqnr), formatValue(r.mse), formatValue(r.maxAbsError),
                formatValue(r.meanAbsError), formatShare(r.clippedShare),
                formatMetric(r.bitsPerValue, Metric::BitsPerValue));
    }
    case CellIndexRole:
        return static_cast<int>(flat);
    case MetricRole:
        return ok ? metricValue(cell->report, m_metric) : std::numeric_limits<double>::quiet_NaN();
    default:
        return {};
    }
}

QVariant CompareMatrixModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (role != Qt::DisplayRole || section < 0)
        return {};
    if (orientation == Qt::Horizontal && section < static_cast<int>(m_granularities.size()))
        return QString::fromStdString(m_granularities[static_cast<std::size_t>(section)]);
    if (orientation == Qt::Vertical && section < static_cast<int>(m_formats.size()))
        return QString::fromStdString(m_formats[static_cast<std::size_t>(section)]);
    return {};
}

} // namespace qs::gui
