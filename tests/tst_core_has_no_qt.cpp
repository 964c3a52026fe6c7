#include <QDirIterator>
#include <QFile>
#include <QRegularExpression>
#include <QtTest>

// DESIGN.md §2: nothing under core/ may include a Qt header (or QCustomPlot), so the core builds and links
// without Qt and stays usable from the CLI and benchmarks.
class TestCoreHasNoQt : public QObject {
    Q_OBJECT

private slots:
    void noQtIncludesUnderCore()
    {
        const QString coreDir = QStringLiteral(QS_SOURCE_DIR "/core");
        QVERIFY(QDir(coreDir).exists());
        const QRegularExpression qtInclude(
            QStringLiteral("^\\s*#\\s*include\\s*[<\"](Q[A-Za-z]|qcustomplot|qt)"),
            QRegularExpression::MultilineOption);
        int scanned = 0;
        QStringList offenders;
        QDirIterator it(coreDir,
            {QStringLiteral("*.h"), QStringLiteral("*.hpp"), QStringLiteral("*.cpp"), QStringLiteral("*.cu"),
                QStringLiteral("*.cuh")},
            QDir::Files, QDirIterator::Subdirectories);
        while (it.hasNext()) {
            QFile file(it.next());
            QVERIFY(file.open(QIODevice::ReadOnly));
            ++scanned;
            if (qtInclude.match(QString::fromUtf8(file.readAll())).hasMatch())
                offenders << file.fileName();
        }
        QVERIFY2(scanned > 5, "the scan found almost no core sources; is QS_SOURCE_DIR right?");
        QVERIFY2(offenders.isEmpty(),
            qPrintable(
                QStringLiteral("Qt headers included in core: ") + offenders.join(QStringLiteral(", "))));
    }

    void coreCMakeDoesNotLinkQt()
    {
        QFile cmake(QStringLiteral(QS_SOURCE_DIR "/core/CMakeLists.txt"));
        QVERIFY(cmake.open(QIODevice::ReadOnly));
        QVERIFY(!QString::fromUtf8(cmake.readAll()).contains(QStringLiteral("Qt6::")));
    }
};

QTEST_APPLESS_MAIN(TestCoreHasNoQt)
#include "tst_core_has_no_qt.moc"
