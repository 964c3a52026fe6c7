#include "schemesettingsstore.h"

#include "base/error.h"

#include <QSettings>

namespace qs::gui {

namespace {

const QString kFormat = QStringLiteral("scheme/format");
const QString kGranularity = QStringLiteral("scheme/granularity");
const QString kRangeMode = QStringLiteral("scheme/rangeMode");
const QString kScaleFormat = QStringLiteral("scheme/scaleFormat");
const QString kE8M0Rounding = QStringLiteral("scheme/e8m0Rounding");
const QString kMethod = QStringLiteral("scheme/method");
const QString kCompat = QStringLiteral("scheme/compat");
const QString kPercentile = QStringLiteral("scheme/percentile");
const QString kBins = QStringLiteral("scheme/bins");
const QString kBatches = QStringLiteral("scheme/batches");

QString text(const std::string& s)
{
    return QString::fromStdString(s);
}

std::string read(const QSettings& store, const QString& key)
{
    return store.value(key).toString().toStdString();
}

} // namespace

void storeSchemeSettings(QSettings& store, const SchemeSettings& settings)
{
    const qs::Scheme& s = settings.scheme;
    store.setValue(kFormat,
        text(s.blockFormat != qs::BlockFormat::None ? qs::blockFormatName(s.blockFormat) : s.format.name));
    store.setValue(kGranularity, text(qs::granularityName(s.granularity)));
    store.setValue(kRangeMode, text(qs::rangeModeName(s.rangeMode)));
    store.setValue(kScaleFormat, text(qs::scaleFormatName(s.scaleFormat)));
    store.setValue(kE8M0Rounding, text(qs::e8m0RoundingName(s.e8m0Rounding)));
    store.setValue(kMethod, text(qs::calibrationMethodName(settings.options.method)));
    store.setValue(kCompat, text(qs::compatibilityName(settings.options.compat)));
    store.setValue(kPercentile, settings.options.percentile);
    store.setValue(kBins, settings.options.bins);
    store.setValue(kBatches, settings.batches);
}

std::optional<SchemeSettings> loadSchemeSettings(const QSettings& store)
{
    if (!store.contains(kFormat))
        return std::nullopt;
    try {
        SchemeSettings settings;
        const std::string format = read(store, kFormat);
        settings.scheme.blockFormat = qs::blockFormatByName(format);
        if (settings.scheme.blockFormat == qs::BlockFormat::None)
            settings.scheme.format = qs::formatByName(format);
        settings.scheme.granularity = qs::parseGranularity(read(store, kGranularity));
        settings.scheme.rangeMode = qs::rangeModeByName(read(store, kRangeMode));
        settings.scheme.scaleFormat = qs::scaleFormatByName(read(store, kScaleFormat));
        settings.scheme.e8m0Rounding = qs::e8m0RoundingByName(read(store, kE8M0Rounding));
        settings.options.method = qs::calibrationMethodByName(read(store, kMethod));
        settings.options.compat = qs::compatibilityByName(read(store, kCompat));
        settings.options.percentile = store.value(kPercentile, 0.0).toDouble();
        settings.options.bins = store.value(kBins, 0).toInt();
        settings.batches = std::max(1, store.value(kBatches, 1).toInt());
        return settings;
    } catch (const qs::Error&) {
        return std::nullopt;
    }
}

} // namespace qs::gui
