#include "base/error.h"
#include "calib/calibration.h"
#include "export/aimet_encodings.h"
#include "export/file_digest.h"
#include "export/json_schema_validator.h"
#include "export/range_from_scale.h"
#include "export/settings_file.h"
#include "export/settings_import.h"
#include "export/settings_json.h"
#include "export/tensorrt_cache.h"
#include "formats/number_format.h"
#include "io/tensor_file.h"

#include <QTemporaryDir>
#include <QtTest>
#include <bit>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace qs;

namespace {

std::string readText(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

void writeText(const std::string& path, const std::string& text)
{
    std::ofstream out(path, std::ios::binary);
    out << text;
}

std::string fixture(const char* name)
{
    return std::string(QS_FIXTURES_DIR "/export/") + name;
}

std::string sample(const char* name)
{
    return std::string(QS_SAMPLES_DIR "/") + name;
}

/// Calibrates `name` from a sample file and returns its setting and the tensor.
std::pair<TensorSetting, Tensor> calibrated(
    const char* file, const std::string& name, const Scheme& scheme, CalibrationOptions options = {})
{
    const auto opened = TensorFile::open(sample(file));
    const Tensor tensor = opened->load(name);
    const CalibrationResult result = calibrate({tensor}, scheme, options);
    return {tensorSetting(*opened->find(name), scheme, result), tensor};
}

Scheme scheme(const char* format, const char* granularity, RangeMode mode = RangeMode::SymmetricNarrow)
{
    Scheme s;
    s.format = formatByName(format);
    s.granularity = parseGranularity(granularity);
    s.rangeMode = mode;
    return s;
}

/// The hand-written settings behind tests/fixtures/export/golden.* (see the README there).
SettingsDocument goldenDocument()
{
    SettingsDocument doc;
    doc.date = "2026-11-22T08:30:00Z";
    TensorSetting weight;
    weight.name = "fc1.weight";
    weight.shape = Shape {2, 4};
    weight.role = TensorRole::Weight;
    weight.scheme = scheme("int8", "channel:0");
    weight.ranges = {{-63.5, 63.5}, {-31.75, 31.75}};
    weight.scales = {0.5f, 0.25f};
    TensorSetting input;
    input.name = "fc1.input";
    input.shape = Shape {3, 4};
    input.role = TensorRole::Activation;
    input.scheme = scheme("int8", "tensor", RangeMode::Affine);
    input.ranges = {{-6.25, 9.6875}};
    input.scales = {0.0625f};
    input.zeroPoints = {-28};
    TensorSetting relu;
    relu.name = "relu.out";
    relu.shape = Shape {8};
    relu.role = TensorRole::Activation;
    relu.scheme = scheme("uint8", "tensor");
    relu.ranges = {{0, 7.96875}};
    relu.scales = {0.03125f};
    doc.tensors = {weight, input, relu};
    return doc;
}

/// Re-computes the scales and zero points of `setting` on `tensor` with quantize().
void checkRecomputed(const TensorSetting& setting, const Tensor& tensor, const std::vector<float>& scales,
    const std::vector<std::int32_t>& zeroPoints)
{
    const QuantizedTensor q = quantize(tensor, setting.scheme, setting.ranges);
    QCOMPARE(q.scales.size(), scales.size());
    for (std::size_t g = 0; g < scales.size(); ++g)
        QVERIFY2(std::bit_cast<std::uint32_t>(q.scales[g]) == std::bit_cast<std::uint32_t>(scales[g]),
            qPrintable(QString("%1 group %2: %3 != %4")
                           .arg(QString::fromStdString(setting.name))
                           .arg(g)
                           .arg(double(q.scales[g]), 0, 'g', 9)
                           .arg(double(scales[g]), 0, 'g', 9)));
    QCOMPARE(q.zeroPoints, zeroPoints);
}

} // namespace

class TestExport : public QObject {
    Q_OBJECT

    std::vector<std::pair<TensorSetting, Tensor>> quantscopeCases()
    {
        CalibrationOptions entropy;
        entropy.method = CalibrationMethod::Entropy;
        CalibrationOptions percentile;
        percentile.method = CalibrationMethod::Percentile;
        percentile.percentile = 99.9;
        percentile.symmetric = false;
        return {
            calibrated("depthwise_conv.safetensors", "depthwise.weight", scheme("int8", "channel:0")),
            calibrated("tiny_llm.safetensors", "model.layers.0.mlp.down_proj.weight",
                scheme("fp8_e4m3", "group:128"), entropy),
            calibrated(
                "relu_gelu_activations.npz", "gelu", scheme("int8", "tensor", RangeMode::Affine), percentile),
            calibrated(
                "small_example.npy", "small_example", scheme("int4", "channel:1", RangeMode::SymmetricFull)),
        };
    }

private slots:
    void quantscopeJsonRoundTripsEverySetting()
    {
        SettingsDocument doc;
        doc.date = "2026-11-22T08:30:00Z";
        doc.sources = {describeSourceFile(sample("depthwise_conv.safetensors"))};
        const auto cases = quantscopeCases();
        for (const auto& [setting, tensor] : cases)
            doc.tensors.push_back(setting);
        doc.tensors.back().report.sqnrDb = std::numeric_limits<double>::infinity();
        doc.tensors.back().report.cosine = -std::numeric_limits<double>::infinity();

        const std::string json = settingsToJson(doc);
        QCOMPARE(validateJsonText(json, settingsSchemaText()).size(), std::size_t(0));
        const SettingsDocument back = settingsFromJson(json);
        QVERIFY(back == doc);
        QCOMPARE(settingsToJson(back), json);
        for (std::size_t i = 0; i < cases.size(); ++i)
            checkRecomputed(
                back.tensors[i], cases[i].second, cases[i].first.scales, cases[i].first.zeroPoints);
    }

    void quantscopeJsonKeepsNaNFigures()
    {
        SettingsDocument doc = goldenDocument();
        doc.tensors[0].report.mse = std::numeric_limits<double>::quiet_NaN();
        const SettingsDocument back = settingsFromJson(settingsToJson(doc));
        QVERIFY(std::isnan(back.tensors[0].report.mse));
    }

    void aimetRoundTripsScalesAndSchemes_data()
    {
        QTest::addColumn<int>("version");
        QTest::newRow("0.6.1") << int(SettingsFormat::Aimet061);
        QTest::newRow("1.0.0") << int(SettingsFormat::Aimet100);
    }

    void aimetRoundTripsScalesAndSchemes()
    {
        QFETCH(int, version);
        const auto format = SettingsFormat(version);
        const std::vector<std::pair<TensorSetting, Tensor>> cases {
            calibrated("depthwise_conv.safetensors", "depthwise.weight", scheme("int8", "channel:0")),
            calibrated(
                "tiny_llm.safetensors", "model.layers.1.self_attn.q_proj.weight", scheme("int4", "channel")),
            calibrated("relu_gelu_activations.npz", "gelu", scheme("int8", "tensor", RangeMode::Affine)),
            calibrated("relu_gelu_activations.npz", "relu", scheme("uint8", "tensor")),
            calibrated(
                "llm_activations.npy", "llm_activations", scheme("int16", "tensor", RangeMode::Affine)),
        };
        SettingsDocument doc;
        for (const auto& [setting, tensor] : cases)
            doc.tensors.push_back(setting);
        const LoadedSettings loaded = parseSettings(serializeSettings(doc, format));
        QCOMPARE(int(loaded.format), version);
        QCOMPARE(loaded.document.rejected.size(), std::size_t(0));
        QCOMPARE(loaded.document.tensors.size(), cases.size());
        // 0.6.1 keeps tensors in JSON objects, which are sorted by name.
        for (std::size_t i = 0; i < cases.size(); ++i) {
            const TensorSetting& original = cases[i].first;
            const auto found = std::find_if(loaded.document.tensors.begin(), loaded.document.tensors.end(),
                [&](const TensorSetting& s) { return s.name == original.name; });
            QVERIFY2(found != loaded.document.tensors.end(), original.name.c_str());
            const TensorSetting& read = *found;
            QCOMPARE(read.role, original.role);
            QVERIFY2(
                read.scheme == original.scheme, qPrintable(QString::fromStdString(schemeName(read.scheme))));
            QVERIFY(read.scales == original.scales);
            QCOMPARE(read.zeroPoints, original.zeroPoints);
            QVERIFY(!read.shape);
            checkRecomputed(read, cases[i].second, original.scales, original.zeroPoints);
        }
        const SettingsMatch match = matchSettings(loaded.document,
            {*TensorFile::open(sample("depthwise_conv.safetensors"))->find("depthwise.weight")});
        QCOMPARE(match.applied.size(), std::size_t(1));
        QCOMPARE(*match.applied.front().shape, (Shape {96, 1, 3, 3}));
    }

    void tensorRtRoundTripsScales()
    {
        CalibrationOptions entropy;
        entropy.method = CalibrationMethod::Entropy;
        entropy.compat = Compatibility::TensorRT;
        const std::vector<std::pair<TensorSetting, Tensor>> cases {
            calibrated("llm_activations.npy", "llm_activations", Scheme {}, entropy),
            calibrated("attention_probs.npy", "attention_probs", Scheme {}),
            calibrated("tiny_llm.safetensors", "model.embed_tokens.weight", Scheme {}),
        };
        SettingsDocument doc;
        for (const auto& [setting, tensor] : cases)
            doc.tensors.push_back(setting);
        const LoadedSettings loaded = parseSettings(serializeSettings(doc, SettingsFormat::TensorRt));
        QCOMPARE(loaded.format, SettingsFormat::TensorRt);
        QCOMPARE(loaded.document.tensors.size(), cases.size());
        for (std::size_t i = 0; i < cases.size(); ++i) {
            const TensorSetting& read = loaded.document.tensors[i];
            QCOMPARE(read.name, cases[i].first.name);
            QVERIFY(read.scheme == Scheme {});
            QVERIFY(read.scales == cases[i].first.scales);
            checkRecomputed(read, cases[i].second, cases[i].first.scales, {});
        }
    }

    void tensorRtRefusesOtherSchemes()
    {
        SettingsDocument doc = goldenDocument();
        try {
            serializeSettings(doc, SettingsFormat::TensorRt);
            QFAIL("a per-channel scheme was written to a TensorRT cache");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("fc1.weight")
                    && QString(e.what()).contains("symmetric int8 per tensor"),
                e.what());
        }
        QVERIFY(settingsFormatProblem(SettingsFormat::TensorRt, scheme("int8", "tensor", RangeMode::Affine))
            != "");
        QVERIFY(settingsFormatProblem(SettingsFormat::TensorRt, scheme("fp8_e4m3", "tensor")) != "");
        QCOMPARE(settingsFormatProblem(SettingsFormat::TensorRt, Scheme {}), std::string());
        QVERIFY(QString::fromStdString(aimetSchemeProblem(scheme("int8", "group:32"))).contains("group:32"));
        QVERIFY(QString::fromStdString(aimetSchemeProblem(scheme("int8", "tensor", RangeMode::SymmetricFull)))
                    .contains("symfull"));
    }

    void goldenAimetFilesMatchByteForByte_data()
    {
        QTest::addColumn<int>("version");
        QTest::addColumn<QString>("file");
        QTest::newRow("0.6.1") << int(AimetVersion::V0_6_1) << "golden.aimet-0.6.1.encodings";
        QTest::newRow("1.0.0") << int(AimetVersion::V1_0_0) << "golden.aimet-1.0.0.encodings";
    }

    void goldenAimetFilesMatchByteForByte()
    {
        QFETCH(int, version);
        QFETCH(QString, file);
        const std::string golden = readText(fixture(file.toUtf8().constData()));
        QCOMPARE(QString::fromStdString(aimetEncodingsJson(goldenDocument(), AimetVersion(version))),
            QString::fromStdString(golden));

        const SettingsDocument read = aimetEncodingsFromJson(golden);
        QCOMPARE(read.tensors.size(), std::size_t(3));
        const SettingsDocument expected = goldenDocument();
        // param_encodings come first, then activation_encodings in key (0.6.1) or list (1.0.0) order.
        for (const TensorSetting& want : expected.tensors) {
            const auto it = std::find_if(read.tensors.begin(), read.tensors.end(),
                [&](const TensorSetting& s) { return s.name == want.name; });
            QVERIFY(it != read.tensors.end());
            QVERIFY(it->scheme == want.scheme);
            QCOMPARE(it->role, want.role);
            QVERIFY(it->scales == want.scales);
            QCOMPARE(it->zeroPoints, want.zeroPoints);
            QVERIFY(it->ranges == want.ranges);
        }
    }

    void goldenTensorRtCacheMatchesByteForByte()
    {
        SettingsDocument doc;
        TensorSetting images;
        images.name = "images";
        images.scales = {0.0078125f};
        images.ranges = {{-0.9921875, 0.9921875}};
        TensorSetting conv = images;
        conv.name = "/model.0/conv/Conv_output_0";
        conv.scales = {std::bit_cast<float>(0x3df5587fu)};
        doc.tensors = {images, conv};
        const std::string golden = readText(fixture("golden.tensorrt.cache"));
        QCOMPARE(QString::fromStdString(tensorRtCacheText(doc)), QString::fromStdString(golden));

        const SettingsDocument read = tensorRtCacheFromText(golden);
        QCOMPARE(read.tool, std::string("TensorRT EntropyCalibration2"));
        QCOMPARE(read.toolVersion, std::string("8601"));
        QCOMPARE(read.tensors.size(), std::size_t(2));
        QCOMPARE(read.tensors[0].name, std::string("images"));
        QCOMPARE(read.tensors[0].scales.front(), 0.0078125f);
        QVERIFY(read.tensors[0].ranges.front() == (GroupRange {-0.9921875, 0.9921875}));
        QCOMPARE(std::bit_cast<std::uint32_t>(read.tensors[1].scales.front()), 0x3df5587fu);
    }

    void tensorRtReaderIsLenient()
    {
        const SettingsDocument read = tensorRtCacheFromText(readText(fixture("lenient.tensorrt.cache")));
        QCOMPARE(read.tool, std::string("TensorRT MinMaxCalibration"));
        QCOMPARE(read.toolVersion, std::string("7134"));
        QCOMPARE(read.tensors.size(), std::size_t(3));
        QCOMPARE(read.tensors[0].name, std::string("images"));
        QCOMPARE(std::bit_cast<std::uint32_t>(read.tensors[0].scales.front()), 0x3c010a14u);
        // peers.md §A5: 3c010a14 decodes to 0.0078759, amax = 127 x scale = 1.0002.
        QVERIFY(std::fabs(read.tensors[0].ranges.front().max - 1.0002) < 1e-4);
        QCOMPARE(read.tensors[1].name, std::string("/model.0/conv/Conv_output_0"));
        QCOMPARE(read.tensors[2].name, std::string("block:0:out"));
        QCOMPARE(std::bit_cast<std::uint32_t>(read.tensors[2].scales.front()), 0x03c01a14u);
    }

    void tensorRtReaderNamesTheBadLine_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("message");
        QTest::newRow("no header") << "images: 3c000000\n"
                                   << "line 1: expected a header";
        QTest::newRow("empty") << "\n\n"
                               << "line 1: empty";
        QTest::newRow("no colon") << "TRT-8601-EntropyCalibration2\r\n\r\nimages 3c000000\r\n"
                                  << "line 3: expected 'NAME: HEX'";
        QTest::newRow("bad hex") << "TRT-8601-EntropyCalibration2\na: 3c000000\nb: 0x3c00\n"
                                 << "line 3: '0x3c00' is not 1 to 8 hex digits";
        QTest::newRow("too long") << "TRT-8601-EntropyCalibration2\na: 3c0000000\n"
                                  << "line 2: '3c0000000'";
        QTest::newRow("no name") << "TRT-8601-EntropyCalibration2\n: 3c000000\n"
                                 << "line 2: the tensor name is empty";
        QTest::newRow("twice") << "TRT-8601-EntropyCalibration2\na: 3c000000\na: 3c000000\n"
                               << "line 3: tensor 'a' is listed twice";
    }

    void tensorRtReaderNamesTheBadLine()
    {
        QFETCH(QString, text);
        QFETCH(QString, message);
        try {
            tensorRtCacheFromText(text.toStdString(), "model.cache");
            QFAIL("a malformed cache was accepted");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).startsWith("model.cache: ") && QString(e.what()).contains(message),
                e.what());
        }
    }

    void tensorRtReaderRejectsUnusableScales()
    {
        const SettingsDocument read = tensorRtCacheFromText(
            "TRT-8601-EntropyCalibration2\nzero: 0\nnegative: bf800000\nok: 3f800000\n");
        QCOMPARE(read.tensors.size(), std::size_t(1));
        QCOMPARE(read.rejected.size(), std::size_t(2));
        QVERIFY(QString::fromStdString(read.rejected[0].reason).contains("line 2"));
        const SettingsMatch match
            = matchSettings(read, {TensorInfo {"ok", {4}, DType::F32, "F32", 0, {}, 0, {}}});
        QCOMPARE(match.applied.size(), std::size_t(1));
        QCOMPARE(match.mismatches.size(), std::size_t(2));
        QCOMPARE(match.mismatches[0].kind, MismatchKind::UnsupportedSetting);
    }

    void aimetReaderRejectsWhatItCannotRepresent()
    {
        const std::string text
            = "{\"version\": \"1.0.0\", \"activation_encodings\": [ {\"name\": \"f16\", \"dtype\": "
              "\"FLOAT\", \"bw\": 16, \"enc_type\": \"PER_TENSOR\", \"is_sym\": true, \"scale\": [], "
              "\"offset\": []}, {\"name\": \"blocks\", \"dtype\": \"INT\", \"bw\": 4, \"enc_type\": "
              "\"PER_BLOCK\", \"is_sym\": true, \"scale\": [1], \"offset\": [-8], \"block_size\": 32}, "
              "{\"name\": \"ok\", \"dtype\": \"INT\", \"bw\": 8, \"enc_type\": \"PER_TENSOR\", \"is_sym\": "
              "false, \"scale\": [0.5], \"offset\": [-3.0]}], \"param_encodings\": []}";
        const SettingsDocument read = aimetEncodingsFromJson(text);
        QCOMPARE(read.tensors.size(), std::size_t(1));
        QCOMPARE(read.tensors[0].zeroPoints, (std::vector<std::int32_t> {-125}));
        QCOMPARE(read.rejected.size(), std::size_t(2));
        QVERIFY(QString::fromStdString(read.rejected[0].reason).contains("FLOAT"));
        QVERIFY(QString::fromStdString(read.rejected[1].reason).contains("PER_BLOCK"));
        try {
            aimetEncodingsFromJson("{\"version\": \"2.0.0\", \"activation_encodings\": []}", "m.encodings");
            QFAIL("an unknown AIMET version was accepted");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("unsupported AIMET encodings version \"2.0.0\""), e.what());
        }
    }

    void schemaUsesOnlySupportedKeywords()
    {
        const std::string onDisk = readText(QS_SOURCE_DIR "/resources/quantscope.settings-1.schema.json");
        QCOMPARE(std::string(settingsSchemaText()), onDisk);
        const std::vector<std::string> unsupported = unsupportedSchemaKeywords(settingsSchemaText());
        QVERIFY2(unsupported.empty(), unsupported.empty() ? "" : unsupported.front().c_str());
        QCOMPARE(unsupportedSchemaKeywords(
                     "{\"properties\": {\"oneOf\": {\"type\": \"string\", \"format\": \"date\"}}}"),
            (std::vector<std::string> {"$.properties.oneOf: format"}));
        try {
            validateJsonText("{}", "{\"oneOf\": [{\"type\": \"string\"}]}");
            QFAIL("an unsupported keyword was ignored");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("unsupported keyword 'oneOf'"), e.what());
        }
    }

    void validatorChecksEveryKeyword_data()
    {
        QTest::addColumn<QString>("schema");
        QTest::addColumn<QString>("document");
        QTest::addColumn<QString>("violation");
        const QString object
            = "{\"type\": \"object\", \"required\": [\"a\"], \"additionalProperties\": false, "
              "\"properties\": {\"a\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 3}, \"b\": "
              "{\"enum\": [\"x\", \"y\"]}, \"c\": {\"type\": \"array\", \"items\": {\"type\": \"string\", "
              "\"pattern\": \"^[a-f]+$\"}, \"minItems\": 1, \"maxItems\": 2}, \"d\": {\"$ref\": "
              "\"#/$defs/real\"}, \"e\": {\"const\": 7}, \"f\": {\"type\": [\"string\", \"null\"], "
              "\"minLength\": 2}}, \"$defs\": {\"real\": {\"anyOf\": [{\"type\": \"number\"}, {\"enum\": "
              "[\"inf\"]}]}}}";
        QTest::newRow("valid")
            << object << "{\"a\": 2, \"b\": \"y\", \"c\": [\"ab\"], \"d\": \"inf\", \"e\": 7, \"f\": null}"
            << "";
        QTest::newRow("required") << object << "{}"
                                  << "$: missing required member \"a\"";
        QTest::newRow("additional") << object << "{\"a\": 1, \"z\": 0}"
                                    << "$.z: unknown member \"z\"";
        QTest::newRow("integer") << object << "{\"a\": 1.5}"
                                 << "$.a: expected integer, found a number";
        QTest::newRow("minimum") << object << "{\"a\": 0}"
                                 << "$.a: expected a value >= 1";
        QTest::newRow("maximum") << object << "{\"a\": 4}"
                                 << "$.a: expected a value <= 3";
        QTest::newRow("enum") << object << "{\"a\": 1, \"b\": \"z\"}"
                              << "$.b: expected one of [\"x\",\"y\"]";
        QTest::newRow("items") << object << "{\"a\": 1, \"c\": [3]}"
                               << "$.c[0]: expected string, found an integer";
        QTest::newRow("pattern") << object << "{\"a\": 1, \"c\": [\"xyz\"]}"
                                 << "$.c[0]: \"xyz\" does not match";
        QTest::newRow("minItems") << object << "{\"a\": 1, \"c\": []}"
                                  << "$.c: expected at least 1 elements";
        QTest::newRow("maxItems") << object << "{\"a\": 1, \"c\": [\"a\", \"b\", \"c\"]}"
                                  << "$.c: expected at most 2";
        QTest::newRow("anyOf") << object << "{\"a\": 1, \"d\": \"nan\"}"
                               << "$.d: matches none of the allowed forms";
        QTest::newRow("const") << object << "{\"a\": 1, \"e\": 8}"
                               << "$.e: expected 7, found 8";
        QTest::newRow("type list") << object << "{\"a\": 1, \"f\": 3}"
                                   << "$.f: expected string or null";
        QTest::newRow("minLength") << object << "{\"a\": 1, \"f\": \"x\"}"
                                   << "$.f: expected at least 2 characters";
    }

    void validatorChecksEveryKeyword()
    {
        QFETCH(QString, schema);
        QFETCH(QString, document);
        QFETCH(QString, violation);
        const auto violations = validateJsonText(document.toStdString(), schema.toStdString());
        if (violation.isEmpty()) {
            QVERIFY2(violations.empty(), violations.empty() ? "" : violations.front().message.c_str());
            return;
        }
        QCOMPARE(violations.size(), std::size_t(1));
        const QString text
            = QString::fromStdString(violations.front().path + ": " + violations.front().message);
        QVERIFY2(text.startsWith(violation), qPrintable(text));
    }

    void importRejectsInvalidDocumentsWithThePath_data()
    {
        QTest::addColumn<QString>("from");
        QTest::addColumn<QString>("to");
        QTest::addColumn<QString>("message");
        QTest::newRow("schema version") << "\"schema\": \"quantscope.settings/1\""
                                        << "\"schema\": \"quantscope.settings/2\""
                                        << "unsupported settings schema \"quantscope.settings/2\"";
        QTest::newRow("missing field") << "\"dtype\": \"F32\","
                                       << ""
                                       << "$.tensors[0]: missing required member \"dtype\"";
        QTest::newRow("wrong type")
            << "\"role\": \"weight\""
            << "\"role\": 3"
            << "$.tensors[0].role: expected one of [\"weight\",\"activation\"], found 3";
        QTest::newRow("wrong array type")
            << "\"batches\": 1"
            << "\"batches\": \"1\""
            << "$.tensors[0].calibration.batches: expected integer, found a string";
        QTest::newRow("bad digest") << "\"sha256\": \""
                                    << "\"sha256\": \"Z"
                                    << "$.sources[0].sha256: ";
        QTest::newRow("invalid JSON") << "\"tensors\": ["
                                      << "\"tensors\": [["
                                      << "not valid JSON";
    }

    void importRejectsInvalidDocumentsWithThePath()
    {
        QFETCH(QString, from);
        QFETCH(QString, to);
        QFETCH(QString, message);
        SettingsDocument doc = goldenDocument();
        doc.sources = {describeSourceFile(fixture("golden.tensorrt.cache"))};
        doc.tensors[0].sourceDtype = "F32";
        std::string json = settingsToJson(doc);
        QString text = QString::fromStdString(json);
        text.replace(
            QRegularExpression("\\s*" + QRegularExpression::escape(from).replace("\\ ", "\\s*")), to);
        QVERIFY(text != QString::fromStdString(json));
        try {
            parseSettings(text.toStdString(), "chosen.json");
            QFAIL("an invalid settings file was accepted");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).startsWith("chosen.json: ") && QString(e.what()).contains(message),
                e.what());
        }
    }

    void unknownNamesBecomeMismatchesNotFailures()
    {
        std::string json = settingsToJson(goldenDocument());
        const std::size_t at = json.find("\"format\": \"uint8\"");
        QVERIFY(at != std::string::npos);
        json.replace(at, 17, "\"format\": \"int99\"");
        const SettingsDocument doc = settingsFromJson(json);
        QCOMPARE(doc.tensors.size(), std::size_t(2));
        QCOMPARE(doc.rejected.size(), std::size_t(1));
        QCOMPARE(doc.rejected[0].name, std::string("relu.out"));
        QVERIFY2(
            QString::fromStdString(doc.rejected[0].reason).contains("int99"), doc.rejected[0].reason.c_str());
    }

    void matchReportsEveryMismatch()
    {
        SettingsDocument doc = goldenDocument();
        doc.tensors.push_back(doc.tensors[0]);
        doc.tensors.back().name = "dup";
        doc.tensors.push_back(doc.tensors.back());
        TensorSetting missing = doc.tensors[2];
        missing.name = "not.there";
        doc.tensors.push_back(missing);
        TensorSetting groups = doc.tensors[0];
        groups.name = "groups";
        groups.shape.reset();
        doc.tensors.push_back(groups);
        const std::vector<TensorInfo> open {
            {"fc1.weight", {2, 4}, DType::F32, "F32", 0, {}, 0, {}},
            {"fc1.input", {4, 3}, DType::F32, "F32", 0, {}, 0, {}},
            {"relu.out", {8}, DType::BF16, "BF16", 0, {}, 0, {}},
            {"dup", {2, 4}, DType::F32, "F32", 0, {}, 0, {}},
            {"groups", {3, 4}, DType::F32, "F32", 0, {}, 0, {}},
        };
        const SettingsMatch match = matchSettings(doc, open);
        QCOMPARE(match.applied.size(), std::size_t(2));
        QCOMPARE(match.applied[0].name, std::string("fc1.weight"));
        QCOMPARE(match.applied[1].name, std::string("relu.out"));
        QCOMPARE(match.applied[1].sourceDtype, std::string("BF16"));
        QVERIFY(!match.complete());
        std::vector<std::pair<std::string, MismatchKind>> kinds;
        for (const SettingsMismatch& m : match.mismatches)
            kinds.emplace_back(m.tensor, m.kind);
        const std::vector<std::pair<std::string, MismatchKind>> expected {
            {"fc1.input", MismatchKind::ShapeDiffers}, {"dup", MismatchKind::DuplicateTensor},
            {"dup", MismatchKind::DuplicateTensor}, {"not.there", MismatchKind::MissingTensor},
            {"groups", MismatchKind::GroupsDiffer}};
        QVERIFY(kinds == expected);
        QCOMPARE(match.mismatches[0].reason, std::string("shape [3, 4] in the settings, [4, 3] in the file"));
        QCOMPARE(match.mismatches[4].reason,
            std::string("the settings hold 2 groups, scheme int8 sym channel:0 gives 3 on shape [3, 4]"));
    }

    void failedSerialisationLeavesTheOldFile()
    {
        QTemporaryDir dir;
        const std::string path = (dir.path() + "/settings.cache").toStdString();
        writeText(path, "old contents\n");
        SettingsDocument doc;
        doc.tensors = {
            calibrated("small_example.npy", "small_example", Scheme {}).first, goldenDocument().tensors[0]};
        QVERIFY_THROWS_EXCEPTION(Error, writeSettingsFile(path, doc, SettingsFormat::TensorRt));
        doc.tensors[1].shape.reset();
        QVERIFY_THROWS_EXCEPTION(Error, writeSettingsFile(path, doc, SettingsFormat::Quantscope));
        QCOMPARE(readText(path), std::string("old contents\n"));
        QCOMPARE(std::distance(std::filesystem::directory_iterator(dir.path().toStdString()), {}), 1);
    }

    void interruptedWriteLeavesTheOldFile()
    {
        QTemporaryDir dir;
        const std::string path = (dir.path() + "/settings.json").toStdString();
        writeText(path, "old contents\n");
        SettingsDocument doc;
        doc.date = "2026-11-22T08:30:00Z";
        for (const auto& [setting, tensor] : quantscopeCases())
            doc.tensors.push_back(setting);
        // A file size limit makes write() fail part-way (EFBIG), as a full disk would.
        rlimit previous {};
        QCOMPARE(getrlimit(RLIMIT_FSIZE, &previous), 0);
        const auto oldHandler = std::signal(SIGXFSZ, SIG_IGN);
        rlimit limited = previous;
        limited.rlim_cur = 4096;
        QCOMPARE(setrlimit(RLIMIT_FSIZE, &limited), 0);
        QString message;
        try {
            writeSettingsFile(path, doc, SettingsFormat::Quantscope);
        } catch (const Error& e) {
            message = e.what();
        }
        setrlimit(RLIMIT_FSIZE, &previous);
        std::signal(SIGXFSZ, oldHandler);
        QVERIFY2(message.contains("write failed"), qPrintable(message));
        QCOMPARE(readText(path), std::string("old contents\n"));
        QCOMPARE(std::distance(std::filesystem::directory_iterator(dir.path().toStdString()), {}), 1);
        writeSettingsFile(path, doc, SettingsFormat::Quantscope);
        QVERIFY(settingsFromJson(readText(path)) == doc);
    }

    void unwritableDirectoryLeavesTheOldFile()
    {
        QTemporaryDir dir;
        const std::string path = (dir.path() + "/settings.json").toStdString();
        writeText(path, "old contents\n");
        QCOMPARE(::chmod(dir.path().toUtf8().constData(), 0500), 0);
        const bool writable = ::access(dir.path().toUtf8().constData(), W_OK) == 0;
        QString message;
        if (!writable) {
            try {
                writeSettingsFile(path, goldenDocument(), SettingsFormat::Quantscope);
            } catch (const Error& e) {
                message = e.what();
            }
        }
        ::chmod(dir.path().toUtf8().constData(), 0700);
        if (writable)
            QSKIP(
                "this process may write into read-only directories (root); interruptedWriteLeavesTheOldFile "
                "covers the failure path");
        QVERIFY2(message.contains("settings.json: cannot write"), qPrintable(message));
        QCOMPARE(readText(path), std::string("old contents\n"));
    }

    void digestIsSha256()
    {
        QTemporaryDir dir;
        const std::string empty = (dir.path() + "/empty").toStdString();
        const std::string abc = (dir.path() + "/abc").toStdString();
        writeText(empty, "");
        writeText(abc, "abc");
        QCOMPARE(sha256OfFile(empty),
            std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        const SourceFile source = describeSourceFile(abc);
        QCOMPARE(
            source.sha256, std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        QCOMPARE(source.size, std::uint64_t(3));
        try {
            sha256OfFile((dir.path() + "/missing.bin").toStdString());
            QFAIL("a missing file was digested");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("missing.bin: cannot read"), e.what());
        }
    }

    // Every scale and zero point quantize() derives from some range is found again. (Not every float32 is
    // such a scale: for int4, amax / 7 skips some floats, so AIMET files from elsewhere may be off by an
    // ulp.)
    void rangeFromScaleReproducesQuantizerScales()
    {
        std::mt19937 random(7);
        std::uniform_real_distribution<float> exponent(-30.0f, 20.0f);
        std::uniform_real_distribution<float> share(0.0f, 1.0f);
        const std::vector<Scheme> schemes {Scheme {}, scheme("int4", "tensor"), scheme("uint8", "tensor"),
            scheme("int8", "tensor", RangeMode::SymmetricFull), scheme("int8", "tensor", RangeMode::Affine),
            scheme("uint8", "tensor", RangeMode::Affine), scheme("int16", "tensor", RangeMode::Affine)};
        int failures = 0;
        for (const Scheme& s : schemes) {
            for (int i = 0; i < 2000; ++i) {
                const float span = std::exp2(exponent(random));
                const float low = -span * share(random);
                const GroupRange original {low, low + span};
                const QuantizedTensor expected = quantize(
                    Tensor {"", {2}, {float(original.min), float(original.max)}}, s, std::vector {original});
                const std::int32_t zp = expected.zeroPoints.empty() ? 0 : expected.zeroPoints[0];
                const GroupRange range = rangeFromScale(s, expected.scales[0], zp);
                const QuantizedTensor q = quantize(Tensor {"", {2}, {float(range.min), float(range.max)}}, s,
                    std::vector<GroupRange> {range});
                failures += q.scales[0] != expected.scales[0] || q.zeroPoints != expected.zeroPoints;
            }
        }
        QCOMPARE(failures, 0);
        QVERIFY_THROWS_EXCEPTION(Error, rangeFromScale(scheme("fp8_e4m3", "tensor"), 1.0f));
        QVERIFY_THROWS_EXCEPTION(Error, rangeFromScale(Scheme {}, 0.0f));
    }
};

QTEST_APPLESS_MAIN(TestExport)
#include "tst_export.moc"
