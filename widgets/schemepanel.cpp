#include "schemepanel.h"

#include "base/error.h"
#include "calib/calibration.h"
#include "quant/quantizer.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QVBoxLayout>
#include <cmath>
#include <variant>

namespace qs::gui {

namespace {

enum GranularityKind { PerTensor, PerChannel, PerGroup, Block2D };

/// Format combo items: UserRole holds the name, UserRole + 1 whether it is a block format.
constexpr int kNameRole = Qt::UserRole;
constexpr int kBlockRole = Qt::UserRole + 1;

QString text(const std::string& s)
{
    return QString::fromStdString(s);
}

QString formatGroup(const qs::NumberFormat& format)
{
    if (std::holds_alternative<qs::IntegerSpec>(format.spec))
        return SchemePanel::tr("Integers");
    if (std::holds_alternative<qs::MinifloatSpec>(format.spec))
        return SchemePanel::tr("Floating point");
    if (std::holds_alternative<qs::LookupSpec>(format.spec))
        return SchemePanel::tr("Lookup tables");
    return SchemePanel::tr("BitNet");
}

void addHeader(QComboBox* combo, const QString& title)
{
    auto* model = qobject_cast<QStandardItemModel*>(combo->model());
    auto* item = new QStandardItem(title);
    item->setFlags(Qt::NoItemFlags);
    QFont bold = item->font();
    bold.setBold(true);
    item->setFont(bold);
    model->appendRow(item);
}

std::vector<qs::Compatibility> validCompat(qs::CalibrationMethod method)
{
    using C = qs::Compatibility;
    switch (method) {
    case qs::CalibrationMethod::MinMax:
        return {C::Native, C::ModelOpt, C::PyTorch, C::OnnxRuntime, C::TensorRT};
    case qs::CalibrationMethod::MovingAverage:
        return {C::Native, C::PyTorch, C::OnnxRuntime};
    case qs::CalibrationMethod::Percentile:
        return {C::Native, C::ModelOpt, C::OnnxRuntime};
    case qs::CalibrationMethod::Entropy:
        return {C::Native, C::ModelOpt, C::OnnxRuntime, C::TensorRT};
    case qs::CalibrationMethod::Mse:
        return {C::Native, C::ModelOpt};
    case qs::CalibrationMethod::HistogramObserver:
        return {C::PyTorch};
    }
    return {C::Native};
}

bool usesBins(const qs::CalibrationOptions& options)
{
    using M = qs::CalibrationMethod;
    switch (options.method) {
    case M::Percentile:
        return options.compat != qs::Compatibility::Native;
    case M::Entropy:
    case M::HistogramObserver:
        return true;
    case M::Mse:
        return options.compat == qs::Compatibility::ModelOpt;
    default:
        return false;
    }
}

/// A small tensor on which every shape-independent rule of the scheme can be checked: rank large enough
/// for the axis, the leading axis divisible by the batch count.
qs::Tensor probeTensor(const qs::Scheme& scheme, int batches)
{
    const qs::Granularity& g = scheme.granularity;
    int rank = 2;
    if (g.kind == qs::Granularity::Kind::PerChannel || g.kind == qs::Granularity::Kind::PerGroup)
        rank = std::max(rank, g.axis >= 0 ? g.axis + 1 : -g.axis);
    rank = std::min(rank, 8);
    qs::Tensor probe;
    probe.name = "probe";
    probe.shape.assign(static_cast<std::size_t>(rank), 4);
    probe.shape[0] = 4 * static_cast<std::int64_t>(batches);
    probe.data.resize(static_cast<std::size_t>(qs::shapeElementCount(probe.shape)));
    for (std::size_t i = 0; i < probe.data.size(); ++i)
        probe.data[i] = static_cast<float>(std::sin(0.7 * static_cast<double>(i) + 0.3));
    return probe;
}

void selectData(QComboBox* combo, const QString& data)
{
    const int index = combo->findData(data);
    if (index >= 0)
        combo->setCurrentIndex(index);
}

} // namespace

SchemePanel::SchemePanel(QWidget* parent)
    : QWidget(parent)
    , m_format(new QComboBox(this))
    , m_granularity(new QComboBox(this))
    , m_axis(new QSpinBox(this))
    , m_groupSize(new QSpinBox(this))
    , m_blockRows(new QSpinBox(this))
    , m_blockCols(new QSpinBox(this))
    , m_rangeMode(new QComboBox(this))
    , m_scaleFormat(new QComboBox(this))
    , m_e8m0Rounding(new QComboBox(this))
    , m_method(new QComboBox(this))
    , m_compat(new QComboBox(this))
    , m_percentile(new QDoubleSpinBox(this))
    , m_bins(new QSpinBox(this))
    , m_batches(new QSpinBox(this))
    , m_use(new QPushButton(tr("Use for This Tensor"), this))
    , m_note(new QLabel(this))
    , m_problemLabel(new QLabel(this))
{
    setObjectName(QStringLiteral("schemePanel"));
    fillFormats();
    m_format->setToolTip(tr("Element format (scaled per group) or a block format with its own scales"));

    m_granularity->addItem(tr("Per tensor"), PerTensor);
    m_granularity->addItem(tr("Per channel"), PerChannel);
    m_granularity->addItem(tr("Per group"), PerGroup);
    m_granularity->addItem(tr("2-D blocks"), Block2D);
    m_axis->setRange(-8, 7);
    m_axis->setToolTip(tr("Channel axis, or the axis groups run along (negative: from the end)"));
    m_groupSize->setRange(1, 1 << 20);
    m_groupSize->setValue(128);
    m_blockRows->setRange(1, 1 << 16);
    m_blockRows->setValue(128);
    m_blockCols->setRange(1, 1 << 16);
    m_blockCols->setValue(128);
    m_blockRow = new QWidget(this);
    auto* blockLayout = new QHBoxLayout(m_blockRow);
    blockLayout->setContentsMargins(0, 0, 0, 0);
    blockLayout->addWidget(m_blockRows, 1);
    blockLayout->addWidget(new QLabel(QStringLiteral("\u00d7"), m_blockRow));
    blockLayout->addWidget(m_blockCols, 1);

    m_rangeMode->addItem(
        tr("Symmetric, narrow (TensorRT)"), text(qs::rangeModeName(qs::RangeMode::SymmetricNarrow)));
    m_rangeMode->addItem(
        tr("Symmetric, full (PyTorch)"), text(qs::rangeModeName(qs::RangeMode::SymmetricFull)));
    m_rangeMode->addItem(tr("Affine (zero point)"), text(qs::rangeModeName(qs::RangeMode::Affine)));
    for (const auto format : {qs::ScaleFormat::F32, qs::ScaleFormat::F16, qs::ScaleFormat::BF16,
             qs::ScaleFormat::E8M0, qs::ScaleFormat::E4M3})
        m_scaleFormat->addItem(text(qs::scaleFormatName(format)), text(qs::scaleFormatName(format)));
    for (const auto rounding :
        {qs::E8M0Rounding::Floor, qs::E8M0Rounding::Ceil, qs::E8M0Rounding::Even, qs::E8M0Rounding::RCeil})
        m_e8m0Rounding->addItem(text(qs::e8m0RoundingName(rounding)), text(qs::e8m0RoundingName(rounding)));

    const std::pair<qs::CalibrationMethod, QString> methods[] = {
        {qs::CalibrationMethod::MinMax, tr("Min-max")},
        {qs::CalibrationMethod::MovingAverage, tr("Moving-average min-max (EMA)")},
        {qs::CalibrationMethod::Percentile, tr("Percentile")},
        {qs::CalibrationMethod::Entropy, tr("Entropy (KL divergence)")},
        {qs::CalibrationMethod::Mse, tr("MSE search")},
        {qs::CalibrationMethod::HistogramObserver, tr("Histogram observer (PyTorch)")},
    };
    for (const auto& [method, label] : methods)
        m_method->addItem(label, text(qs::calibrationMethodName(method)));
    fillCompat();
    m_percentile->setRange(0, 100);
    m_percentile->setDecimals(4);
    m_percentile->setSingleStep(0.01);
    m_percentile->setSpecialValueText(tr("default"));
    m_percentile->setSuffix(QStringLiteral(" %"));
    m_percentile->setValue(99.99);
    m_percentile->setKeyboardTracking(false);
    m_bins->setRange(0, 1 << 24);
    m_bins->setSpecialValueText(tr("default"));
    m_bins->setKeyboardTracking(false);
    m_batches->setRange(1, 4096);
    m_batches->setToolTip(tr("Equal splits of the leading axis, fed to the calibrator in order"));
    m_groupSize->setKeyboardTracking(false);
    m_blockRows->setKeyboardTracking(false);
    m_blockCols->setKeyboardTracking(false);

    auto* formatBox = new QGroupBox(tr("Format"), this);
    auto* formatForm = new QFormLayout(formatBox);
    formatForm->addRow(tr("Format:"), m_format);

    m_granularityBox = new QGroupBox(tr("Granularity"), this);
    m_granularityForm = new QFormLayout(m_granularityBox);
    m_granularityForm->addRow(tr("Scale per:"), m_granularity);
    m_granularityForm->addRow(tr("Axis:"), m_axis);
    m_granularityForm->addRow(tr("Group size:"), m_groupSize);
    m_granularityForm->addRow(tr("Block:"), m_blockRow);

    m_scaleBox = new QGroupBox(tr("Range and scale"), this);
    m_scaleForm = new QFormLayout(m_scaleBox);
    m_scaleForm->addRow(tr("Range:"), m_rangeMode);
    m_scaleForm->addRow(tr("Scale format:"), m_scaleFormat);
    m_scaleForm->addRow(tr("E8M0 rounding:"), m_e8m0Rounding);

    m_calibrationBox = new QGroupBox(tr("Calibration"), this);
    m_calibrationForm = new QFormLayout(m_calibrationBox);
    m_calibrationForm->addRow(tr("Method:"), m_method);
    m_calibrationForm->addRow(tr("Semantics:"), m_compat);
    m_calibrationForm->addRow(tr("Percentile:"), m_percentile);
    m_calibrationForm->addRow(tr("Bins:"), m_bins);
    m_calibrationForm->addRow(tr("Batches:"), m_batches);

    // Long item texts must not widen the dock: combos show what fits and elide the rest.
    for (QComboBox* combo :
        {m_format, m_granularity, m_rangeMode, m_scaleFormat, m_e8m0Rounding, m_method, m_compat}) {
        combo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
        combo->setMinimumContentsLength(8);
    }
    for (QFormLayout* form : {formatForm, m_granularityForm, m_scaleForm, m_calibrationForm})
        form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);

    m_note->setWordWrap(true);
    m_note->setObjectName(QStringLiteral("schemeNote"));
    m_note->setStyleSheet(QStringLiteral("color: palette(mid);"));
    m_problemLabel->setWordWrap(true);
    m_problemLabel->setObjectName(QStringLiteral("schemeProblem"));
    m_problemLabel->setStyleSheet(QStringLiteral("color: #b00020; font-weight: bold;"));
    m_problemLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_use->setToolTip(tr("Keep these settings, their ranges and their error for the selected tensor"));
    m_use->setEnabled(false);

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(formatBox);
    layout->addWidget(m_granularityBox);
    layout->addWidget(m_scaleBox);
    layout->addWidget(m_calibrationBox);
    layout->addWidget(m_note);
    layout->addWidget(m_problemLabel);
    layout->addWidget(m_use);
    layout->addStretch(1);

    for (QComboBox* combo : {m_format, m_granularity, m_rangeMode, m_scaleFormat, m_e8m0Rounding, m_compat})
        connect(combo, &QComboBox::currentIndexChanged, this, &SchemePanel::onChanged);
    connect(m_method, &QComboBox::currentIndexChanged, this, [this] {
        fillCompat();
        onChanged();
    });
    for (QSpinBox* spin : {m_axis, m_groupSize, m_blockRows, m_blockCols, m_bins, m_batches})
        connect(spin, &QSpinBox::valueChanged, this, &SchemePanel::onChanged);
    connect(m_percentile, &QDoubleSpinBox::valueChanged, this, &SchemePanel::onChanged);
    connect(m_use, &QPushButton::clicked, this, &SchemePanel::useForTensorRequested);

    updateControls();
    m_ownProblem = validate(settings());
    m_lastEmitted = settings();
    showProblem();
}

void SchemePanel::fillFormats()
{
    m_format->setModel(new QStandardItemModel(m_format));
    QString group;
    for (const qs::NumberFormat& format : qs::allFormats()) {
        const QString title = formatGroup(format);
        if (title != group) {
            addHeader(m_format, title);
            group = title;
        }
        m_format->addItem(QStringLiteral("  ") + text(format.name), text(format.name));
        m_format->setItemData(m_format->count() - 1, false, kBlockRole);
        m_format->setItemData(m_format->count() - 1, text(format.reference), Qt::ToolTipRole);
    }
    addHeader(m_format, tr("Block formats"));
    for (const qs::BlockFormat block : qs::allBlockFormats()) {
        const qs::BlockFormatInfo info = qs::blockFormatInfo(block);
        m_format->addItem(
            QStringLiteral("  ") + text(qs::blockFormatName(block)), text(qs::blockFormatName(block)));
        m_format->setItemData(m_format->count() - 1, true, kBlockRole);
        m_format->setItemData(m_format->count() - 1,
            tr("%1 elements, %2 scales; %3").arg(text(info.element), text(info.scale), text(info.reference)),
            Qt::ToolTipRole);
    }
    m_format->setMaxVisibleItems(24);
    selectData(m_format, QStringLiteral("int8"));
}

void SchemePanel::fillCompat()
{
    const QString previous = m_compat->currentData().toString();
    const bool wasUpdating = m_updating;
    m_updating = true;
    m_compat->clear();
    const auto method = qs::calibrationMethodByName(m_method->currentData().toString().toStdString());
    for (const qs::Compatibility compat : validCompat(method)) {
        const QString name = text(qs::compatibilityName(compat));
        QString label = name;
        switch (compat) {
        case qs::Compatibility::Native:
            label = tr("Quantscope (native)");
            break;
        case qs::Compatibility::ModelOpt:
            label = tr("ModelOpt");
            break;
        case qs::Compatibility::PyTorch:
            label = tr("PyTorch 2.11");
            break;
        case qs::Compatibility::OnnxRuntime:
            label = tr("ONNX Runtime 1.30");
            break;
        case qs::Compatibility::TensorRT:
            label = tr("TensorRT (2017)");
            break;
        }
        m_compat->addItem(label, name);
    }
    selectData(m_compat, previous);
    m_updating = wasUpdating;
}

SchemeSettings SchemePanel::settings() const
{
    SchemeSettings s;
    const QString name = m_format->currentData(kNameRole).toString();
    if (m_format->currentData(kBlockRole).toBool()) {
        s.scheme.blockFormat = qs::blockFormatByName(name.toStdString());
    } else if (!name.isEmpty()) {
        s.scheme.format = qs::formatByName(name.toStdString());
    }
    switch (m_granularity->currentData().toInt()) {
    case PerChannel:
        s.scheme.granularity = qs::Granularity::perChannel(m_axis->value());
        break;
    case PerGroup:
        s.scheme.granularity = qs::Granularity::perGroup(m_groupSize->value(), m_axis->value());
        break;
    case Block2D:
        s.scheme.granularity = qs::Granularity::block2D(m_blockRows->value(), m_blockCols->value());
        break;
    default:
        s.scheme.granularity = qs::Granularity::perTensor();
        break;
    }
    if (s.scheme.blockFormat != qs::BlockFormat::None)
        s.scheme.granularity = qs::Granularity::perTensor();
    s.scheme.rangeMode = qs::rangeModeByName(m_rangeMode->currentData().toString().toStdString());
    s.scheme.scaleFormat = qs::scaleFormatByName(m_scaleFormat->currentData().toString().toStdString());
    s.scheme.e8m0Rounding = qs::e8m0RoundingByName(m_e8m0Rounding->currentData().toString().toStdString());
    s.options.method = qs::calibrationMethodByName(m_method->currentData().toString().toStdString());
    s.options.compat = qs::compatibilityByName(m_compat->currentData().toString().toStdString());
    if (s.options.method == qs::CalibrationMethod::Percentile)
        s.options.percentile = m_percentile->value();
    if (usesBins(s.options))
        s.options.bins = m_bins->value();
    s.batches = m_batches->value();
    return s;
}

void SchemePanel::setSettings(const SchemeSettings& s)
{
    m_updating = true;
    const qs::Scheme& scheme = s.scheme;
    if (scheme.blockFormat != qs::BlockFormat::None)
        selectData(m_format, text(qs::blockFormatName(scheme.blockFormat)));
    else
        selectData(m_format, text(scheme.format.name));
    const qs::Granularity& g = scheme.granularity;
    if (scheme.blockFormat == qs::BlockFormat::None) {
        switch (g.kind) {
        case qs::Granularity::Kind::PerTensor:
            m_granularity->setCurrentIndex(PerTensor);
            break;
        case qs::Granularity::Kind::PerChannel:
            m_granularity->setCurrentIndex(PerChannel);
            m_axis->setValue(g.axis);
            break;
        case qs::Granularity::Kind::PerGroup:
            m_granularity->setCurrentIndex(PerGroup);
            m_axis->setValue(g.axis);
            m_groupSize->setValue(static_cast<int>(g.groupSize));
            break;
        case qs::Granularity::Kind::Block2D:
            m_granularity->setCurrentIndex(Block2D);
            m_blockRows->setValue(static_cast<int>(g.blockRows));
            m_blockCols->setValue(static_cast<int>(g.blockCols));
            break;
        }
    }
    selectData(m_rangeMode, text(qs::rangeModeName(scheme.rangeMode)));
    selectData(m_scaleFormat, text(qs::scaleFormatName(scheme.scaleFormat)));
    selectData(m_e8m0Rounding, text(qs::e8m0RoundingName(scheme.e8m0Rounding)));
    selectData(m_method, text(qs::calibrationMethodName(s.options.method)));
    fillCompat();
    selectData(m_compat, text(qs::compatibilityName(s.options.compat)));
    if (s.options.method == qs::CalibrationMethod::Percentile)
        m_percentile->setValue(s.options.percentile);
    if (usesBins(s.options))
        m_bins->setValue(s.options.bins);
    m_batches->setValue(s.batches);
    m_updating = false;
    onChanged();
}

void SchemePanel::onChanged()
{
    if (m_updating)
        return;
    updateControls();
    m_externalProblem.clear();
    const SchemeSettings current = settings();
    m_ownProblem = validate(current);
    showProblem();
    if (!m_ownProblem.isEmpty() || (m_lastEmitted && *m_lastEmitted == current))
        return;
    m_lastEmitted = current;
    emit settingsChanged(current);
}

void SchemePanel::updateControls()
{
    const bool block = m_format->currentData(kBlockRole).toBool();
    const QString name = m_format->currentData(kNameRole).toString();
    bool integer = false;
    bool sign = false;
    if (!block && !name.isEmpty()) {
        const qs::NumberFormat format = qs::formatByName(name.toStdString());
        integer = std::holds_alternative<qs::IntegerSpec>(format.spec);
        sign = std::holds_alternative<qs::SignSpec>(format.spec);
    }
    const int kind = m_granularity->currentData().toInt();
    m_granularityBox->setEnabled(!block);
    m_granularityForm->setRowVisible(m_axis, kind == PerChannel || kind == PerGroup);
    m_granularityForm->setRowVisible(m_groupSize, kind == PerGroup);
    m_granularityForm->setRowVisible(m_blockRow, kind == Block2D);
    m_scaleBox->setEnabled(!block);
    m_rangeMode->setEnabled(integer);
    m_scaleForm->setRowVisible(m_e8m0Rounding,
        m_scaleFormat->currentData().toString() == text(qs::scaleFormatName(qs::ScaleFormat::E8M0)));
    m_calibrationBox->setEnabled(!block && !sign);

    const auto method = qs::calibrationMethodByName(m_method->currentData().toString().toStdString());
    qs::CalibrationOptions options;
    options.method = method;
    options.compat = qs::compatibilityByName(m_compat->currentData().toString().toStdString());
    m_calibrationForm->setRowVisible(m_percentile, method == qs::CalibrationMethod::Percentile);
    m_calibrationForm->setRowVisible(m_bins, usesBins(options));

    QString note;
    if (block) {
        const qs::BlockFormatInfo info = qs::blockFormatInfo(qs::blockFormatByName(name.toStdString()));
        note = tr("%1 fixes its own blocks and scales (%2 elements, %3 scales; %4): granularity, scale "
                  "and calibration do not apply.")
                   .arg(name, text(info.element), text(info.scale), text(info.reference));
    } else if (sign) {
        note = tr("%1 takes its scale from the weights' statistics (BitNet), not from a calibrated range.")
                   .arg(name);
    } else if (!integer) {
        note = tr("Floating-point and lookup formats are scaled symmetrically (amax \u2192 largest value); "
                  "the range mode applies to integers only.");
    }
    m_note->setText(note);
    m_note->setVisible(!note.isEmpty());
}

QString SchemePanel::validate(const SchemeSettings& s) const
{
    if (schemeHasOwnScales(s.scheme))
        return {};
    try {
        const qs::Tensor probe = probeTensor(s.scheme, s.batches);
        qs::calibrate(qs::splitBatches(probe, s.batches), s.scheme, s.options);
    } catch (const qs::Error& e) {
        return tr("This combination cannot work: %1").arg(text(e.what()));
    }
    return {};
}

void SchemePanel::showProblem()
{
    const QString message = problem();
    m_problemLabel->setText(message);
    m_problemLabel->setVisible(!message.isEmpty());
}

QString SchemePanel::problem() const
{
    return m_ownProblem.isEmpty() ? m_externalProblem : m_ownProblem;
}

void SchemePanel::setProblem(const QString& message)
{
    m_externalProblem = message;
    showProblem();
}

void SchemePanel::setUseEnabled(bool enabled)
{
    m_use->setEnabled(enabled);
}

} // namespace qs::gui
