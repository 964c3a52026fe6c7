// Responsiveness of the main window (issue 5), offscreen, on a 4096×4096 float32 tensor: listing a 1 GiB
// safetensors file, selecting the tensor until its histogram and statistics are on screen, percentile and
// scheme changes until their quantization is on screen, the Compare matrix until its first cells, and the
// longest UI-thread stall during each (a 1 ms timer on the UI thread: the largest gap between its ticks).
//
//   QT_QPA_PLATFORM=offscreen build/tests/benchmarks/bench_gui_responsiveness [DIR]
//
// DIR (default: the system temporary directory) receives the two input files once; they are reused.
#include "compareview.h"
#include "distributionview.h"
#include "io/writers.h"
#include "mainwindow.h"
#include "quantizationanalysis.h"
#include "schemepanel.h"
#include "sessioncontroller.h"
#include "tensoranalysis.h"

#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QTimer>
#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

using namespace qs::gui;

namespace {

/// The largest gap between ticks of a 1 ms timer on the UI thread since the last reset.
struct StallMeter {
    QElapsedTimer clock;
    qint64 last = 0;
    qint64 worst = 0;
    QTimer timer;
    StallMeter()
    {
        clock.start();
        timer.setInterval(1);
        QObject::connect(&timer, &QTimer::timeout, [this] {
            const qint64 now = clock.elapsed();
            worst = std::max(worst, now - last);
            last = now;
        });
        timer.start();
    }
    void reset()
    {
        last = clock.elapsed();
        worst = 0;
    }
};

/// Runs the event loop until `done` holds (or 60 s pass); the milliseconds it took.
template<class Done> qint64 waitUntil(Done done)
{
    QElapsedTimer t;
    t.start();
    while (!done() && t.elapsed() < 60000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 1);
    return t.elapsed();
}

QString benchTensorFile(const QDir& dir)
{
    const QString path = dir.filePath(QStringLiteral("quantscope_bench_4096.safetensors"));
    if (QFileInfo::exists(path))
        return path;
    qs::Tensor t;
    t.name = "w";
    t.shape = {4096, 4096};
    t.data.resize(std::size_t {4096} * 4096);
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (float& v : t.data)
        v = normal(rng);
    for (int row : {7, 1000, 3000})
        for (int c = 0; c < 4096; ++c)
            t.data[static_cast<std::size_t>(row) * 4096 + c] *= 30.0f;
    qs::writeSafetensors(path.toStdString(), {qs::toRawTensor(t, qs::DType::F32)});
    return path;
}

/// 1 GiB of BF16 in 512 tensors of 1024×1024, named like a checkpoint's layers.
QString oneGibFile(const QDir& dir)
{
    const QString path = dir.filePath(QStringLiteral("quantscope_bench_1gib.safetensors"));
    if (QFileInfo::exists(path))
        return path;
    std::vector<qs::RawTensor> tensors;
    qs::Tensor t;
    t.shape = {1024, 1024};
    t.data.assign(std::size_t {1024} * 1024, 0.5f);
    for (int layer = 0; layer < 64; ++layer)
        for (const char* part :
            {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "extra_proj"}) {
            t.name = "model.layers." + std::to_string(layer) + "." + part + ".weight";
            tensors.push_back(qs::toRawTensor(t, qs::DType::BF16));
        }
    qs::writeSafetensors(path.toStdString(), tensors);
    return path;
}

struct Figures {
    std::vector<qint64> times;
    qint64 worstStall = 0;
    void add(qint64 ms, qint64 stall)
    {
        times.push_back(ms);
        worstStall = std::max(worstStall, stall);
    }
    qint64 median() const
    {
        std::vector<qint64> sorted = times;
        std::sort(sorted.begin(), sorted.end());
        return sorted.empty() ? 0 : sorted[sorted.size() / 2];
    }
    qint64 worst() const { return times.empty() ? 0 : *std::max_element(times.begin(), times.end()); }
};

void print(const char* label, const Figures& f, qint64 target)
{
    std::printf("%-44s median %5lld ms  worst %5lld ms  (target %lld ms)  worst UI stall %lld ms\n", label,
        static_cast<long long>(f.median()), static_cast<long long>(f.worst()), static_cast<long long>(target),
        static_cast<long long>(f.worstStall));
}

} // namespace

int main(int argc, char* argv[])
{
    QApplication app(argc, argv);
    const QDir dir(argc > 1 ? QString::fromLocal8Bit(argv[1]) : QDir::tempPath());
    const QString tensorPath = benchTensorFile(dir);
    const QString bigPath = oneGibFile(dir);
    constexpr int kRepeats = 5;

    Figures open;
    Figures shown;
    Figures slider;
    Figures schemes;
    Figures compare;
    StallMeter stall;
    for (int round = 0; round < kRepeats; ++round) {
        MainWindow window(MainWindow::SettingsMode::Ephemeral);
        window.resize(1600, 1000);
        window.show();
        waitUntil([&] { return window.isIdle(); });

        stall.reset();
        window.openFiles({bigPath});
        open.add(waitUntil([&] { return !window.controller()->openFiles().empty(); }), stall.worst);
        // The background statistics scan of the tensor's file is let finish (it runs at idle priority).
        bool scanned = false;
        const QMetaObject::Connection scanning = QObject::connect(window.controller(),
            &SessionController::tensorStatsReady, [&](const TensorRef& tensor, const qs::SummaryStats&) {
                scanned = scanned || tensor.name == QStringLiteral("w");
            });
        window.openFiles({tensorPath});
        waitUntil([&] { return window.controller()->openFiles().size() == 2 && window.isIdle() && scanned; });
        QObject::disconnect(scanning);

        stall.reset();
        window.selectTensorByName(QStringLiteral("w"));
        const qint64 shownMs = waitUntil([&] {
            const AnalysisPtr a = window.distributionView()->analysis();
            return window.distributionView()->isShowingAnalysis() && a && a->info.name == "w";
        });
        waitUntil([&] { return window.isIdle(); });
        shown.add(shownMs, stall.worst);

        const auto change = [&](Figures& figures, const SchemeSettings& s) {
            stall.reset();
            window.schemePanel()->setSettings(s);
            const qint64 ms = waitUntil([&] {
                const QuantizationPtr q = window.distributionView()->quantization();
                return q && q->settings == s;
            });
            waitUntil([&] { return window.isIdle(); });
            figures.add(ms, stall.worst);
        };
        SchemeSettings s;
        s.options.method = qs::CalibrationMethod::Percentile;
        for (const double p : {99.9, 99.91, 99.92, 99.93, 99.94}) {
            s.options.percentile = p;
            change(slider, s);
        }
        s.options.method = qs::CalibrationMethod::MinMax;
        s.options.percentile = 0;
        s.scheme.format = qs::formatByName("int4");
        s.scheme.granularity = qs::Granularity::perGroup(128);
        change(schemes, s);
        s.scheme.format = qs::formatByName("fp8_e4m3");
        s.scheme.granularity = qs::Granularity::perChannel(0);
        change(schemes, s);

        stall.reset();
        int finished = 0;
        const QMetaObject::Connection counting = QObject::connect(window.compareView(),
            &CompareView::cellsUpdated, [&](int done, int) { finished = std::max(finished, done); });
        bool matrixDone = false;
        const QMetaObject::Connection ending = QObject::connect(
            window.compareView(), &CompareView::matrixFinished, [&](bool) { matrixDone = true; });
        window.showTab(QStringLiteral("compare"));
        compare.add(waitUntil([&] { return finished > 0; }), 0);
        waitUntil([&] { return matrixDone; });
        compare.worstStall = std::max(compare.worstStall, stall.worst);
        QObject::disconnect(counting);
        QObject::disconnect(ending);
        waitUntil([&] { return window.isIdle(); });
    }

    std::printf("4096x4096 float32, %d rounds\n", kRepeats);
    print("open 1 GiB safetensors (512 tensors) listed", open, 200);
    print("select -> histogram and stats shown", shown, 300);
    print("percentile step -> quantization redrawn", slider, 100);
    print("scheme change (int4 g128, fp8 channel)", schemes, 100);
    print("Compare tab -> first cells (stall: whole matrix)", compare, 300);
    return 0;
}
