#include "cli_process.h"

#include <QCryptographicHash>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

// End-to-end checks of `quantscope-cli export` and `import` on the committed sample tensors.
class TestCliExport : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

    static QString sample(const char* name)
    {
        return QStringLiteral(QS_SAMPLES_DIR "/") + QLatin1String(name);
    }

    QString out(const char* name) const { return m_dir.filePath(QLatin1String(name)); }

    static QByteArray readAll(const QString& path)
    {
        QFile file(path);
        return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
    }

    static void writeAll(const QString& path, const QByteArray& bytes)
    {
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
        file.write(bytes);
    }

    static QString describe(const CliResult& r)
    {
        return QStringLiteral("exit %1\nstdout:\n%2\nstderr:\n%3")
            .arg(r.exitCode)
            .arg(QString::fromUtf8(r.out), QString::fromUtf8(r.err));
    }

    static QJsonObject json(const QByteArray& bytes)
    {
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(bytes, &error);
        return error.error == QJsonParseError::NoError ? doc.object() : QJsonObject();
    }

private slots:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void exportsAndImportsEveryFormat_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("format");
        QTest::addColumn<int>("tensors");
        QTest::newRow("quantscope") << sample("tiny_llm.safetensors")
                                    << QStringList {"--tensors", "model.layers.0.*_proj.weight", "--method",
                                           "mse", "--granularity", "channel", "--format", "int4"}
                                    << "quantscope" << 7;
        QTest::newRow("aimet-0.6.1") << sample("tiny_llm.safetensors")
                                     << QStringList {"--tensors", "*.weight", "--method", "minmax",
                                            "--granularity", "channel"}
                                     << "aimet-0.6.1" << 21;
        QTest::newRow("aimet-1.0.0") << sample("relu_gelu_activations.npz")
                                     << QStringList {"--tensors", "gelu,relu", "--method", "percentile",
                                            "--range", "affine", "--batches", "4"}
                                     << "aimet-1.0.0" << 2;
        QTest::newRow("tensorrt") << sample("llm_activations.npy")
                                  << QStringList {"--tensors", "*", "--method", "entropy", "--compat",
                                         "tensorrt"}
                                  << "tensorrt" << 1;
    }

    void exportsAndImportsEveryFormat()
    {
        QFETCH(QString, file);
        QFETCH(QStringList, arguments);
        QFETCH(QString, format);
        QFETCH(int, tensors);
        const QString settings = out("every.") + format;
        const CliResult exported = runCli(
            QStringList {"export", file} + arguments + QStringList {"--out", settings, "--as", format});
        QVERIFY2(exported.exitCode == 0, qPrintable(describe(exported)));
        QVERIFY2(exported.out.contains(QStringLiteral("wrote %1 tensor setting").arg(tensors).toUtf8()),
            qPrintable(describe(exported)));

        const CliResult imported = runCli({"import", file, settings, "--json"});
        QVERIFY2(imported.exitCode == 0, qPrintable(describe(imported)));
        const QJsonObject report = json(imported.out);
        QCOMPARE(report.value("format").toString(), format);
        QCOMPARE(report.value("applied").toArray().size(), tensors);
        QCOMPARE(report.value("not_applied").toArray().size(), 0);

        const CliResult table = runCli({"import", file, settings});
        QVERIFY2(table.exitCode == 0, qPrintable(describe(table)));
        QVERIFY(table.out.contains(QStringLiteral("applies (%1):").arg(tensors).toUtf8()));
    }

    void settingsJsonHoldsTheSourceAndTheResults()
    {
        const QString settings = out("depthwise.json");
        const CliResult r = runCli({"export", sample("depthwise_conv.safetensors"), "--tensors",
            "depthwise.weight", "--method", "minmax", "--granularity", "channel:0", "--out", settings});
        QVERIFY2(r.exitCode == 0, qPrintable(describe(r)));
        const QJsonObject doc = json(readAll(settings));
        QCOMPARE(doc.value("schema").toString(), QStringLiteral("quantscope.settings/1"));
        const QJsonObject source = doc.value("sources").toArray().at(0).toObject();
        const QByteArray bytes = readAll(sample("depthwise_conv.safetensors"));
        QCOMPARE(source.value("size").toInteger(), bytes.size());
        QCOMPARE(source.value("sha256").toString(),
            QString::fromLatin1(QCryptographicHash::hash(bytes, QCryptographicHash::Sha256).toHex()));
        const QJsonObject tensor = doc.value("tensors").toArray().at(0).toObject();
        QCOMPARE(tensor.value("shape").toArray(), (QJsonArray {96, 1, 3, 3}));
        QCOMPARE(tensor.value("dtype").toString(), QStringLiteral("F32"));
        QCOMPARE(tensor.value("role").toString(), QStringLiteral("weight"));
        const QJsonObject results = tensor.value("results").toObject();
        QCOMPARE(results.value("scale").toArray().size(), 96);
        const QJsonArray amax = results.value("amax").toArray();
        const QJsonArray scale = results.value("scale").toArray();
        for (int c = 0; c < 96; ++c)
            QCOMPARE(float(scale.at(c).toDouble()), float(amax.at(c).toDouble()) / 127.0f);
    }

    void importListsMissingTensorsAndShapeMismatches()
    {
        const QString settings = out("mismatch.json");
        const CliResult r = runCli({"export", sample("tiny_llm.safetensors"), "--tensors",
            "model.layers.0.self_attn.q_proj.weight,model.layers.0.self_attn.k_proj.weight,model.norm.weight",
            "--method", "minmax", "--out", settings});
        QVERIFY2(r.exitCode == 0, qPrintable(describe(r)));
        QByteArray text = readAll(settings);
        text.replace(
            "\"model.layers.0.self_attn.k_proj.weight\"", "\"model.layers.9.self_attn.k_proj.weight\"");
        QJsonObject doc = json(text);
        QJsonArray tensors = doc.value("tensors").toArray();
        QJsonObject q = tensors.at(0).toObject();
        q.insert("shape", QJsonArray {128, 256});
        tensors.replace(0, q);
        doc.insert("tensors", tensors);
        writeAll(settings, QJsonDocument(doc).toJson());

        const CliResult table = runCli({"import", sample("tiny_llm.safetensors"), settings});
        QVERIFY2(table.exitCode == 1, qPrintable(describe(table)));
        QVERIFY(table.out.contains("applies (1):"));
        QVERIFY(table.out.contains("does not apply (2):"));
        QVERIFY2(table.out.contains("shape [128, 256] in the settings, [256, 256] in the file"),
            table.out.constData());
        QVERIFY(table.out.contains("model.layers.9.self_attn.k_proj.weight  missing tensor"));
        QVERIFY2(table.err.contains("2 of 3 tensor settings do not apply"), table.err.constData());

        const CliResult machine = runCli({"import", sample("tiny_llm.safetensors"), settings, "--json"});
        QCOMPARE(machine.exitCode, 1);
        const QJsonArray notApplied = json(machine.out).value("not_applied").toArray();
        QCOMPARE(notApplied.size(), 2);
        QCOMPARE(notApplied.at(0).toObject().value("kind").toString(), QStringLiteral("shape differs"));
        QCOMPARE(notApplied.at(1).toObject().value("kind").toString(), QStringLiteral("missing tensor"));
        QCOMPARE(json(machine.out).value("applied").toArray().at(0).toObject().value("tensor").toString(),
            QStringLiteral("model.norm.weight"));
    }

    void invalidSettingsAreRefusedAsAWhole()
    {
        const QString settings = out("broken.json");
        writeAll(settings, "{\"schema\": \"quantscope.settings/7\", \"tensors\": []}");
        const CliResult r = runCli({"import", sample("small_example.npy"), settings});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("broken.json: unsupported settings schema \"quantscope.settings/7\""),
            r.err.constData());
        QVERIFY(r.out.isEmpty());
        writeAll(settings, "TRT-8601-EntropyCalibration2\nsmall_example: 3c00000g\n");
        const CliResult trt = runCli({"import", sample("small_example.npy"), settings});
        QCOMPARE(trt.exitCode, 1);
        QVERIFY2(trt.err.contains("line 2: '3c00000g' is not 1 to 8 hex digits"), trt.err.constData());
    }

    void exportRefusesBadRequestsAndKeepsTheOldFile()
    {
        const QString settings = out("keep.cache");
        writeAll(settings, "old contents\n");
        const CliResult perChannel = runCli({"export", sample("depthwise_conv.safetensors"), "--tensors", "*",
            "--method", "minmax", "--granularity", "channel", "--out", settings, "--as", "tensorrt"});
        QCOMPARE(perChannel.exitCode, 1);
        QVERIFY2(
            perChannel.err.contains("tensorrt: scheme 'int8 sym channel:0' cannot be written; a TensorRT "
                                    "cache holds symmetric int8 per tensor only"),
            perChannel.err.constData());
        const CliResult noMatch = runCli({"export", sample("depthwise_conv.safetensors"), "--tensors",
            "*.running_mean", "--method", "minmax", "--out", settings});
        QCOMPARE(noMatch.exitCode, 1);
        QVERIFY2(noMatch.err.contains("no tensor matches '*.running_mean'"), noMatch.err.constData());
        const CliResult badFormat = runCli({"export", sample("depthwise_conv.safetensors"), "--tensors", "*",
            "--method", "minmax", "--out", settings, "--as", "onnx"});
        QCOMPARE(badFormat.exitCode, 1);
        QVERIFY2(badFormat.err.contains("unknown settings format 'onnx'"), badFormat.err.constData());
        QCOMPARE(readAll(settings), QByteArray("old contents\n"));

        const CliResult replaced = runCli({"export", sample("depthwise_conv.safetensors"), "--tensors", "*",
            "--method", "minmax", "--out", settings, "--as", "tensorrt"});
        QVERIFY2(replaced.exitCode == 0, qPrintable(describe(replaced)));
        QVERIFY(readAll(settings).startsWith("TRT-8601-EntropyCalibration2\ndepthwise.weight: "));
    }
};

QTEST_APPLESS_MAIN(TestCliExport)
#include "tst_cli_export.moc"
