#pragma once

#include "chosensetting.h"
#include "export/settings_file.h"

#include <QDialog>
#include <optional>
#include <vector>

class QButtonGroup;
class QComboBox;
class QDialogButtonBox;
class QLabel;
class QRadioButton;

namespace qs::gui {

/// File › Export settings…: which chosen settings (the shown tensor's, or every tensor's) and in which file
/// format. Says which settings the format cannot hold and refuses to go on while any is selected.
class ExportSettingsDialog : public QDialog {
    Q_OBJECT

public:
    /// `current`: the shown tensor's chosen setting, if it has one; `all`: every chosen setting.
    ExportSettingsDialog(
        std::optional<ChosenSetting> current, std::vector<ChosenSetting> all, QWidget* parent = nullptr);

    qs::SettingsFormat format() const;
    /// The settings to export with the current choices.
    std::vector<ChosenSetting> selection() const;
    /// Why the current choice cannot be exported (empty when it can).
    QString problem() const;
    /// The file-dialog filter for the chosen format ("Quantscope settings (*.json)").
    QString fileFilter() const;

    void setFormat(qs::SettingsFormat format);
    void setAllTensors(bool all);

private:
    void updateState();

    std::optional<ChosenSetting> m_current;
    std::vector<ChosenSetting> m_all;
    QRadioButton* m_currentButton = nullptr;
    QRadioButton* m_allButton = nullptr;
    QComboBox* m_format = nullptr;
    QLabel* m_formatNote = nullptr;
    QLabel* m_problem = nullptr;
    QDialogButtonBox* m_buttons = nullptr;
};

} // namespace qs::gui
