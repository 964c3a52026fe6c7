#pragma once

#include "session.h"

#include <QMainWindow>

class QAction;
class QDockWidget;
class QMenu;

namespace qs::gui {

class ActivityIndicator;
class DistributionView;
class SessionController;
class StatisticsPanel;
class TensorBrowser;

/// The main window: menus, the tensor browser and statistics docks, the analysis tabs and the status bar,
/// wired to one SessionController.
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
    StatisticsPanel* statisticsPanel() const { return m_statistics; }
    ActivityIndicator* activityIndicator() const { return m_activity; }
    QDockWidget* tensorDock() const { return m_tensorDock; }
    QDockWidget* statisticsDock() const { return m_statisticsDock; }
    QMenu* recentFilesMenu() const { return m_recentMenu; }
    QAction* closeFileAction() const { return m_closeFile; }

    void openFiles(const QStringList& paths);
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

    SettingsMode m_settingsMode;
    SessionController* m_controller;
    TensorBrowser* m_browser;
    DistributionView* m_distribution;
    StatisticsPanel* m_statistics;
    ActivityIndicator* m_activity;
    QDockWidget* m_tensorDock = nullptr;
    QDockWidget* m_statisticsDock = nullptr;
    QMenu* m_recentMenu = nullptr;
    QAction* m_closeFile = nullptr;
    QString m_lastDirectory;
    /// Files asked for while no tensor was shown, in the order given: the first that opens with a loadable
    /// tensor gets shown, whichever finishes opening first.
    QStringList m_autoSelectQueue;
};

} // namespace qs::gui
