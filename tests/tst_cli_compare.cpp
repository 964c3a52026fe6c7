#include "cli_process.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>
#include <cmath>
#include <string>

// End-to-end checks of `quantscope-cli compare` and `quantscope-cli formats`.
class TestCliCompare : public QObject {
    Q_OBJECT

    using Result = CliResult;
    static Result run(const QStringList& arguments) { return runCli(arguments); }

    static QString sample(const char* name)
    {
        return QStringLiteral(QS_SAMPLES_DIR "/") + QLatin1String(name);
    }

    static QJsonArray jsonArray(const Result& r)
    {
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(r.out, &error);
        if (error.error != QJsonParseError::NoError || !doc.isArray())
            return {};
        return doc.array();
    }

    static QJsonObject cell(const QJsonArray& cells, const QString& format, const QString& granularity)
    {
        for (const QJsonValue& v : cells) {
            const QJsonObject o = v.toObject();
            if (o.value(QStringLiteral("format")).toString() == format
                && o.value(QStringLiteral("granularity")).toString() == granularity)
                return o;
        }
        return {};
    }

    static double sqnr(const QJsonArray& cells, const char* format, const char* granularity)
    {
        return cell(cells, QLatin1String(format), QLatin1String(granularity))
            .value(QStringLiteral("sqnr_db"))
            .toDouble(-1e9);
    }

private slots:
    void defaultMatrixAsJson()
    {
        const Result r
            = run({QStringLiteral("compare"), sample("tiny_llm.safetensors"), QStringLiteral("--tensor"),
                QStringLiteral("model.layers.0.mlp.down_proj.weight"), QStringLiteral("--json")});
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.err.isEmpty(), r.err.constData());
        const QJsonArray cells = jsonArray(r);
        // 13 element formats and 15 block formats x (4 granularities + native).
        QCOMPARE(cells.size(), 28 * 5);
        int computed = 0;
        for (const QJsonValue& v : cells) {
            const QJsonObject o = v.toObject();
            for (const char* key : {"format", "granularity", "scheme", "mse", "rmse", "sqnr_db",
                     "max_abs_error", "mean_abs_error", "rel_rmse", "cosine", "p50_abs_error",
                     "p95_abs_error", "p99_abs_error", "clipped_share", "bits_per_value", "count", "error"})
                QVERIFY2(o.contains(QLatin1String(key)), key);
            if (o.value(QStringLiteral("error")).isNull()) {
                ++computed;
                QVERIFY(o.value(QStringLiteral("mse")).toDouble() > 0);
                QCOMPARE(o.value(QStringLiteral("count")).toInt(), 256 * 688);
                // BitNet ternary clamps down_proj's outlier columns away (absmean scale): cosine ~0.39.
                QVERIFY(o.value(QStringLiteral("cosine")).toDouble() > 0.3);
            } else {
                QVERIFY(o.value(QStringLiteral("sqnr_db")).isNull());
                QVERIFY(!o.value(QStringLiteral("error")).toString().isEmpty());
            }
        }
        // Every element format at 4 granularities, and at least the MX, NVFP4 and bitsandbytes blocks (ggml
        // needs rows of whole 32-blocks; 688 is not a multiple of 32).
        QVERIFY2(computed >= 13 * 4 + 9, qPrintable(QString::number(computed)));
        for (const char* g : {"tensor", "channel:0", "group:128", "block:128x128"}) {
            QVERIFY2(sqnr(cells, "int8", g) > sqnr(cells, "int4", g), g);
            QVERIFY2(sqnr(cells, "int4", g) > sqnr(cells, "ternary", g), g);
        }
        // Finer granularity helps; scales cost bits.
        QVERIFY(sqnr(cells, "int8", "group:128") > sqnr(cells, "int8", "tensor"));
        const QJsonObject int4g = cell(cells, QStringLiteral("int4"), QStringLiteral("group:128"));
        QCOMPARE(
            int4g.value(QStringLiteral("bits_per_value")).toDouble(), 4.0 + 32.0 * 256 * 6 / (256.0 * 688));
        QCOMPARE(cell(cells, QStringLiteral("int8"), QStringLiteral("tensor"))
                     .value(QStringLiteral("bits_per_value"))
                     .toDouble(),
            8.0 + 32.0 / (256 * 688));
        // Block formats only at their own blocks.
        const QJsonObject mx = cell(cells, QStringLiteral("mxfp4"), QStringLiteral("native"));
        QVERIFY(mx.value(QStringLiteral("error")).isNull());
        QCOMPARE(mx.value(QStringLiteral("bits_per_value")).toDouble(), 4.25);
        QVERIFY(!cell(cells, QStringLiteral("mxfp4"), QStringLiteral("tensor"))
                     .value(QStringLiteral("error"))
                     .isNull());
        QVERIFY(!cell(cells, QStringLiteral("int8"), QStringLiteral("native"))
                     .value(QStringLiteral("error"))
                     .isNull());
        QVERIFY(cell(cells, QStringLiteral("q4_0"), QStringLiteral("native"))
                    .value(QStringLiteral("error"))
                    .toString()
                    .contains(QStringLiteral("32")));
    }

    /// Fused cells (tensors of at least 65536 values) leave the percentiles null; --percentiles computes
    /// them, with the other numbers equal up to the summation order.
    void percentilesOnRequest()
    {
        const QStringList base {QStringLiteral("compare"), sample("tiny_llm.safetensors"),
            QStringLiteral("--tensor"), QStringLiteral("model.layers.0.mlp.down_proj.weight"),
            QStringLiteral("--formats"), QStringLiteral("int8,mxfp4"), QStringLiteral("--granularities"),
            QStringLiteral("channel:0"), QStringLiteral("--json")};
        const Result fast = run(base);
        QCOMPARE(fast.exitCode, 0);
        const Result exact = run(base + QStringList {QStringLiteral("--percentiles")});
        QCOMPARE(exact.exitCode, 0);
        for (const char* format : {"int8", "mxfp4"}) {
            const char* granularity = std::string(format) == "int8" ? "channel:0" : "native";
            const QJsonObject a = cell(jsonArray(fast), QLatin1String(format), QLatin1String(granularity));
            const QJsonObject b = cell(jsonArray(exact), QLatin1String(format), QLatin1String(granularity));
            QVERIFY2(a.value(QStringLiteral("error")).isNull(), format);
            for (const char* key : {"p50_abs_error", "p95_abs_error", "p99_abs_error"}) {
                QVERIFY2(a.value(QLatin1String(key)).isNull(), key);
                QVERIFY2(b.value(QLatin1String(key)).toDouble() > 0, key);
            }
            QCOMPARE(a.value(QStringLiteral("count")).toInt(), b.value(QStringLiteral("count")).toInt());
            // The fused kernels form e in float (kernels.h): the largest e is the reference's rounded to
            // float.
            QCOMPARE(float(a.value(QStringLiteral("max_abs_error")).toDouble()),
                float(b.value(QStringLiteral("max_abs_error")).toDouble()));
            const double sqnrA = a.value(QStringLiteral("sqnr_db")).toDouble();
            const double sqnrB = b.value(QStringLiteral("sqnr_db")).toDouble();
            QVERIFY2(std::fabs(sqnrA - sqnrB) <= 1e-5, format);
        }
        const Result csv = run({QStringLiteral("compare"), sample("tiny_llm.safetensors"),
            QStringLiteral("--tensor"), QStringLiteral("model.layers.0.mlp.down_proj.weight"),
            QStringLiteral("--formats"), QStringLiteral("int8"), QStringLiteral("--granularities"),
            QStringLiteral("tensor"), QStringLiteral("--csv")});
        QCOMPARE(csv.exitCode, 0);
        // mse .. cosine, then three empty percentiles, then clipped share.
        QVERIFY2(QString::fromUtf8(csv.out).contains(
                     QRegularExpression(QStringLiteral("^int8,tensor,int8 sym tensor(,[^,]+){7},,,,[^,]+,"),
                         QRegularExpression::MultilineOption)),
            csv.out.constData());
    }

    void channelBeatsTensorForDepthwiseConv()
    {
        const Result r = run({QStringLiteral("compare"), sample("depthwise_conv.safetensors"),
            QStringLiteral("-t"), QStringLiteral("depthwise.weight"), QStringLiteral("--formats"),
            QStringLiteral("int8,fp8_e4m3,int4"), QStringLiteral("--granularities"),
            QStringLiteral("tensor,channel:0"), QStringLiteral("--json")});
        QCOMPARE(r.exitCode, 0);
        const QJsonArray cells = jsonArray(r);
        QCOMPARE(cells.size(), 6);
        // Per-channel scales recover the small channels: > 6 dB for the uniform grids; fp8's exponent already
        // covers most of the 1e-3 ... 1 range, so it gains less.
        for (const char* f : {"int8", "int4"})
            QVERIFY2(sqnr(cells, f, "channel:0") > sqnr(cells, f, "tensor") + 6, f);
        QVERIFY(sqnr(cells, "fp8_e4m3", "channel:0") > sqnr(cells, "fp8_e4m3", "tensor"));
        // 96 channels of 9 values: one fp32 scale per 9 values.
        QCOMPARE(cell(cells, QStringLiteral("int8"), QStringLiteral("channel:0"))
                     .value(QStringLiteral("bits_per_value"))
                     .toDouble(),
            8.0 + 32.0 / 9);
    }

    void tableAndCsv()
    {
        const QStringList base {QStringLiteral("compare"), sample("tiny_llm.safetensors"),
            QStringLiteral("--tensor"), QStringLiteral("model.layers.0.self_attn.q_proj.weight"),
            QStringLiteral("--formats"), QStringLiteral("int8,nf4,mxfp4"), QStringLiteral("--granularities"),
            QStringLiteral("tensor,group:64")};
        Result r = run(base);
        QCOMPARE(r.exitCode, 0);
        const QString text = QString::fromUtf8(r.out);
        QVERIFY(text.contains(QStringLiteral("model.layers.0.self_attn.q_proj.weight  [256, 256]")));
        QVERIFY(text.contains(QStringLiteral("bits per value including scales")));
        QVERIFY(text.contains(QStringLiteral("SQNR")));
        const QStringList lines = text.split(QLatin1Char('\n'));
        const int header = int(
            lines.indexOf(QRegularExpression(QStringLiteral("^FORMAT\\s+tensor\\s+group:64\\s+native$"))));
        QVERIFY2(header >= 0, qPrintable(text));
        QVERIFY(lines.at(header + 1).startsWith(QStringLiteral("int8 ")));
        QVERIFY(lines.at(header + 3).startsWith(QStringLiteral("mxfp4 ")));
        QVERIFY(lines.at(header + 3).contains(QStringLiteral("(4.250)")));

        r = run(base + QStringList {QStringLiteral("--metric"), QStringLiteral("mse")});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(QString::fromUtf8(r.out).contains(QStringLiteral("MSE")));

        r = run(base + QStringList {QStringLiteral("--csv")});
        QCOMPARE(r.exitCode, 0);
        const QStringList rows = QString::fromUtf8(r.out).trimmed().split(QLatin1Char('\n'));
        QCOMPARE(rows.size(), 1 + 3 * 3);
        QVERIFY(rows.first().startsWith(
            QStringLiteral("format,granularity,scheme,mse,rmse,sqnr_db,max_abs_error")));
        QVERIFY(rows.first().endsWith(QStringLiteral("bits_per_value,count,error")));
        QVERIFY(rows.at(1).startsWith(QStringLiteral("int8,tensor,int8 sym tensor,")));
    }

    void schemeOptions()
    {
        const Result r = run({QStringLiteral("compare"), sample("relu_gelu_activations.npz"),
            QStringLiteral("-t"), QStringLiteral("relu"), QStringLiteral("--formats"),
            QStringLiteral("uint8,int8"), QStringLiteral("--granularities"), QStringLiteral("tensor"),
            QStringLiteral("--range"), QStringLiteral("affine"), QStringLiteral("--scale-format"),
            QStringLiteral("f16"), QStringLiteral("--json")});
        QCOMPARE(r.exitCode, 0);
        const QJsonArray cells = jsonArray(r);
        QCOMPARE(cells.size(), 2);
        const QJsonObject u8 = cell(cells, QStringLiteral("uint8"), QStringLiteral("tensor"));
        QCOMPARE(
            u8.value(QStringLiteral("scheme")).toString(), QStringLiteral("uint8 affine tensor (scale f16)"));
        QCOMPARE(u8.value(QStringLiteral("bits_per_value")).toDouble(), 8.0 + 24.0 / (256 * 512));
        // ReLU data is one-sided: int8 affine spends its zero point at -128 and loses nothing against uint8.
        QVERIFY(std::abs(sqnr(cells, "uint8", "tensor") - sqnr(cells, "int8", "tensor")) < 0.01);
    }

    void formatsJson()
    {
        const Result r = run({QStringLiteral("formats"), QStringLiteral("--json")});
        QCOMPARE(r.exitCode, 0);
        const QJsonArray list = jsonArray(r);
        QVERIFY(list.size() > 30);
        QJsonObject fp8;
        QJsonObject mxfp4;
        for (const QJsonValue& v : list) {
            const QJsonObject o = v.toObject();
            if (o.value(QStringLiteral("name")).toString() == QStringLiteral("fp8_e4m3"))
                fp8 = o;
            if (o.value(QStringLiteral("name")).toString() == QStringLiteral("mxfp4"))
                mxfp4 = o;
        }
        QCOMPARE(fp8.value(QStringLiteral("max")).toDouble(), 448.0);
        QCOMPARE(fp8.value(QStringLiteral("bits")).toInt(), 8);
        QCOMPARE(fp8.value(QStringLiteral("kind")).toString(), QStringLiteral("minifloat"));
        QVERIFY(!fp8.value(QStringLiteral("reference")).toString().isEmpty());
        QCOMPARE(mxfp4.value(QStringLiteral("kind")).toString(), QStringLiteral("block"));
        QCOMPARE(mxfp4.value(QStringLiteral("bits_per_value")).toDouble(), 4.25);
        QCOMPARE(mxfp4.value(QStringLiteral("block_size")).toInt(), 32);

        const Result text = run({QStringLiteral("formats")});
        QCOMPARE(text.exitCode, 0);
        QVERIFY(QString::fromUtf8(text.out).contains(QStringLiteral("nvfp4")));
    }

    void badInputFailsWithOneLine_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QString>("phrase");
        const QString file = sample("tiny_llm.safetensors");
        const QString tensor = QStringLiteral("model.layers.0.mlp.down_proj.weight");
        const QString compare = QStringLiteral("compare");
        const QString t = QStringLiteral("--tensor");
        QTest::newRow("unknown format") << QStringList {compare, file, t, tensor, QStringLiteral("--formats"),
            QStringLiteral("int8,fp7")} << QStringLiteral("fp8_e4m3");
        QTest::newRow("bad granularity") << QStringList {compare, file, t, tensor,
            QStringLiteral("--granularities"), QStringLiteral("group:0")}
                                         << QStringLiteral("group:0");
        QTest::newRow("bad granularity kind") << QStringList {compare, file, t, tensor,
            QStringLiteral("--granularities"), QStringLiteral("rows")}
                                              << QStringLiteral("rows");
        QTest::newRow("missing tensor") << QStringList {compare, file, t, QStringLiteral("model.nope")}
                                        << QStringLiteral("no such tensor");
        QTest::newRow("no tensor option") << QStringList {compare, file} << QStringLiteral("--tensor");
        QTest::newRow("bad metric") << QStringList {compare, file, t, tensor, QStringLiteral("--metric"),
            QStringLiteral("psnr")} << QStringLiteral("psnr");
        QTest::newRow("bad scale format")
            << QStringList {compare, file, t, tensor, QStringLiteral("--scale-format"), QStringLiteral("f64")}
            << QStringLiteral("f64");
        QTest::newRow("json and csv") << QStringList {compare, file, t, tensor, QStringLiteral("--json"),
            QStringLiteral("--csv")} << QStringLiteral("--csv");
        QTest::newRow("missing file") << QStringList {compare, QStringLiteral("/no/such.safetensors"), t,
            tensor} << QStringLiteral("such.safetensors");
    }

    void badInputFailsWithOneLine()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QString, phrase);
        const Result r = run(arguments);
        QVERIFY(r.exitCode > 0);
        QVERIFY(r.out.isEmpty());
        const QString err = QString::fromUtf8(r.err).trimmed();
        QVERIFY2(err.startsWith(QStringLiteral("quantscope-cli: error: ")), qPrintable(err));
        QVERIFY2(!err.contains(QLatin1Char('\n')), qPrintable(err));
        QVERIFY2(err.contains(phrase), qPrintable(err));
    }
};

QTEST_GUILESS_MAIN(TestCliCompare)
#include "tst_cli_compare.moc"
