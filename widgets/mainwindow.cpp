#include "mainwindow.h"

#include "abouttext.h"
#include "activityindicator.h"
#include "calibrationview.h"
#include "compareview.h"
#include "distributionview.h"
#include "exportsettingsdialog.h"
#include "formatting.h"
#include "importreportdialog.h"
#include "kernelsview.h"
#include "quantizationanalysis.h"
#include "recentfiles.h"
#include "resources.h"
#include "schemepanel.h"
#include "schemesettingsstore.h"
#include "sessioncontroller.h"
#include "settingsfiletask.h"
#include "statisticspanel.h"
#include "tensoranalysis.h"
#include "tensorbrowser.h"
#include "tensortreemodel.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QSettings>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>
#include <QTreeView>

namespace qs::gui {

namespace {

const QString kGeometryKey = QStringLiteral("mainWindow/geometry");
const QString kStateKey = QStringLiteral("mainWindow/state");
const QString kLastDirectoryKey = QStringLiteral("lastDirectory");

enum Tab { DistributionTab, CalibrationTab, CompareTab, KernelsTab, TabCount };
enum ActivitySource {
    ControllerSource,
    CalibrationSource,
    CompareSource,
    KernelsSource,
    SettingsFileSource,
    SourceCount
};

QStringList localFiles(const QMimeData* mime)
{
    QStringList files;
    if (!mime || !mime->hasUrls())
        return files;
    for (const QUrl& url : mime->urls()) {
        if (url.isLocalFile() && QFileInfo(url.toLocalFile()).isFile())
            files << url.toLocalFile();
    }
    return files;
}

} // namespace

MainWindow::MainWindow(SettingsMode mode, QWidget* parent)
    : QMainWindow(parent)
    , m_settingsMode(mode)
    , m_controller(new SessionController(this))
    , m_browser(new TensorBrowser(this))
    , m_distribution(new DistributionView(this))
    , m_statistics(new StatisticsPanel(this))
    , m_activity(new ActivityIndicator(this))
    , m_scheme(new SchemePanel(this))
    , m_calibration(new CalibrationView(this))
    , m_compare(new CompareView(this))
    , m_kernels(new KernelsView(this))
    , m_settingsFiles(new SettingsFileTask(this))
    , m_lastDirectory(QDir::homePath())
{
    initResources();
    setObjectName(QStringLiteral("mainWindow"));
    setWindowIcon(QIcon(QStringLiteral(":/icons/quantscope.svg")));
    setAcceptDrops(true);
    setDockNestingEnabled(true);

    m_activities.fill({QString(), -1}, SourceCount);
    createTabs();
    statusBar()->addPermanentWidget(m_activity);

    createDocks();
    createMenus();
    connectController();
    connectViews();
    updateChosenLabels();
    resize(1600, 1000);
    if (m_settingsMode == SettingsMode::Persistent)
        restoreSettings();
    m_controller->setSchemeSettings(m_scheme->settings());
    updateActions();
    updateTitle();
}

void MainWindow::createTabs()
{
    m_tabs = new QTabWidget(this);
    m_tabs->setObjectName(QStringLiteral("analysisTabs"));
    m_tabs->setDocumentMode(true);
    m_tabs->addTab(m_distribution, tr("Distribution"));
    m_tabs->addTab(m_calibration, tr("Calibration"));
    m_tabs->addTab(m_compare, tr("Compare"));
    m_tabs->addTab(m_kernels, tr("Kernels"));
    m_tabs->setTabToolTip(DistributionTab, tr("Histogram, clip ranges, quantization grid and error"));
    m_tabs->setTabToolTip(CalibrationTab, tr("Every calibration method side by side, objective curves"));
    m_tabs->setTabToolTip(CompareTab, tr("Formats \u00d7 granularities: error against bits per value"));
    m_tabs->setTabToolTip(KernelsTab, tr("Time the quantization kernels on this tensor"));
    m_tabFed.fill(false, TabCount);
    m_tabFed[DistributionTab] = true;
    setCentralWidget(m_tabs);
    connect(m_tabs, &QTabWidget::currentChanged, this, [this] { feedCurrentTab(); });
}

QString MainWindow::showTab(const QString& name)
{
    for (int i = 0; i < m_tabs->count(); ++i) {
        if (m_tabs->tabText(i).compare(name, Qt::CaseInsensitive) == 0) {
            m_tabs->setCurrentIndex(i);
            return {};
        }
    }
    QStringList names;
    for (int i = 0; i < m_tabs->count(); ++i)
        names << m_tabs->tabText(i).toLower();
    return tr("There is no tab \u201c%1\u201d; the tabs are %2.").arg(name, names.join(QStringLiteral(", ")));
}

bool MainWindow::isIdle() const
{
    for (const auto& activity : m_activities) {
        if (!activity.first.isEmpty())
            return false;
    }
    return !m_controller->isBusy() && !m_calibration->busy() && !m_compare->busy() && !m_kernels->busy();
}

void MainWindow::markTabsStale()
{
    for (int i = 0; i < m_tabFed.size(); ++i)
        m_tabFed[i] = i == DistributionTab;
    feedCurrentTab();
}

void MainWindow::feedCurrentTab()
{
    const int tab = m_tabs->currentIndex();
    if (tab < 0 || tab >= m_tabFed.size() || m_tabFed[tab])
        return;
    m_tabFed[tab] = true;
    const AnalysisPtr analysis = m_controller->currentAnalysis();
    std::shared_ptr<const qs::Tensor> tensor = analysis ? analysis->tensor : nullptr;
    const QString name = analysis ? QString::fromStdString(analysis->info.name) : QString();
    const SchemeSettings& settings = m_controller->schemeSettings();
    switch (tab) {
    case CalibrationTab:
        m_calibration->setBatchCount(settings.batches);
        m_calibration->setInput(tensor, name, settings.scheme, settings.options);
        break;
    case CompareTab:
        m_compare->setInput(tensor, name, settings.scheme, settings.options);
        break;
    case KernelsTab:
        m_kernels->setInput(tensor, name, settings.scheme, settings.options);
        break;
    default:
        break;
    }
}

void MainWindow::setSourceActivity(int source, const QString& description, int progress)
{
    m_activities[source] = {description, progress};
    for (const auto& activity : std::as_const(m_activities)) {
        if (!activity.first.isEmpty()) {
            m_activity->setBusy(true);
            m_activity->setActivity(activity.first, activity.second);
            return;
        }
    }
    m_activity->setActivity({}, -1);
    m_activity->setBusy(false);
}

void MainWindow::connectViews()
{
    connect(m_scheme, &SchemePanel::settingsChanged, this, [this](const SchemeSettings& settings) {
        m_controller->setSchemeSettings(settings);
        markTabsStale();
    });
    connect(m_scheme, &SchemePanel::useForTensorRequested, this, [this] {
        if (m_controller->chooseCurrentSettings())
            statusBar()->showMessage(
                tr("Kept %1 for %2.")
                    .arg(QString::fromStdString(settingsName(m_controller->schemeSettings())),
                        m_controller->selectedTensor().name),
                5000);
    });
    connect(m_controller, &SessionController::schemeSettingsChanged, m_scheme, &SchemePanel::setSettings);
    connect(m_controller, &SessionController::quantizationStarted, this, [this] {
        m_scheme->setUseEnabled(false);
        m_distribution->showQuantizationPending();
    });
    connect(m_controller, &SessionController::quantizationReady, this, [this](const QuantizationPtr& q) {
        m_scheme->setProblem({});
        m_scheme->setUseEnabled(true);
        m_distribution->showQuantization(q);
    });
    connect(m_controller, &SessionController::quantizationFailed, this, [this](const QString& message) {
        m_scheme->setProblem(message);
        m_distribution->showQuantizationPending(message);
    });
    connect(m_controller, &SessionController::chosenSettingsChanged, this, &MainWindow::updateChosenLabels);
    connect(m_controller, &SessionController::chosenSettingsChanged, this, &MainWindow::updateActions);

    connect(m_calibration, &CalibrationView::chosen, this, &MainWindow::onCalibrationChosen);
    connect(m_compare, &CompareView::schemeChosen, this, [this](const qs::Scheme& scheme) {
        SchemeSettings settings = m_scheme->settings();
        settings.scheme = scheme;
        m_scheme->setSettings(settings);
        statusBar()->showMessage(
            tr("Scheme %1 selected in the Scheme panel.").arg(QString::fromStdString(qs::schemeName(scheme))),
            5000);
    });
    connect(m_calibration, &CalibrationView::activityChanged, this,
        [this](const QString& d, int p) { setSourceActivity(CalibrationSource, d, p); });
    connect(m_compare, &CompareView::activityChanged, this,
        [this](const QString& d, int p) { setSourceActivity(CompareSource, d, p); });
    connect(m_kernels, &KernelsView::activityChanged, this,
        [this](const QString& d, int p) { setSourceActivity(KernelsSource, d, p); });
    for (QWidget* view : {static_cast<QWidget*>(m_calibration), static_cast<QWidget*>(m_compare),
             static_cast<QWidget*>(m_kernels)}) {
        const auto hover = [this](const QString& text) {
            if (text.isEmpty())
                statusBar()->clearMessage();
            else
                statusBar()->showMessage(text);
        };
        if (auto* v = qobject_cast<CalibrationView*>(view)) {
            connect(v, &CalibrationView::hoverTextChanged, this, hover);
            connect(v, &CalibrationView::errorOccurred, this, &MainWindow::showError);
        } else if (auto* c = qobject_cast<CompareView*>(view)) {
            connect(c, &CompareView::hoverTextChanged, this, hover);
            connect(c, &CompareView::errorOccurred, this, &MainWindow::showError);
        } else if (auto* k = qobject_cast<KernelsView*>(view)) {
            connect(k, &KernelsView::hoverTextChanged, this, hover);
            connect(k, &KernelsView::errorOccurred, this, &MainWindow::showError);
        }
    }
}

void MainWindow::onCalibrationChosen(
    const qs::Scheme& scheme, const qs::CalibrationOptions& options, const qs::CalibrationResult& result)
{
    const AnalysisPtr analysis = m_controller->currentAnalysis();
    if (!analysis)
        return;
    ChosenSetting chosen;
    chosen.filePath = analysis->filePath;
    chosen.tensorName = analysis->info.name;
    chosen.shape = analysis->info.shape;
    chosen.dtypeName = analysis->info.dtypeName;
    chosen.settings.scheme = scheme;
    chosen.settings.options = options;
    chosen.settings.batches = m_controller->schemeSettings().batches;
    chosen.calibration = result;
    chosen.report = result.report;
    m_controller->choose(chosen);
    m_scheme->setSettings(chosen.settings);
    statusBar()->showMessage(tr("Kept %1 for %2.")
                                 .arg(QString::fromStdString(settingsName(chosen.settings)),
                                     QString::fromStdString(chosen.tensorName)),
        5000);
}

void MainWindow::updateChosenLabels()
{
    for (const OpenFile& file : m_controller->openFiles()) {
        const std::string path = QFile::encodeName(file.path).toStdString();
        QHash<QString, QString> labels;
        for (const ChosenSetting& chosen : m_controller->chosenSettings()) {
            if (chosen.filePath == path)
                labels.insert(QString::fromStdString(chosen.tensorName),
                    QStringLiteral("\u2713 ") + QString::fromStdString(settingsName(chosen.settings)));
        }
        m_browser->model()->setChosenLabels(file.id, labels);
    }
    // The column costs the names room: shown once there is something in it.
    m_browser->treeView()->setColumnHidden(
        TensorTreeModel::ChosenColumn, m_controller->chosenSettings().empty());
}

MainWindow::~MainWindow() = default;

void MainWindow::createDocks()
{
    m_tensorDock = new QDockWidget(tr("Tensors"), this);
    m_tensorDock->setObjectName(QStringLiteral("tensorBrowserDock"));
    m_tensorDock->setWidget(m_browser);
    m_tensorDock->setAllowedAreas(Qt::LeftDockWidgetArea | Qt::RightDockWidgetArea);
    addDockWidget(Qt::LeftDockWidgetArea, m_tensorDock);

    m_statisticsDock = new QDockWidget(tr("Statistics"), this);
    m_statisticsDock->setObjectName(QStringLiteral("statisticsDock"));
    m_statisticsDock->setWidget(m_statistics);
    m_statisticsDock->setAllowedAreas(Qt::LeftDockWidgetArea | Qt::RightDockWidgetArea);
    addDockWidget(Qt::RightDockWidgetArea, m_statisticsDock);

    m_schemeDock = new QDockWidget(tr("Scheme"), this);
    m_schemeDock->setObjectName(QStringLiteral("schemeDock"));
    m_schemeDock->setWidget(m_scheme);
    m_schemeDock->setAllowedAreas(Qt::LeftDockWidgetArea | Qt::RightDockWidgetArea);
    addDockWidget(Qt::RightDockWidgetArea, m_schemeDock);
    splitDockWidget(m_schemeDock, m_statisticsDock, Qt::Vertical);

    resizeDocks({m_tensorDock, m_schemeDock}, {420, 300}, Qt::Horizontal);
}

void MainWindow::createMenus()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open\u2026"), this, &MainWindow::showOpenDialog);
    open->setShortcut(QKeySequence::Open);
    open->setStatusTip(tr("Open safetensors, npy, npz or HDF5 files"));
    m_recentMenu = file->addMenu(tr("Open &Recent"));
    m_recentMenu->setObjectName(QStringLiteral("recentFilesMenu"));
    connect(m_recentMenu, &QMenu::aboutToShow, this, &MainWindow::updateRecentMenu);
    m_closeFile = file->addAction(tr("&Close File"), this, &MainWindow::closeCurrentFile);
    m_closeFile->setShortcut(QKeySequence::Close);
    m_closeFile->setStatusTip(tr("Close the file of the selected tensor"));
    file->addSeparator();
    m_exportSettings = file->addAction(tr("&Export Settings\u2026"), this, &MainWindow::exportSettings);
    m_exportSettings->setShortcut(QKeySequence(tr("Ctrl+E")));
    m_exportSettings->setStatusTip(tr(
        "Save the chosen quantization settings as Quantscope settings, AIMET encodings or a TensorRT cache"));
    m_importSettings = file->addAction(tr("&Import Settings\u2026"), this, &MainWindow::importSettings);
    m_importSettings->setShortcut(QKeySequence(tr("Ctrl+I")));
    m_importSettings->setStatusTip(tr("Apply a settings file to the tensors of the open files"));
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);
    quit->setMenuRole(QAction::QuitRole);

    QMenu* view = menuBar()->addMenu(tr("&View"));
    view->addAction(m_tensorDock->toggleViewAction());
    view->addAction(m_statisticsDock->toggleViewAction());
    view->addAction(m_schemeDock->toggleViewAction());
    view->addSeparator();
    QAction* reset = view->addAction(tr("&Reset Plot Views"), m_distribution, &DistributionView::resetViews);
    reset->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_0));
    view->addAction(m_distribution->logScaleAction());
    view->addAction(m_distribution->magnitudeAction());
    view->addAction(m_distribution->logColoursAction());

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    QAction* about = help->addAction(tr("&About Quantscope"), this, &MainWindow::showAbout);
    about->setMenuRole(QAction::AboutRole);
    QAction* aboutQt = help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
    aboutQt->setMenuRole(QAction::AboutQtRole);
}

void MainWindow::connectController()
{
    SessionController* c = m_controller;
    connect(c, &SessionController::fileOpened, this, &MainWindow::onFileOpened);
    connect(c, &SessionController::fileOpenFailed, this, [this](const QString& path) {
        m_autoSelectQueue.removeAll(path);
        autoSelect();
    });
    connect(c, &SessionController::fileClosed, this, [this](int fileId) {
        m_browser->removeFile(fileId);
        onFileClosed();
    });
    connect(c, &SessionController::analysisReady, this, [this](const AnalysisPtr& analysis) {
        // Statistics first: the view then marks its focus channel in the freshly filled outlier list.
        m_statistics->showAnalysis(analysis);
        m_distribution->showAnalysis(analysis);
        m_browser->showTensor(TensorRef {analysis->fileId, QString::fromStdString(analysis->info.name)});
        updateTitle();
        if (m_lastFedAnalysis != analysis->id) {
            m_lastFedAnalysis = analysis->id;
            markTabsStale();
        }
    });
    // A failed or cancelled analysis leaves the previous one on screen: point the tree back at it.
    const auto resync = [this] { m_browser->showTensor(m_controller->selectedTensor()); };
    connect(c, &SessionController::analysisFailed, this,
        [this, resync](const TensorRef&, const QString& message) {
            resync();
            if (!m_controller->currentAnalysis())
                m_distribution->showMessage(message);
        });
    connect(c, &SessionController::analysisCancelled, this, [this, resync](const TensorRef& tensor) {
        resync();
        statusBar()->showMessage(tr("Cancelled the analysis of %1.").arg(tensor.name), 5000);
    });
    connect(c, &SessionController::analysisCleared, this, [this] {
        m_statistics->clear();
        if (m_controller->openFiles().empty())
            m_distribution->showWelcome();
        else
            m_distribution->showMessage(tr("Select a tensor in the Tensors panel."));
        updateTitle();
    });
    connect(c, &SessionController::channelHistogramReady, m_distribution,
        &DistributionView::showChannelHistogram);
    connect(c, &SessionController::errorOccurred, this, &MainWindow::showError);
    connect(c, &SessionController::activityChanged, this,
        [this](const QString& d, int p) { setSourceActivity(ControllerSource, d, p); });

    connect(m_settingsFiles, &SettingsFileTask::activityChanged, this,
        [this](const QString& d, int p) { setSourceActivity(SettingsFileSource, d, p); });
    connect(m_settingsFiles, &SettingsFileTask::failed, this, &MainWindow::showError);
    connect(
        m_settingsFiles, &SettingsFileTask::exportFinished, this, [this](const QString& path, int tensors) {
            statusBar()->showMessage(tr("Exported the settings of %n tensor(s) to %1.", nullptr, tensors)
                                         .arg(QDir::toNativeSeparators(path)),
                8000);
        });
    connect(m_settingsFiles, &SettingsFileTask::importRead, this,
        [this](const QString& path, const qs::LoadedSettings& loaded, const qs::SettingsMatch& match,
            const std::vector<ImportTarget>& targets) {
            auto* dialog = new ImportReportDialog(QFileInfo(path).fileName(), loaded, match, this);
            dialog->setObjectName(QStringLiteral("importReportDialog"));
            dialog->setAttribute(Qt::WA_DeleteOnClose);
            connect(dialog, &QDialog::accepted, this,
                [this, match, targets] { applyImportedSettings(match, targets); });
            dialog->open();
        });
    connect(m_activity, &ActivityIndicator::cancelRequested, this, [this] {
        m_settingsFiles->cancel();
        m_controller->cancel();
        m_calibration->cancel();
        m_compare->cancel();
        m_kernels->cancel();
    });
    connect(m_browser, &TensorBrowser::tensorSelected, c, &SessionController::selectTensor);
    connect(c, &SessionController::tensorStatsReady, m_browser, &TensorBrowser::setTensorStats);
    connect(m_browser, &TensorBrowser::closeFileRequested, c, &SessionController::closeFile);
    connect(m_distribution, &DistributionView::channelAxisRequested, c, &SessionController::setChannelAxis);
    connect(
        m_distribution, &DistributionView::channelRequested, c, &SessionController::requestChannelHistogram);
    connect(
        m_distribution, &DistributionView::channelShown, m_statistics, &StatisticsPanel::setSelectedChannel);
    connect(m_distribution, &DistributionView::openRequested, this, &MainWindow::showOpenDialog);
    connect(m_distribution, &DistributionView::hoverTextChanged, this, [this](const QString& text) {
        if (text.isEmpty())
            statusBar()->clearMessage();
        else
            statusBar()->showMessage(text);
    });
    connect(
        m_statistics, &StatisticsPanel::channelActivated, m_distribution, &DistributionView::selectChannel);
}

void MainWindow::openFiles(const QStringList& paths)
{
    for (const QString& path : paths) {
        const QString absolute = QFileInfo(path).absoluteFilePath();
        if (const OpenFile* open = m_controller->fileForPath(absolute)) {
            statusBar()->showMessage(tr("%1 is already open.").arg(open->fileName()), 5000);
            continue;
        }
        if (m_controller->openFile(absolute) && !m_controller->selectedTensor().isValid()
            && !m_controller->currentAnalysis())
            m_autoSelectQueue << absolute;
        m_lastDirectory = QFileInfo(absolute).absolutePath();
    }
}

void MainWindow::autoSelect()
{
    while (!m_autoSelectQueue.isEmpty()) {
        if (m_controller->selectedTensor().isValid() || m_controller->currentAnalysis()) {
            m_autoSelectQueue.clear();
            return;
        }
        const OpenFile* file = m_controller->fileForPath(m_autoSelectQueue.first());
        if (!file)
            return; // still opening
        m_autoSelectQueue.removeFirst();
        if (selectFirstLoadableTensor(*file)) {
            m_autoSelectQueue.clear();
            return;
        }
    }
}

void MainWindow::onFileOpened(const OpenFile& file)
{
    m_browser->addFile(file);
    if (m_settingsMode == SettingsMode::Persistent)
        RecentFiles().add(file.path);
    statusBar()->showMessage(
        tr("Opened %1: %2, %3")
            .arg(file.fileName(), tensorCountText(static_cast<std::int64_t>(file.file->tensors().size())),
                QString::fromStdString(file.file->formatName())),
        5000);
    autoSelect();
    updateActions();
    updateTitle();
}

void MainWindow::onFileClosed()
{
    markTabsStale();
    if (m_controller->openFiles().empty()) {
        m_distribution->showWelcome();
        m_statistics->clear();
    }
    updateActions();
    updateTitle();
}

void MainWindow::selectTensor(const TensorRef& tensor)
{
    m_browser->showTensor(tensor);
    m_controller->selectTensor(tensor);
}

QString MainWindow::selectTensorByName(const QString& name)
{
    const std::string stdName = name.toStdString();
    for (const OpenFile& file : m_controller->openFiles()) {
        const qs::TensorInfo* info = file.file->find(stdName);
        if (!info)
            continue;
        if (!info->loadable())
            return tr("%1: tensor \u201c%2\u201d cannot be loaded (element type %3).")
                .arg(file.fileName(), name, QString::fromStdString(info->dtypeName));
        selectTensor(TensorRef {file.id, name});
        return {};
    }
    return tr("No open file has a tensor named \u201c%1\u201d.").arg(name);
}

bool MainWindow::selectFirstLoadableTensor()
{
    for (const OpenFile& file : m_controller->openFiles()) {
        if (selectFirstLoadableTensor(file))
            return true;
    }
    return false;
}

bool MainWindow::selectFirstLoadableTensor(const OpenFile& file)
{
    for (const qs::TensorInfo& info : file.file->tensors()) {
        if (info.loadable()) {
            selectTensor(TensorRef {file.id, QString::fromStdString(info.name)});
            return true;
        }
    }
    return false;
}

void MainWindow::showOpenDialog()
{
    const QStringList paths = QFileDialog::getOpenFileNames(this, tr("Open Tensor Files"), m_lastDirectory,
        tr("Tensor files (*.safetensors *.index.json *.npy *.npz *.h5 *.hdf5);;All files (*)"));
    if (paths.isEmpty())
        return;
    m_lastDirectory = QFileInfo(paths.first()).absolutePath();
    openFiles(paths);
}

void MainWindow::closeCurrentFile()
{
    int fileId = m_browser->currentFileId();
    if (fileId < 0 && m_controller->currentAnalysis())
        fileId = m_controller->currentAnalysis()->fileId;
    if (fileId < 0 && m_controller->openFiles().size() == 1)
        fileId = m_controller->openFiles().front().id;
    m_controller->closeFile(fileId);
}

void MainWindow::openRecentFile(const QString& path)
{
    if (!QFileInfo(path).isFile()) {
        RecentFiles().remove(path);
        showInformation(tr("%1 no longer exists; it was removed from the recent files.")
                            .arg(QDir::toNativeSeparators(path)));
        return;
    }
    openFiles({path});
}

void MainWindow::updateRecentMenu()
{
    m_recentMenu->clear();
    const QStringList files
        = m_settingsMode == SettingsMode::Persistent ? RecentFiles().files() : QStringList();
    int number = 1;
    for (const QString& path : files) {
        const QString label = number < 10
            ? QStringLiteral("&%1  %2").arg(number).arg(QFileInfo(path).fileName())
            : QStringLiteral("%1  %2").arg(number).arg(QFileInfo(path).fileName());
        QAction* action = m_recentMenu->addAction(label, this, [this, path] { openRecentFile(path); });
        action->setToolTip(QDir::toNativeSeparators(path));
        action->setStatusTip(QDir::toNativeSeparators(path));
        ++number;
    }
    if (files.isEmpty()) {
        m_recentMenu->addAction(tr("No Recent Files"))->setEnabled(false);
        return;
    }
    m_recentMenu->addSeparator();
    m_recentMenu->addAction(tr("Clear Menu"), this, [] { RecentFiles().clear(); });
}

void MainWindow::updateActions()
{
    m_closeFile->setEnabled(!m_controller->openFiles().empty());
    m_exportSettings->setEnabled(!m_controller->chosenSettings().empty());
    m_importSettings->setEnabled(!m_controller->openFiles().empty());
}

void MainWindow::exportSettings()
{
    const ChosenSetting* current = m_controller->chosenSetting(m_controller->selectedTensor());
    ExportSettingsDialog options(current ? std::optional<ChosenSetting>(*current) : std::nullopt,
        m_controller->chosenSettings(), this);
    if (options.exec() != QDialog::Accepted)
        return;
    const bool json = options.format() == qs::SettingsFormat::Quantscope;
    const QString suggested = QDir(m_lastDirectory)
                                  .filePath(options.format() == qs::SettingsFormat::TensorRt
                                          ? QStringLiteral("calibration.cache")
                                          : (json ? QStringLiteral("quantscope-settings.json")
                                                  : QStringLiteral("quantscope.encodings")));
    const QString path
        = QFileDialog::getSaveFileName(this, tr("Export Settings"), suggested, options.fileFilter());
    if (path.isEmpty())
        return;
    m_lastDirectory = QFileInfo(path).absolutePath();
    if (!m_settingsFiles->startExport(options.selection(), options.format(), path))
        showError(tr("Another settings file is being written or read; try again when it has finished."));
}

void MainWindow::importSettings()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Import Settings"), m_lastDirectory,
        tr("Settings files (*.json *.encodings *.cache *.txt);;All files (*)"));
    if (path.isEmpty())
        return;
    m_lastDirectory = QFileInfo(path).absolutePath();
    if (!m_settingsFiles->startImport(path, importTargets()))
        showError(tr("Another settings file is being written or read; try again when it has finished."));
}

std::vector<ImportTarget> MainWindow::importTargets() const
{
    std::vector<ImportTarget> targets;
    for (const OpenFile& file : m_controller->openFiles())
        for (const qs::TensorInfo& info : file.file->tensors())
            targets.push_back({file.path.toStdString(), info});
    return targets;
}

void MainWindow::applyImportedSettings(
    const qs::SettingsMatch& match, const std::vector<ImportTarget>& targets)
{
    const std::vector<ChosenSetting> chosen = chosenFromImport(match, targets);
    for (const ChosenSetting& c : chosen)
        m_controller->choose(c);
    statusBar()->showMessage(tr("Applied %n imported setting(s).", nullptr, int(chosen.size())), 8000);
}

void MainWindow::updateTitle()
{
    const AnalysisPtr analysis = m_controller->currentAnalysis();
    if (analysis)
        setWindowTitle(tr("%1 \u2014 %2 \u2014 Quantscope")
                           .arg(QString::fromStdString(analysis->info.name),
                               QFileInfo(QString::fromStdString(analysis->filePath)).fileName()));
    else
        setWindowTitle(tr("Quantscope"));
}

void MainWindow::showError(const QString& message)
{
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Quantscope"), message, QMessageBox::Ok, this);
    box->setObjectName(QStringLiteral("errorMessageBox"));
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

void MainWindow::showInformation(const QString& message)
{
    auto* box = new QMessageBox(QMessageBox::Information, tr("Quantscope"), message, QMessageBox::Ok, this);
    box->setObjectName(QStringLiteral("informationMessageBox"));
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

void MainWindow::showAbout()
{
    auto* box
        = new QMessageBox(QMessageBox::NoIcon, tr("About Quantscope"), aboutText(), QMessageBox::Ok, this);
    box->setIconPixmap(windowIcon().pixmap(64, 64));
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
}

void MainWindow::restoreSettings()
{
    QSettings settings;
    restoreGeometry(settings.value(kGeometryKey).toByteArray());
    restoreState(settings.value(kStateKey).toByteArray());
    const QString directory = settings.value(kLastDirectoryKey).toString();
    if (!directory.isEmpty() && QFileInfo(directory).isDir())
        m_lastDirectory = directory;
    if (const auto scheme = loadSchemeSettings(settings))
        m_scheme->setSettings(*scheme);
}

void MainWindow::saveSettings()
{
    QSettings settings;
    settings.setValue(kGeometryKey, saveGeometry());
    settings.setValue(kStateKey, saveState());
    settings.setValue(kLastDirectoryKey, m_lastDirectory);
    storeSchemeSettings(settings, m_scheme->settings());
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    m_controller->cancel();
    m_calibration->cancel();
    m_compare->cancel();
    m_kernels->cancel();
    if (m_settingsMode == SettingsMode::Persistent)
        saveSettings();
    event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event)
{
    if (!localFiles(event->mimeData()).isEmpty())
        event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event)
{
    const QStringList files = localFiles(event->mimeData());
    if (files.isEmpty())
        return;
    event->acceptProposedAction();
    openFiles(files);
}

} // namespace qs::gui
