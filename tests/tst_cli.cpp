#include "cli_process.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

// End-to-end checks of quantscope-cli: what a user or script sees (output, JSON, exit status).
class TestCli : public QObject {
    Q_OBJECT

    using Result = CliResult;
    static Result run(const QStringList& arguments) { return runCli(arguments); }

    static QString fixture(const char* name)
    {
        return QStringLiteral(QS_FIXTURES_DIR "/safetensors/") + QLatin1String(name);
    }

private slots:
    void inspectListsAndSummarises()
    {
        const Result r = run({QStringLiteral("inspect"), fixture("all_dtypes.safetensors")});
        QCOMPARE(r.exitCode, 0);
        const QString out = QString::fromUtf8(r.out);
        QVERIFY(out.contains(QStringLiteral("17 tensors")));
        QVERIFY(out.contains(QStringLiteral("F8_E8M0 (unsupported)")));
        QVERIFY(out.contains(QStringLiteral("absmax 3.25")));
        QVERIFY(r.err.isEmpty());
    }

    void inspectJsonForOneTensor()
    {
        const Result r = run({QStringLiteral("inspect"), fixture("all_dtypes.safetensors"),
            QStringLiteral("--tensor"), QStringLiteral("weights.f32"), QStringLiteral("--json")});
        QCOMPARE(r.exitCode, 0);
        QJsonParseError error;
        const QJsonObject o = QJsonDocument::fromJson(r.out, &error).object();
        QCOMPARE(error.error, QJsonParseError::NoError);
        QCOMPARE(o.value(QStringLiteral("name")).toString(), QStringLiteral("weights.f32"));
        QCOMPARE(o.value(QStringLiteral("dtype")).toString(), QStringLiteral("F32"));
        QCOMPARE(o.value(QStringLiteral("shape")).toArray(), (QJsonArray {2, 3}));
        QCOMPARE(o.value(QStringLiteral("min")).toDouble(), -2.5);
        QCOMPARE(o.value(QStringLiteral("max")).toDouble(), 3.25);
        QCOMPARE(o.value(QStringLiteral("absmax")).toDouble(), 3.25);
        QCOMPARE(o.value(QStringLiteral("nan_count")).toInt(), 0);
        QCOMPARE(o.value(QStringLiteral("inf_count")).toInt(), 0);
        const double mean = (1.0 - 2.5 + 3.25 + 0.0 - 0.0 + double(1e-3f)) / 6.0;
        QVERIFY(qAbs(o.value(QStringLiteral("mean")).toDouble() - mean) < 1e-15);
        for (const char* key :
            {"std", "kurtosis", "beyond_3sigma_share", "beyond_6sigma_share", "outlier_channels"})
            QVERIFY2(o.contains(QLatin1String(key)), key);
        QCOMPARE(o.value(QStringLiteral("outlier_channels"))
                     .toArray()
                     .first()
                     .toObject()
                     .value(QStringLiteral("channel"))
                     .toInt(),
            0);
    }

    void inspectJsonForWholeFile()
    {
        const Result r = run(
            {QStringLiteral("inspect"), fixture("sharded.safetensors.index.json"), QStringLiteral("--json")});
        QCOMPARE(r.exitCode, 0);
        const QJsonObject doc = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(doc.value(QStringLiteral("format")).toString(), QStringLiteral("safetensors (sharded)"));
        const QJsonArray tensors = doc.value(QStringLiteral("tensors")).toArray();
        QCOMPARE(tensors.size(), 3);
        QCOMPARE(tensors.at(2).toObject().value(QStringLiteral("max")).toDouble(), 4.0);
    }

    void badInputFailsWithOneLine_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("phrase");
        QTest::newRow("truncated") << QStringList {QStringLiteral("inspect"),
            fixture("truncated_data.safetensors")}
                                   << QStringLiteral("truncated");
        QTest::newRow("missing file")
            << QStringList {QStringLiteral("inspect"), QStringLiteral("/no/such/file.safetensors")}
            << QStringLiteral("cannot open");
        QTest::newRow("unknown tensor") << QStringList {QStringLiteral("inspect"),
            fixture("all_dtypes.safetensors"), QStringLiteral("--tensor"), QStringLiteral("nope")}
                                        << QStringLiteral("no such tensor");
        QTest::newRow("unsupported dtype") << QStringList {QStringLiteral("inspect"),
            fixture("all_dtypes.safetensors"), QStringLiteral("--tensor"), QStringLiteral("complex.c64")}
                                           << QStringLiteral("C64");
        QTest::newRow("bad axis") << QStringList {QStringLiteral("inspect"),
            fixture("all_dtypes.safetensors"), QStringLiteral("--tensor"), QStringLiteral("weights.f32"),
            QStringLiteral("--axis"), QStringLiteral("5")}
                                  << QStringLiteral("axis 5");
    }

    void badInputFailsWithOneLine()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, phrase);
        const Result r = run(arguments);
        QVERIFY(r.exitCode > 0);
        const QString err = QString::fromUtf8(r.err).trimmed();
        QVERIFY2(err.startsWith(QStringLiteral("quantscope-cli: error: ")), qPrintable(err));
        QVERIFY2(!err.contains(QLatin1Char('\n')), qPrintable(err));
        QVERIFY2(err.contains(phrase), qPrintable(err));
    }

    void missingArgumentsIsAnError()
    {
        QVERIFY(run({}).exitCode != 0);
        QVERIFY(run({QStringLiteral("inspect")}).exitCode != 0);
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
