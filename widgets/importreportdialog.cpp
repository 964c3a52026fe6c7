#include "importreportdialog.h"

#include "quant/scheme.h"

#include <QDialogButtonBox>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QTableView>
#include <QVBoxLayout>

namespace qs::gui {

ImportReportModel::ImportReportModel(QObject* parent)
    : QAbstractTableModel(parent)
{
}

void ImportReportModel::setMatch(const qs::SettingsMatch& match)
{
    beginResetModel();
    m_rows.clear();
    for (const qs::TensorSetting& s : match.applied)
        m_rows.push_back({QString::fromStdString(s.name), tr("applies"),
            QString::fromStdString(qs::schemeName(s.scheme)), true});
    for (const qs::SettingsMismatch& m : match.mismatches)
        m_rows.push_back({QString::fromStdString(m.tensor),
            QString::fromStdString(qs::mismatchKindName(m.kind)), QString::fromStdString(m.reason), false});
    endResetModel();
}

int ImportReportModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int ImportReportModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ImportReportModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= int(m_rows.size()))
        return {};
    const Row& row = m_rows[std::size_t(index.row())];
    if (role == Qt::DisplayRole || role == Qt::ToolTipRole) {
        switch (index.column()) {
        case TensorColumn:
            return row.tensor;
        case ResultColumn:
            return row.result;
        case DetailColumn:
            return row.detail;
        default:
            return {};
        }
    }
    if (role == Qt::ForegroundRole && index.column() == ResultColumn)
        return row.applies ? QColor(0x1b, 0x6e, 0x20) : QColor(0xb3, 0x26, 0x1e);
    return {};
}

QVariant ImportReportModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case TensorColumn:
        return tr("Tensor");
    case ResultColumn:
        return tr("Result");
    case DetailColumn:
        return tr("Scheme or reason");
    default:
        return {};
    }
}

ImportReportDialog::ImportReportDialog(const QString& fileName, const qs::LoadedSettings& loaded,
    const qs::SettingsMatch& match, QWidget* parent)
    : QDialog(parent)
    , m_model(new ImportReportModel(this))
{
    setWindowTitle(tr("Import Settings"));
    m_model->setMatch(match);
    auto* layout = new QVBoxLayout(this);
    const std::size_t total = match.applied.size() + match.mismatches.size();
    auto* summary
        = new QLabel(tr("%1 (%2, written by %3 %4%5): %6 of %7 settings apply to the open tensors.")
                         .arg(fileName, QString::fromStdString(qs::settingsFormatName(loaded.format)),
                             QString::fromStdString(loaded.document.tool),
                             QString::fromStdString(loaded.document.toolVersion),
                             loaded.document.date.empty()
                                 ? QString()
                                 : QStringLiteral(", ") + QString::fromStdString(loaded.document.date))
                         .arg(match.applied.size())
                         .arg(total),
            this);
    summary->setWordWrap(true);
    layout->addWidget(summary);
    auto* table = new QTableView(this);
    table->setModel(m_model);
    table->setSelectionBehavior(QAbstractItemView::SelectRows);
    table->verticalHeader()->hide();
    table->horizontalHeader()->setStretchLastSection(true);
    table->resizeColumnsToContents();
    layout->addWidget(table);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    QPushButton* apply = buttons->button(QDialogButtonBox::Ok);
    apply->setText(tr("Apply %n setting(s)", nullptr, int(match.applied.size())));
    apply->setEnabled(!match.applied.empty());
    layout->addWidget(buttons);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    resize(900, 480);
}

} // namespace qs::gui
