#include "exportsettingsdialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QPushButton>
#include <QRadioButton>
#include <QVBoxLayout>

namespace qs::gui {

namespace {

struct FormatEntry {
    qs::SettingsFormat format;
    const char* label;
    const char* note;
    const char* filter;
};

const FormatEntry kFormats[] = {
    {qs::SettingsFormat::Quantscope, "Quantscope settings (quantscope.settings/1)",
        "Everything: scheme, calibration method and parameters, ranges, scales, zero points, error report "
        "and "
        "the source files with their SHA-256.",
        "Quantscope settings (*.json)"},
    {qs::SettingsFormat::Aimet061, "AIMET encodings 0.6.1",
        "Integer schemes: min, max, scale and offset per tensor or per output channel.",
        "AIMET encodings (*.encodings *.json)"},
    {qs::SettingsFormat::Aimet100, "AIMET encodings 1.0.0", "As 0.6.1, in the 1.0.0 list layout.",
        "AIMET encodings (*.encodings *.json)"},
    {qs::SettingsFormat::TensorRt, "TensorRT calibration cache",
        "INT8 symmetric per-tensor scales only (one hex float32 amax/127 per tensor).",
        "TensorRT calibration cache (*.cache *.txt)"},
};

const FormatEntry& entryFor(qs::SettingsFormat format)
{
    for (const FormatEntry& e : kFormats)
        if (e.format == format)
            return e;
    return kFormats[0];
}

} // namespace

ExportSettingsDialog::ExportSettingsDialog(
    std::optional<ChosenSetting> current, std::vector<ChosenSetting> all, QWidget* parent)
    : QDialog(parent)
    , m_current(std::move(current))
    , m_all(std::move(all))
{
    setWindowTitle(tr("Export Settings"));
    auto* layout = new QVBoxLayout(this);
    auto* form = new QFormLayout;
    auto* scope = new QVBoxLayout;
    m_currentButton = new QRadioButton(m_current
            ? tr("The shown tensor (%1)").arg(QString::fromStdString(m_current->tensorName))
            : tr("The shown tensor (it has no chosen setting)"),
        this);
    m_allButton
        = new QRadioButton(tr("Every tensor with a chosen setting (%n)", nullptr, int(m_all.size())), this);
    m_currentButton->setEnabled(m_current.has_value());
    m_allButton->setEnabled(!m_all.empty());
    (m_current ? m_currentButton : m_allButton)->setChecked(true);
    scope->addWidget(m_currentButton);
    scope->addWidget(m_allButton);
    form->addRow(tr("Tensors:"), scope);
    m_format = new QComboBox(this);
    for (const FormatEntry& e : kFormats)
        m_format->addItem(tr(e.label), int(e.format));
    form->addRow(tr("Format:"), m_format);
    layout->addLayout(form);
    m_formatNote = new QLabel(this);
    m_formatNote->setWordWrap(true);
    layout->addWidget(m_formatNote);
    m_problem = new QLabel(this);
    m_problem->setWordWrap(true);
    m_problem->setStyleSheet(QStringLiteral("color: #b3261e;"));
    layout->addWidget(m_problem);
    m_buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    m_buttons->button(QDialogButtonBox::Ok)->setText(tr("Export…"));
    layout->addWidget(m_buttons);
    setMinimumWidth(520);

    connect(m_buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_format, &QComboBox::currentIndexChanged, this, &ExportSettingsDialog::updateState);
    connect(m_currentButton, &QRadioButton::toggled, this, &ExportSettingsDialog::updateState);
    updateState();
}

qs::SettingsFormat ExportSettingsDialog::format() const
{
    return qs::SettingsFormat(m_format->currentData().toInt());
}

std::vector<ChosenSetting> ExportSettingsDialog::selection() const
{
    if (m_currentButton->isChecked() && m_current)
        return {*m_current};
    if (m_allButton->isChecked())
        return m_all;
    return {};
}

QString ExportSettingsDialog::problem() const
{
    const std::vector<ChosenSetting> chosen = selection();
    if (chosen.empty())
        return tr("No tensor has a chosen setting yet: pick one with “Use this” in the Calibration tab or "
                  "“Use for this tensor” in the scheme dock.");
    QStringList problems;
    for (const ChosenSetting& c : chosen) {
        const std::string why = qs::settingsFormatProblem(format(), c.settings.scheme);
        if (!why.empty())
            problems << QStringLiteral("%1: %2").arg(
                QString::fromStdString(c.tensorName), QString::fromStdString(why));
    }
    if (problems.isEmpty())
        return {};
    const int shown = std::min<int>(int(problems.size()), 5);
    QString text = tr("This format cannot hold %n of the settings:", nullptr, int(problems.size()));
    for (int i = 0; i < shown; ++i)
        text += QStringLiteral("\n• ") + problems[i];
    if (problems.size() > shown)
        text += QStringLiteral("\n• …");
    return text;
}

QString ExportSettingsDialog::fileFilter() const
{
    return tr(entryFor(format()).filter);
}

void ExportSettingsDialog::setFormat(qs::SettingsFormat format)
{
    m_format->setCurrentIndex(m_format->findData(int(format)));
}

void ExportSettingsDialog::setAllTensors(bool all)
{
    (all ? m_allButton : m_currentButton)->setChecked(true);
}

void ExportSettingsDialog::updateState()
{
    m_formatNote->setText(tr(entryFor(format()).note));
    const QString why = problem();
    m_problem->setText(why);
    m_problem->setVisible(!why.isEmpty());
    m_buttons->button(QDialogButtonBox::Ok)->setEnabled(why.isEmpty());
}

} // namespace qs::gui
