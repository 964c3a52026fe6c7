// SchemePanel: every control gives the right Scheme / CalibrationOptions, controls that do not apply are
// disabled or hidden, invalid combinations show the reason instead of being emitted, and the settings
// round-trip through QSettings.
#include "quant/scheme.h"
#include "schemepanel.h"
#include "schemesettingsstore.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QGroupBox>
#include <QLabel>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTest>

using namespace qs::gui;

namespace {

void choose(QComboBox* combo, const QString& data)
{
    const int index = combo->findData(data);
    QVERIFY2(index >= 0, qPrintable(data));
    combo->setCurrentIndex(index);
}

QStringList itemData(const QComboBox* combo)
{
    QStringList data;
    for (int i = 0; i < combo->count(); ++i)
        data << combo->itemData(i).toString();
    return data;
}

SchemeSettings lastEmitted(const QSignalSpy& spy)
{
    return spy.last().at(0).value<SchemeSettings>();
}

} // namespace

class TestSchemePanel : public QObject {
    Q_OBJECT

private slots:
    void defaultsAreInt8PerTensorMinMax()
    {
        SchemePanel panel;
        QCOMPARE(panel.settings(), SchemeSettings {});
        QVERIFY(panel.problem().isEmpty());
        QVERIFY(!panel.useButton()->isEnabled());
    }

    void everyFormatIsOfferedOnce()
    {
        SchemePanel panel;
        const QStringList offered = itemData(panel.formatCombo());
        for (const qs::NumberFormat& format : qs::allFormats())
            QCOMPARE(offered.count(QString::fromStdString(format.name)), 1);
        for (const qs::BlockFormat block : qs::allBlockFormats())
            QCOMPARE(offered.count(QString::fromStdString(qs::blockFormatName(block))), 1);
    }

    void formatAndGranularity()
    {
        SchemePanel panel;
        QSignalSpy spy(&panel, &SchemePanel::settingsChanged);
        choose(panel.formatCombo(), QStringLiteral("nf4"));
        QCOMPARE(spy.count(), 1);
        QCOMPARE(lastEmitted(spy).scheme.format, qs::nf4Format());

        panel.granularityCombo()->setCurrentIndex(1);
        panel.axisSpin()->setValue(1);
        QCOMPARE(lastEmitted(spy).scheme.granularity, qs::Granularity::perChannel(1));

        panel.granularityCombo()->setCurrentIndex(2);
        panel.groupSizeSpin()->setValue(64);
        panel.axisSpin()->setValue(-1);
        QCOMPARE(lastEmitted(spy).scheme.granularity, qs::Granularity::perGroup(64, -1));

        panel.granularityCombo()->setCurrentIndex(3);
        panel.blockRowsSpin()->setValue(32);
        panel.blockColsSpin()->setValue(16);
        QCOMPARE(lastEmitted(spy).scheme.granularity, qs::Granularity::block2D(32, 16));
        QCOMPARE(panel.settings(), lastEmitted(spy));
    }

    void parameterRowsFollowTheChoice()
    {
        SchemePanel panel;
        panel.show();
        QVERIFY(!panel.axisSpin()->isVisible());
        panel.granularityCombo()->setCurrentIndex(1);
        QVERIFY(panel.axisSpin()->isVisible());
        QVERIFY(!panel.groupSizeSpin()->isVisible());
        panel.granularityCombo()->setCurrentIndex(2);
        QVERIFY(panel.groupSizeSpin()->isVisible());

        QVERIFY(!panel.e8m0RoundingCombo()->isVisible());
        choose(panel.scaleFormatCombo(), QStringLiteral("e8m0"));
        QVERIFY(panel.e8m0RoundingCombo()->isVisible());
        choose(panel.e8m0RoundingCombo(), QStringLiteral("rceil"));
        QCOMPARE(panel.settings().scheme.scaleFormat, qs::ScaleFormat::E8M0);
        QCOMPARE(panel.settings().scheme.e8m0Rounding, qs::E8M0Rounding::RCeil);

        QVERIFY(!panel.percentileSpin()->isVisible());
        QVERIFY(!panel.binsSpin()->isVisible());
        choose(panel.methodCombo(), QStringLiteral("percentile"));
        QVERIFY(panel.percentileSpin()->isVisible());
        QVERIFY(!panel.binsSpin()->isVisible()); // native percentile is exact, no histogram
        choose(panel.compatCombo(), QStringLiteral("modelopt"));
        QVERIFY(panel.binsSpin()->isVisible());
    }

    void rangeModeOnlyForIntegers()
    {
        SchemePanel panel;
        QSignalSpy spy(&panel, &SchemePanel::settingsChanged);
        choose(panel.rangeModeCombo(), QStringLiteral("affine"));
        QCOMPARE(lastEmitted(spy).scheme.rangeMode, qs::RangeMode::Affine);
        choose(panel.rangeModeCombo(), QStringLiteral("symfull"));
        QCOMPARE(lastEmitted(spy).scheme.rangeMode, qs::RangeMode::SymmetricFull);
        QVERIFY(panel.rangeModeCombo()->isEnabled());
        choose(panel.formatCombo(), QStringLiteral("fp8_e4m3"));
        QVERIFY(!panel.rangeModeCombo()->isEnabled());
        QVERIFY(panel.noteLabel()->text().contains(QStringLiteral("integers only")));
    }

    void blockFormatsFixGranularityAndScales()
    {
        SchemePanel panel;
        QSignalSpy spy(&panel, &SchemePanel::settingsChanged);
        panel.granularityCombo()->setCurrentIndex(2);
        choose(panel.formatCombo(), QStringLiteral("mxfp4"));
        const SchemeSettings s = lastEmitted(spy);
        QCOMPARE(s.scheme.blockFormat, qs::BlockFormat::MXFP4);
        QCOMPARE(s.scheme.granularity, qs::Granularity::perTensor());
        QVERIFY(!panel.granularityCombo()->isEnabled());
        QVERIFY(!panel.scaleFormatCombo()->isEnabled());
        QVERIFY(!panel.methodCombo()->isEnabled());
        QVERIFY(panel.noteLabel()->text().contains(QStringLiteral("mxfp4")));
        QVERIFY(panel.problem().isEmpty());

        choose(panel.formatCombo(), QStringLiteral("ternary"));
        QVERIFY(!panel.methodCombo()->isEnabled());
        QVERIFY(panel.granularityCombo()->isEnabled());
        QVERIFY(panel.noteLabel()->text().contains(QStringLiteral("BitNet")));
    }

    void compatibilityModesPerMethod_data()
    {
        QTest::addColumn<QString>("method");
        QTest::addColumn<QStringList>("modes");
        const auto row = [](const char* method, const char* modes) {
            QTest::newRow(method) << QString::fromLatin1(method)
                                  << QString::fromLatin1(modes).split(QLatin1Char(' '));
        };
        row("minmax", "native modelopt pytorch onnxruntime tensorrt");
        row("ema", "native pytorch onnxruntime");
        row("percentile", "native modelopt onnxruntime");
        row("entropy", "native modelopt onnxruntime tensorrt");
        row("mse", "native modelopt");
        row("histogram-observer", "pytorch");
    }

    void compatibilityModesPerMethod()
    {
        QFETCH(QString, method);
        QFETCH(QStringList, modes);
        SchemePanel panel;
        choose(panel.methodCombo(), method);
        QCOMPARE(itemData(panel.compatCombo()), modes);
        for (const QString& mode : modes) {
            choose(panel.compatCombo(), mode);
            QCOMPARE(
                QString::fromStdString(qs::calibrationMethodName(panel.settings().options.method)), method);
            QCOMPARE(QString::fromStdString(qs::compatibilityName(panel.settings().options.compat)), mode);
            QVERIFY2(panel.problem().isEmpty(), qPrintable(panel.problem()));
        }
    }

    void parametersReachTheOptions()
    {
        SchemePanel panel;
        QSignalSpy spy(&panel, &SchemePanel::settingsChanged);
        choose(panel.methodCombo(), QStringLiteral("percentile"));
        panel.percentileSpin()->setValue(99.9);
        QCOMPARE(lastEmitted(spy).options.percentile, 99.9);
        choose(panel.compatCombo(), QStringLiteral("onnxruntime"));
        panel.binsSpin()->setValue(4096);
        QCOMPARE(lastEmitted(spy).options.bins, 4096);
        QCOMPARE(lastEmitted(spy).options.compat, qs::Compatibility::OnnxRuntime);
        panel.batchesSpin()->setValue(4);
        QCOMPARE(lastEmitted(spy).batches, 4);
        // A method without a percentile does not carry one.
        choose(panel.methodCombo(), QStringLiteral("minmax"));
        QCOMPARE(lastEmitted(spy).options.percentile, 0.0);
        QCOMPARE(lastEmitted(spy).options.bins, 0);
    }

    void invalidCombinationShowsTheReasonAndIsNotEmitted()
    {
        SchemePanel panel;
        QSignalSpy spy(&panel, &SchemePanel::settingsChanged);
        choose(panel.methodCombo(), QStringLiteral("entropy"));
        choose(panel.compatCombo(), QStringLiteral("onnxruntime"));
        const int before = spy.count();
        panel.granularityCombo()->setCurrentIndex(1);
        QCOMPARE(spy.count(), before);
        QVERIFY2(panel.problem().contains(QStringLiteral("per tensor")), qPrintable(panel.problem()));
        QVERIFY(!panel.problemLabel()->isHidden());
        // Back to the last valid choice: the reason goes; nothing new to emit.
        panel.granularityCombo()->setCurrentIndex(0);
        QVERIFY(panel.problem().isEmpty());
        QCOMPARE(spy.count(), before);
        QCOMPARE(panel.settings(), lastEmitted(spy));
    }

    void externalProblemUntilTheNextChange()
    {
        SchemePanel panel;
        panel.setProblem(QStringLiteral("group size 128 does not fit"));
        QCOMPARE(panel.problem(), QStringLiteral("group size 128 does not fit"));
        choose(panel.formatCombo(), QStringLiteral("int4"));
        QVERIFY(panel.problem().isEmpty());
    }

    void setSettingsRoundTripsAndEmitsOnce()
    {
        SchemePanel panel;
        QSignalSpy spy(&panel, &SchemePanel::settingsChanged);
        SchemeSettings s;
        s.scheme.format = qs::formatByName("int4");
        s.scheme.granularity = qs::Granularity::perGroup(128, -1);
        s.scheme.rangeMode = qs::RangeMode::Affine;
        s.scheme.scaleFormat = qs::ScaleFormat::F16;
        s.options.method = qs::CalibrationMethod::Mse;
        s.batches = 2;
        panel.setSettings(s);
        QCOMPARE(spy.count(), 1);
        QCOMPARE(panel.settings(), s);
        panel.setSettings(s);
        QCOMPARE(spy.count(), 1);

        SchemeSettings block;
        block.scheme.blockFormat = qs::BlockFormat::NVFP4;
        panel.setSettings(block);
        QCOMPARE(panel.settings().scheme.blockFormat, qs::BlockFormat::NVFP4);
    }

    void settingsPersist()
    {
        QTemporaryDir dir;
        QSettings store(dir.filePath(QStringLiteral("s.ini")), QSettings::IniFormat);
        QVERIFY(!loadSchemeSettings(store));
        SchemeSettings s;
        s.scheme.format = qs::formatByName("fp8_e4m3");
        s.scheme.granularity = qs::Granularity::perChannel(1);
        s.scheme.scaleFormat = qs::ScaleFormat::E8M0;
        s.scheme.e8m0Rounding = qs::E8M0Rounding::Ceil;
        s.options.method = qs::CalibrationMethod::Percentile;
        s.options.compat = qs::Compatibility::ModelOpt;
        s.options.percentile = 99.9;
        s.options.bins = 1024;
        s.batches = 3;
        storeSchemeSettings(store, s);
        QCOMPARE(loadSchemeSettings(store), std::optional<SchemeSettings>(s));

        SchemeSettings block;
        block.scheme.blockFormat = qs::BlockFormat::BnbNF4;
        storeSchemeSettings(store, block);
        QCOMPARE(loadSchemeSettings(store)->scheme.blockFormat, qs::BlockFormat::BnbNF4);

        store.setValue(QStringLiteral("scheme/format"), QStringLiteral("int99x"));
        QVERIFY(!loadSchemeSettings(store));
    }
};

QTEST_MAIN(TestSchemePanel)
#include "tst_gui_schemepanel.moc"
