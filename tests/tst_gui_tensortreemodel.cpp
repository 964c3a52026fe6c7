// The tensor tree model and its sort/filter proxy, on in-memory file listings (no reader involved).
#include "base/error.h"
#include "io/tensor_file.h"
#include "session.h"
#include "tensorfilterproxymodel.h"
#include "tensortreemodel.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>

using namespace qs::gui;

namespace {

/// A file listing without data: enough for the tree, which never loads.
class ListingFile : public qs::TensorFile {
public:
    ListingFile(std::string path, std::vector<qs::TensorInfo> tensors)
        : m_path(std::move(path))
        , m_tensors(std::move(tensors))
    {
    }
    const std::string& path() const override { return m_path; }
    std::string formatName() const override { return "safetensors"; }
    const std::vector<qs::TensorInfo>& tensors() const override { return m_tensors; }
    qs::Tensor load(std::string_view name) const override
    {
        qs::throwFileError(m_path, name, "listing only");
    }

private:
    std::string m_path;
    std::vector<qs::TensorInfo> m_tensors;
};

qs::TensorInfo info(const std::string& name, qs::Shape shape, qs::DType dtype, std::string dtypeName = {})
{
    qs::TensorInfo i;
    i.name = name;
    i.shape = std::move(shape);
    i.dtype = dtype;
    i.dtypeName = dtypeName.empty() ? std::string(qs::dtypeName(dtype)) : dtypeName;
    i.byteSize = dtype == qs::DType::Unsupported ? static_cast<std::uint64_t>(i.elementCount())
                                                 : i.elementCount() * qs::dtypeSize(dtype);
    return i;
}

OpenFile makeFile(int id, const QString& path, std::vector<qs::TensorInfo> tensors)
{
    OpenFile file;
    file.id = id;
    file.path = path;
    file.file = std::make_shared<ListingFile>(path.toStdString(), std::move(tensors));
    return file;
}

OpenFile checkpoint(int id = 0)
{
    return makeFile(id, QStringLiteral("/data/model.safetensors"),
        {
            info("model.embed_tokens.weight", {512, 64}, qs::DType::BF16),
            info("model.layers.0.self_attn.q_proj.weight", {64, 64}, qs::DType::BF16),
            info("model.layers.0.self_attn.k_proj.weight", {16, 64}, qs::DType::BF16),
            info("model.layers.0.input_layernorm.weight", {64}, qs::DType::F32),
            info("model.layers.10.self_attn.q_proj.weight", {64, 64}, qs::DType::BF16),
            info("model.layers.2.self_attn.q_proj.weight", {64, 64}, qs::DType::BF16),
            info("model.layers.2.mlp.experts.scales", {4, 32}, qs::DType::Unsupported, "F8_E8M0"),
            info("lm_head.weight", {512, 64}, qs::DType::F16),
        });
}

/// The child of `parent` whose Name column reads `label`.
QModelIndex child(const QAbstractItemModel& model, const QModelIndex& parent, const QString& label)
{
    for (int row = 0; row < model.rowCount(parent); ++row) {
        const QModelIndex index = model.index(row, 0, parent);
        if (index.data().toString() == label)
            return index;
    }
    return {};
}

QModelIndex path(const QAbstractItemModel& model, const QStringList& labels)
{
    QModelIndex index;
    for (const QString& label : labels) {
        index = child(model, index, label);
        if (!index.isValid())
            return {};
    }
    return index;
}

QStringList childLabels(const QAbstractItemModel& model, const QModelIndex& parent)
{
    QStringList labels;
    for (int row = 0; row < model.rowCount(parent); ++row)
        labels << model.index(row, 0, parent).data().toString();
    return labels;
}

QString cell(const QModelIndex& nameIndex, int column)
{
    return nameIndex.siblingAtColumn(column).data().toString();
}

} // namespace

class TestTensorTreeModel : public QObject {
    Q_OBJECT

private slots:
    void splitName_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QStringList>("parts");
        QTest::newRow("transformer") << QStringLiteral("model.layers.0.self_attn.q_proj.weight")
                                     << QStringList {QStringLiteral("model"), QStringLiteral("layers"),
                                            QStringLiteral("0"), QStringLiteral("self_attn"),
                                            QStringLiteral("q_proj.weight")};
        QTest::newRow("two parts stay together")
            << QStringLiteral("lm_head.weight") << QStringList {QStringLiteral("lm_head.weight")};
        QTest::newRow("three parts") << QStringLiteral("a.b.c")
                                     << QStringList {QStringLiteral("a"), QStringLiteral("b.c")};
        QTest::newRow("plain") << QStringLiteral("relu") << QStringList {QStringLiteral("relu")};
        QTest::newRow("hdf5 path") << QStringLiteral("/calib/layer0/batch_0")
                                   << QStringList {QStringLiteral("calib"), QStringLiteral("layer0"),
                                          QStringLiteral("batch_0")};
        QTest::newRow("hdf5 dotted dataset")
            << QStringLiteral("/acts/layer.0.out")
            << QStringList {QStringLiteral("acts"), QStringLiteral("layer"), QStringLiteral("0.out")};
    }

    void splitName()
    {
        QFETCH(QString, name);
        QFETCH(QStringList, parts);
        QCOMPARE(TensorTreeModel::splitName(name), parts);
    }

    void naturalCompare_data()
    {
        QTest::addColumn<QString>("a");
        QTest::addColumn<QString>("b");
        QTest::addColumn<int>("sign");
        QTest::newRow("numbers by value") << QStringLiteral("2") << QStringLiteral("10") << -1;
        QTest::newRow("embedded numbers") << QStringLiteral("layer10.w") << QStringLiteral("layer9.w") << 1;
        QTest::newRow("case-insensitive") << QStringLiteral("Bias") << QStringLiteral("weight") << -1;
        QTest::newRow("prefix first") << QStringLiteral("q_proj") << QStringLiteral("q_proj.weight") << -1;
        QTest::newRow("leading zeros tie-break") << QStringLiteral("007") << QStringLiteral("7") << -1;
        QTest::newRow("equal") << QStringLiteral("a1") << QStringLiteral("a1") << 0;
        QTest::newRow("big numbers") << QStringLiteral("x99999999999999999999")
                                     << QStringLiteral("x100000000000000000000") << -1;
    }

    void naturalCompare()
    {
        QFETCH(QString, a);
        QFETCH(QString, b);
        QFETCH(int, sign);
        const int order = qs::gui::naturalCompare(a, b);
        QCOMPARE((order > 0) - (order < 0), sign);
        const int reverse = qs::gui::naturalCompare(b, a);
        QCOMPARE((reverse > 0) - (reverse < 0), -sign);
    }

    void modelAndProxyPassTheModelTester()
    {
        TensorTreeModel model;
        TensorFilterProxyModel proxy;
        proxy.setSourceModel(&model);
        QAbstractItemModelTester modelTester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QAbstractItemModelTester proxyTester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);

        model.addFile(checkpoint(0));
        model.addFile(makeFile(1, QStringLiteral("/data/acts.h5"),
            {info("/calib/layer0/batch_0", {64, 256}, qs::DType::F32),
                info("/calib/layer0/batch_1", {64, 256}, qs::DType::F32)}));
        proxy.sort(TensorTreeModel::SizeColumn, Qt::DescendingOrder);
        proxy.setFilterFixedString(QStringLiteral("q_proj"));
        proxy.setFilterFixedString(QStringLiteral("batch_1"));
        proxy.setFilterFixedString(QString());
        proxy.sort(TensorTreeModel::NameColumn, Qt::AscendingOrder);
        model.removeFile(0);
        model.addFile(checkpoint(2));
        model.removeFile(1);
        model.removeFile(2);
        QCOMPARE(model.rowCount(), 0);
    }

    void treeGroupsByDottedPrefix()
    {
        TensorTreeModel model;
        model.addFile(checkpoint());
        QCOMPARE(model.rowCount(), 1);
        const QModelIndex file = model.index(0, 0);
        QCOMPARE(file.data().toString(), QStringLiteral("model.safetensors"));
        QCOMPARE(cell(file, TensorTreeModel::ShapeColumn), QStringLiteral("8 tensors"));
        QCOMPARE(cell(file, TensorTreeModel::DTypeColumn), QString()); // BF16, F32, F16 and F8_E8M0
        QVERIFY(file.data(Qt::ToolTipRole).toString().contains(QStringLiteral("safetensors, 8 tensors")));
        QCOMPARE(childLabels(model, file),
            (QStringList {QStringLiteral("model"), QStringLiteral("lm_head.weight")}));

        const QModelIndex layer0 = path(model,
            {QStringLiteral("model.safetensors"), QStringLiteral("model"), QStringLiteral("layers"),
                QStringLiteral("0")});
        QVERIFY(layer0.isValid());
        QCOMPARE(childLabels(model, layer0),
            (QStringList {QStringLiteral("self_attn"), QStringLiteral("input_layernorm.weight")}));
        QCOMPARE(cell(layer0, TensorTreeModel::ShapeColumn), QStringLiteral("3 tensors"));
        QCOMPARE(cell(layer0, TensorTreeModel::DTypeColumn), QString()); // BF16 and F32 mixed
        QCOMPARE(
            layer0.siblingAtColumn(TensorTreeModel::ShapeColumn).data(TensorTreeModel::SortRole).toLongLong(),
            64 * 64 + 16 * 64 + 64);

        const QModelIndex q = child(
            model, child(model, layer0, QStringLiteral("self_attn")), QStringLiteral("q_proj.weight"));
        QVERIFY(q.isValid());
        QCOMPARE(cell(q, TensorTreeModel::ShapeColumn), QStringLiteral("[64, 64]"));
        QCOMPARE(cell(q, TensorTreeModel::DTypeColumn), QStringLiteral("BF16"));
        QCOMPARE(q.siblingAtColumn(TensorTreeModel::SizeColumn).data(TensorTreeModel::SortRole).toULongLong(),
            64ull * 64 * 2);
        QCOMPARE(q.data(TensorTreeModel::TensorNameRole).toString(),
            QStringLiteral("model.layers.0.self_attn.q_proj.weight"));
        QVERIFY(!model.hasChildren(q));
        QVERIFY(model.flags(q) & Qt::ItemNeverHasChildren);

        const TensorRef ref = model.tensorAt(q);
        QCOMPARE(ref.fileId, 0);
        QCOMPARE(model.tensorIndex(ref), q);
        QVERIFY(!model.tensorAt(layer0).isValid());
        QCOMPARE(model.fileIdAt(layer0), 0);
        QVERIFY(!model.tensorIndex(TensorRef {0, QStringLiteral("nope")}).isValid());
        QVERIFY(!model.tensorIndex(TensorRef {7, ref.name}).isValid());
    }

    void unsupportedDtypeIsGreyedWithReason()
    {
        TensorTreeModel model;
        model.addFile(checkpoint());
        const QModelIndex scales
            = model.tensorIndex(TensorRef {0, QStringLiteral("model.layers.2.mlp.experts.scales")});
        QVERIFY(scales.isValid());
        QCOMPARE(scales.data().toString(), QStringLiteral("experts.scales"));
        QCOMPARE(cell(scales, TensorTreeModel::DTypeColumn), QStringLiteral("F8_E8M0"));
        QVERIFY(!(model.flags(scales) & Qt::ItemIsEnabled));
        QVERIFY(!(model.flags(scales) & Qt::ItemIsSelectable));
        QVERIFY(!scales.data(TensorTreeModel::LoadableRole).toBool());
        QVERIFY(scales.data(Qt::ForegroundRole).isValid());
        const QString tip = scales.data(Qt::ToolTipRole).toString();
        QVERIFY2(tip.contains(QStringLiteral("F8_E8M0")) && tip.contains(QStringLiteral("cannot be loaded")),
            qPrintable(tip));

        const QModelIndex loadable = model.tensorIndex(TensorRef {0, QStringLiteral("lm_head.weight")});
        QVERIFY(model.flags(loadable) & Qt::ItemIsEnabled);
        QVERIFY(!loadable.data(Qt::ForegroundRole).isValid());
        QVERIFY(!loadable.data(Qt::ToolTipRole).toString().contains(QStringLiteral("cannot be loaded")));
    }

    void sortsSizesNumericallyAndNamesNaturally()
    {
        TensorTreeModel model;
        model.addFile(makeFile(0, QStringLiteral("/x/sizes.safetensors"),
            {
                info("big", {2560}, qs::DType::F32), // 10.0 KiB
                info("small", {128}, qs::DType::F32), // 512 B
                info("medium", {512}, qs::DType::F32), // 2.0 KiB
            }));
        TensorFilterProxyModel proxy;
        proxy.setSourceModel(&model);
        const QModelIndex file = proxy.index(0, 0);

        proxy.sort(TensorTreeModel::SizeColumn, Qt::AscendingOrder);
        QCOMPARE(childLabels(proxy, file),
            (QStringList {QStringLiteral("small"), QStringLiteral("medium"), QStringLiteral("big")}));
        // Sorting the text would put "10.0 KiB" before "2.0 KiB" and "512 B".
        QCOMPARE(cell(proxy.index(2, 0, file), TensorTreeModel::SizeColumn), QStringLiteral("10.0 KiB"));
        proxy.sort(TensorTreeModel::SizeColumn, Qt::DescendingOrder);
        QCOMPARE(childLabels(proxy, file),
            (QStringList {QStringLiteral("big"), QStringLiteral("medium"), QStringLiteral("small")}));
        proxy.sort(TensorTreeModel::ShapeColumn, Qt::AscendingOrder);
        QCOMPARE(childLabels(proxy, file),
            (QStringList {QStringLiteral("small"), QStringLiteral("medium"), QStringLiteral("big")}));

        TensorTreeModel layers;
        layers.addFile(checkpoint());
        TensorFilterProxyModel layerProxy;
        layerProxy.setSourceModel(&layers);
        layerProxy.sort(TensorTreeModel::NameColumn, Qt::AscendingOrder);
        const QModelIndex layerGroup = path(layerProxy,
            {QStringLiteral("model.safetensors"), QStringLiteral("model"), QStringLiteral("layers")});
        QCOMPARE(childLabels(layerProxy, layerGroup),
            (QStringList {QStringLiteral("0"), QStringLiteral("2"), QStringLiteral("10")}));
    }

    void statisticsColumnsAreBlankUntilKnownAndSortNumerically()
    {
        TensorTreeModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.addFile(makeFile(0, QStringLiteral("/x/stats.safetensors"),
            {
                info("a", {4}, qs::DType::F32),
                info("b", {4}, qs::DType::F32),
                info("c", {4}, qs::DType::F32),
                info("d", {4}, qs::DType::F32),
            }));
        TensorFilterProxyModel proxy;
        proxy.setSourceModel(&model);
        QAbstractItemModelTester proxyTester(&proxy, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(model.headerData(TensorTreeModel::AbsMaxColumn, Qt::Horizontal).toString(),
            QStringLiteral("Absmax"));
        QCOMPARE(model.headerData(TensorTreeModel::KurtosisColumn, Qt::Horizontal).toString(),
            QStringLiteral("Kurtosis"));

        const TensorRef a {0, QStringLiteral("a")};
        QVERIFY(!model.hasTensorStats(a));
        const QModelIndex aIndex = model.tensorIndex(a);
        for (int column : {int(TensorTreeModel::AbsMaxColumn), int(TensorTreeModel::KurtosisColumn),
                 int(TensorTreeModel::OutlierShareColumn)}) {
            QCOMPARE(cell(aIndex, column), QString());
            QVERIFY(!aIndex.siblingAtColumn(column).data(TensorTreeModel::SortRole).isValid());
        }

        // Absmax 9, 100, 20 (text order would put "100" first); d stays unknown.
        const auto stats = [](double absmax, double kurtosis, double share) {
            qs::SummaryStats s;
            s.absmax = absmax;
            s.kurtosis = kurtosis;
            s.beyond6SigmaShare = share;
            return s;
        };
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        model.setTensorStats(a, stats(9, 3.0, 0));
        model.setTensorStats(TensorRef {0, QStringLiteral("b")}, stats(100, 41.257, 0.0025));
        model.setTensorStats(TensorRef {0, QStringLiteral("c")}, stats(20, 2.5, 0.5));
        model.setTensorStats(TensorRef {0, QStringLiteral("nope")}, stats(1, 1, 1)); // not in the tree
        QCOMPARE(changed.count(), 3);
        QCOMPARE(
            changed.at(0).at(0).value<QModelIndex>(), aIndex.siblingAtColumn(TensorTreeModel::AbsMaxColumn));
        QCOMPARE(changed.at(0).at(1).value<QModelIndex>(),
            aIndex.siblingAtColumn(TensorTreeModel::OutlierShareColumn));
        QVERIFY(model.hasTensorStats(a));

        const QModelIndex b = model.tensorIndex(TensorRef {0, QStringLiteral("b")});
        QCOMPARE(cell(b, TensorTreeModel::AbsMaxColumn), QStringLiteral("100"));
        QCOMPARE(cell(b, TensorTreeModel::KurtosisColumn), QStringLiteral("41.26"));
        QCOMPARE(cell(b, TensorTreeModel::OutlierShareColumn), QStringLiteral("0.2500 %"));
        QCOMPARE(
            b.siblingAtColumn(TensorTreeModel::KurtosisColumn).data(TensorTreeModel::SortRole).toDouble(),
            41.257);
        QCOMPARE(cell(model.fileIndex(0), TensorTreeModel::AbsMaxColumn), QString());

        const QModelIndex file = proxy.index(0, 0);
        proxy.sort(TensorTreeModel::AbsMaxColumn, Qt::AscendingOrder);
        QCOMPARE(childLabels(proxy, file),
            (QStringList {
                QStringLiteral("a"), QStringLiteral("c"), QStringLiteral("b"), QStringLiteral("d")}));
        proxy.sort(TensorTreeModel::KurtosisColumn, Qt::AscendingOrder);
        QCOMPARE(childLabels(proxy, file),
            (QStringList {
                QStringLiteral("c"), QStringLiteral("a"), QStringLiteral("b"), QStringLiteral("d")}));
        proxy.sort(TensorTreeModel::OutlierShareColumn, Qt::DescendingOrder);
        QCOMPARE(childLabels(proxy, file).mid(1),
            (QStringList {QStringLiteral("c"), QStringLiteral("b"), QStringLiteral("a")}));

        // A value arriving re-sorts the live proxy.
        proxy.setDynamicSortFilter(true);
        proxy.sort(TensorTreeModel::AbsMaxColumn, Qt::AscendingOrder);
        model.setTensorStats(TensorRef {0, QStringLiteral("d")}, stats(15, 3, 0));
        QCOMPARE(childLabels(proxy, file),
            (QStringList {
                QStringLiteral("a"), QStringLiteral("d"), QStringLiteral("c"), QStringLiteral("b")}));
    }

    void filterKeepsPathsToMatches()
    {
        TensorTreeModel model;
        model.addFile(checkpoint(0));
        model.addFile(makeFile(1, QStringLiteral("/x/other.npz"), {info("relu", {4, 4}, qs::DType::F32)}));
        TensorFilterProxyModel proxy;
        proxy.setSourceModel(&model);
        proxy.sort(TensorTreeModel::NameColumn, Qt::AscendingOrder);

        proxy.setFilterFixedString(QStringLiteral("Q_PROJ"));
        QCOMPARE(proxy.rowCount(), 2); // both files stay listed
        const QModelIndex layers = path(
            proxy, {QStringLiteral("model.safetensors"), QStringLiteral("model"), QStringLiteral("layers")});
        QCOMPARE(childLabels(proxy, layers),
            (QStringList {QStringLiteral("0"), QStringLiteral("2"), QStringLiteral("10")}));
        const QModelIndex attention = path(proxy,
            {QStringLiteral("model.safetensors"), QStringLiteral("model"), QStringLiteral("layers"),
                QStringLiteral("0"), QStringLiteral("self_attn")});
        QCOMPARE(childLabels(proxy, attention), QStringList {QStringLiteral("q_proj.weight")});
        QCOMPARE(childLabels(proxy, path(proxy, {QStringLiteral("model.safetensors")})),
            QStringList {QStringLiteral("model")});
        QCOMPARE(proxy.rowCount(path(proxy, {QStringLiteral("other.npz")})), 0);

        // The filter sees the full name, so a dotted prefix narrows to one layer.
        proxy.setFilterFixedString(QStringLiteral("layers.2."));
        const QModelIndex layers2 = path(
            proxy, {QStringLiteral("model.safetensors"), QStringLiteral("model"), QStringLiteral("layers")});
        QCOMPARE(childLabels(proxy, layers2), QStringList {QStringLiteral("2")});

        proxy.setFilterFixedString(QString());
        QCOMPARE(proxy.rowCount(path(proxy, {QStringLiteral("other.npz")})), 1);
    }

    void removingAFileKeepsTheOthersIndexes()
    {
        TensorTreeModel model;
        model.addFile(checkpoint(0));
        model.addFile(makeFile(1, QStringLiteral("/x/b.npy"), {info("b", {3}, qs::DType::F32)}));
        model.addFile(makeFile(2, QStringLiteral("/x/c.npy"), {info("c", {3}, qs::DType::F32)}));
        QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
        model.removeFile(1);
        QCOMPARE(removed.count(), 1);
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.fileIndex(2).row(), 1);
        const QModelIndex c = model.tensorIndex(TensorRef {2, QStringLiteral("c")});
        QCOMPARE(model.parent(c), model.fileIndex(2));
        model.removeFile(1); // already gone: no change
        QCOMPARE(removed.count(), 1);
        model.addFile(checkpoint(0)); // same id twice: ignored
        QCOMPARE(model.rowCount(), 2);
    }
};

QTEST_MAIN(TestTensorTreeModel)
#include "tst_gui_tensortreemodel.moc"
