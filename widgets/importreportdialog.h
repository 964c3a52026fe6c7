#pragma once

#include "export/settings_file.h"
#include "export/settings_import.h"

#include <QAbstractTableModel>
#include <QDialog>

namespace qs::gui {

/// One row per tensor the settings file names: whether its setting applies to the open tensors and, if
/// not, why. Columns: tensor, result ("applies" or the mismatch kind), detail (scheme, or the reason).
class ImportReportModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column { TensorColumn, ResultColumn, DetailColumn, ColumnCount };

    explicit ImportReportModel(QObject* parent = nullptr);

    void setMatch(const qs::SettingsMatch& match);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    struct Row {
        QString tensor;
        QString result;
        QString detail;
        bool applies = false;
    };
    std::vector<Row> m_rows;
};

/// File › Import settings…: what the file holds and what applies to the open tensors. Accepting applies
/// every matching setting at once; nothing is applied when the dialog is cancelled.
class ImportReportDialog : public QDialog {
    Q_OBJECT

public:
    ImportReportDialog(const QString& fileName, const qs::LoadedSettings& loaded,
        const qs::SettingsMatch& match, QWidget* parent = nullptr);

    const ImportReportModel& model() const { return *m_model; }

private:
    ImportReportModel* m_model = nullptr;
};

} // namespace qs::gui
