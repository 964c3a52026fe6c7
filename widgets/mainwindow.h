#pragma once

#include "calib/calibration.h"
#include "quant/scheme.h"
#include "session.h"
#include "settingsexchange.h"

#include <QMainWindow>
#include <cstdint>
#include <optional>

class QAction;
class QDockWidget;
class QMenu;
class QTabWidget;

namespace qs::gui {

class ActivityIndicator;
class CalibrationView;
class CompareView;
class DistributionView;
class KernelsView;
class SchemePanel;
class SessionController;
class SettingsFileTask;
class StatisticsPanel;
class TensorBrowser;

/// The main window: menus, the tensor browser, scheme and statistics docks, the analysis tabs
/// (Distribution, Calibration, Compare, Kernels) and the status bar, wired to one SessionController.
/// The Calibration, Compare and Kernels tabs get the selected tensor and scheme when they are shown (their
/// work is long: a hidden tab does not compete with the visible one for the CPU).
class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    /// Ephemeral windows (scripted screenshots, tests) neither read nor write QSettings.
    enum class SettingsMode { Persistent, Ephemeral };

    explicit MainWindow(SettingsMode mode = SettingsMode::Persistent, QWidget* parent = nullptr);
    ~MainWindow() override;

    SessionController* controller() const { return m_controller; }
    TensorBrowser* tensorBrowser() const { return m_browser; }
    DistributionView* distributionView() const { return m_distribution; }
    CalibrationView* calibrationView() const { return m_calibration; }
    CompareView* compareView() const { return m_compare; }
    KernelsView* kernelsView() const { return m_kernels; }
    SchemePanel* schemePanel() const { return m_scheme; }
    QTabWidget* analysisTabs() const { return m_tabs; }
    QDockWidget* schemeDock() const { return m_schemeDock; }
    StatisticsPanel* statisticsPanel() const { return m_statistics; }
    ActivityIndicator* activityIndicator() const { return m_activity; }
    QDockWidget* tensorDock() const { return m_tensorDock; }
    QDockWidget* statisticsDock() const { return m_statisticsDock; }
    QMenu* recentFilesMenu() const { return m_recentMenu; }
    QAction* closeFileAction() const { return m_closeFile; }
    QAction* exportSettingsAction() const { return m_exportSettings; }
    QAction* importSettingsAction() const { return m_importSettings; }
    SettingsFileTask* settingsFileTask() const { return m_settingsFiles; }
    /// Applies the settings of an import that apply (see chosenFromImport) as the tensors' chosen settings.
    void applyImportedSettings(const qs::SettingsMatch& match, const std::vector<ImportTarget>& targets);
    /// Every tensor of the open files, as an import matches against them.
    std::vector<ImportTarget> importTargets() const;

    void openFiles(const QStringList& paths);
    /// Shows the tab named (case-insensitive) "distribution", "calibration", "compare" or "kernels".
    /// Returns an empty string on success, otherwise why not.
    QString showTab(const QString& name);
    /// True while nothing runs in the background (controller and every tab).
    bool isIdle() const;
    /// Selects the tensor `name` in the first open file that has it. Returns an empty string on success,
    /// otherwise why it could not be selected.
    QString selectTensorByName(const QString& name);
    /// Selects the first tensor, in file order, that can be loaded; false when there is none.
    bool selectFirstLoadableTensor();

public slots:
    void showOpenDialog();
    void closeCurrentFile();
    void openRecentFile(const QString& path);
    void showAbout();
    /// File › Export Settings…: the export dialog, then a save dialog (which asks before overwriting).
    void exportSettings();
    /// File › Import Settings…: an open dialog, then the report of what applies, applied on confirmation.
    void importSettings();
    /// A window-modal warning that does not block the caller.
    void showError(const QString& message);

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void createDocks();
    void createMenus();
    void connectController();
    void restoreSettings();
    void saveSettings();
    void showInformation(const QString& message);
    void updateRecentMenu();
    void updateActions();
    void updateTitle();
    void selectTensor(const TensorRef& tensor);
    bool selectFirstLoadableTensor(const OpenFile& file);
    void autoSelect();
    void onFileOpened(const qs::gui::OpenFile& file);
    void onFileClosed();
    void createTabs();
    void connectViews();
    /// Gives the current tab the shown tensor and scheme if it has not got them yet.
    void feedCurrentTab();
    void markTabsStale();
    void setSourceActivity(int source, const QString& description, int progress);
    void updateChosenLabels();
    void onCalibrationChosen(
        const qs::Scheme& scheme, const qs::CalibrationOptions& options, const qs::CalibrationResult& result);

    SettingsMode m_settingsMode;
    SessionController* m_controller;
    TensorBrowser* m_browser;
    DistributionView* m_distribution;
    StatisticsPanel* m_statistics;
    ActivityIndicator* m_activity;
    SchemePanel* m_scheme;
    CalibrationView* m_calibration;
    CompareView* m_compare;
    KernelsView* m_kernels;
    QTabWidget* m_tabs = nullptr;
    QDockWidget* m_schemeDock = nullptr;
    /// Per tab index: whether it has the current input.
    QList<bool> m_tabFed;
    /// Per activity source (0 controller, then the Calibration, Compare, Kernels tabs): description,
    /// progress.
    QList<QPair<QString, int>> m_activities;
    std::optional<std::uint64_t> m_lastFedAnalysis;
    QDockWidget* m_tensorDock = nullptr;
    QDockWidget* m_statisticsDock = nullptr;
    QMenu* m_recentMenu = nullptr;
    QAction* m_closeFile = nullptr;
    QAction* m_exportSettings = nullptr;
    QAction* m_importSettings = nullptr;
    SettingsFileTask* m_settingsFiles = nullptr;
    QString m_lastDirectory;
    /// Files asked for while no tensor was shown, in the order given: the first that opens with a loadable
    /// tensor gets shown, whichever finishes opening first.
    QStringList m_autoSelectQueue;
};

} // namespace qs::gui
