// CUDA kernels against the scalar references, bit for bit (kernels/cuda_kernels.h): qs::computeHistogram,
// qs::fakeQuantize with the documented error-sum order, min/max, and the kernels module's scalar backend
// through kernels.h's dispatch. Skipped when the project is built without CUDA or no device is present. The
// cases other than the dispatch are shared with the standalone GPU driver (tests/benchmarks/cuda/
// qs_cuda_bench.cu --check).

#include <QtTest>
#include <string>

#if defined(QS_HAVE_CUDA)
#include "benchmarks/cuda/cuda_checks.h"
#include "kernels/kernels.h"
#include "kernels/packed_kernels.h"

#define QS_CUDA_CHECK(expression)                                                                            \
    do {                                                                                                     \
        const std::string failure = (expression);                                                            \
        QVERIFY2(failure.empty(), failure.c_str());                                                          \
    } while (false)
#else
#define QS_CUDA_CHECK(expression) QSKIP("built without CUDA")
#endif

class TestCudaKernels : public QObject {
    Q_OBJECT

private slots:
    void initTestCase()
    {
#if defined(QS_HAVE_CUDA)
        if (!qs::cudaAvailable())
            QSKIP("no CUDA device");
        qInfo("CUDA device: %s", qs::cudaDeviceName().c_str());
#else
        QSKIP("built without CUDA");
#endif
    }

    void minMax()
    {
        QS_CUDA_CHECK(qs::cudacheck::checkMinMax());
    }
    void minMaxRows()
    {
        QS_CUDA_CHECK(qs::cudacheck::checkMinMaxRows());
    }
    void histogram()
    {
        QS_CUDA_CHECK(qs::cudacheck::checkHistogram());
    }
    void scaledE4M3()
    {
        QS_CUDA_CHECK(qs::cudacheck::checkScaledE4M3());
    }

    void fakeQuant_data()
    {
        QTest::addColumn<int>("index");
#if defined(QS_HAVE_CUDA)
        const std::vector<qs::cudacheck::FakeQuantCase> cases = qs::cudacheck::fakeQuantCases();
        for (std::size_t i = 0; i < cases.size(); ++i)
            QTest::newRow(cases[i].name.c_str()) << int(i);
#else
        QTest::newRow("none") << 0;
#endif
    }

    void fakeQuant()
    {
        QFETCH(int, index);
#if defined(QS_HAVE_CUDA)
        static const std::vector<qs::cudacheck::FakeQuantCase> cases = qs::cudacheck::fakeQuantCases();
        QS_CUDA_CHECK(qs::cudacheck::checkFakeQuant(cases[std::size_t(index)]));
#else
        Q_UNUSED(index);
        QSKIP("built without CUDA");
#endif
    }

    void blockFakeQuant_data()
    {
        QTest::addColumn<int>("index");
#if defined(QS_HAVE_CUDA)
        const std::vector<qs::cudacheck::BlockCase> cases = qs::cudacheck::blockCases();
        for (std::size_t i = 0; i < cases.size(); ++i)
            QTest::newRow(cases[i].name.c_str()) << int(i);
#else
        QTest::newRow("none") << 0;
#endif
    }

    /// blockFakeQuantError on the device against the reference sums.
    void blockFakeQuant()
    {
        QFETCH(int, index);
#if defined(QS_HAVE_CUDA)
        static const std::vector<qs::cudacheck::BlockCase> cases = qs::cudacheck::blockCases();
        const qs::cudacheck::BlockCase& c = cases[std::size_t(index)];
        QS_CUDA_CHECK(qs::cudacheck::checkBlockFakeQuant(c));
        QVERIFY(qs::blockFakeQuantError(qs::Backend::Cuda, c.values, c.shape, c.scheme)
            == qs::blockFakeQuantError(qs::Backend::Scalar, c.values, c.shape, c.scheme));
#else
        Q_UNUSED(index);
        QSKIP("built without CUDA");
#endif
    }

    void packed_data()
    {
        QTest::addColumn<int>("index");
#if defined(QS_HAVE_CUDA)
        const std::vector<qs::cudacheck::PackedCase> cases = qs::cudacheck::packedCases();
        for (std::size_t i = 0; i < cases.size(); ++i)
            QTest::newRow(cases[i].name.c_str()) << int(i);
#else
        QTest::newRow("none") << 0;
#endif
    }

    /// Packed quantize and dequantize against qs::quantize / packBlockFormat / qs::dequantize.
    void packed()
    {
        QFETCH(int, index);
#if defined(QS_HAVE_CUDA)
        static const std::vector<qs::cudacheck::PackedCase> cases = qs::cudacheck::packedCases();
        const qs::cudacheck::PackedCase& c = cases[std::size_t(index)];
        QS_CUDA_CHECK(qs::cudacheck::checkPacked(c));
        const qs::PackedTensor gpu = qs::packedQuantize(qs::Backend::Cuda, c.values, c.shape, c.scheme);
        QVERIFY(gpu.bytes == qs::packedQuantize(qs::Backend::Scalar, c.values, c.shape, c.scheme).bytes);
#else
        Q_UNUSED(index);
        QSKIP("built without CUDA");
#endif
    }

    void refusals()
    {
        QS_CUDA_CHECK(qs::cudacheck::checkRefusals());
    }

    void dispatchEqualsScalarBackend()
    {
#if defined(QS_HAVE_CUDA)
        const std::vector<float> values = qs::cudacheck::testValues(1000000, 5);
        QVERIFY(qs::backendAvailable(qs::Backend::Cuda));
        QVERIFY(qs::cudaref::sameMinMax(
            qs::minMax(qs::Backend::Cuda, values), qs::minMax(qs::Backend::Scalar, values)));
        const std::vector<qs::MinMaxResult> rows = qs::minMaxRows(qs::Backend::Cuda, values, 1000, 1000);
        const std::vector<qs::MinMaxResult> scalarRows
            = qs::minMaxRows(qs::Backend::Scalar, values, 1000, 1000);
        for (std::size_t r = 0; r < rows.size(); ++r)
            QVERIFY2(qs::cudaref::sameMinMax(rows[r], scalarRows[r]), std::to_string(r).c_str());
        QCOMPARE(qs::histogram(qs::Backend::Cuda, values, 2048, -3.0, 3.0, false),
            qs::histogram(qs::Backend::Scalar, values, 2048, -3.0, 3.0, false));
        QCOMPARE(qs::histogram(qs::Backend::Cuda, values, 1000, 0.0, 0.3, true),
            qs::histogram(qs::Backend::Scalar, values, 1000, 0.0, 0.3, true));
        int compared = 0;
        for (const qs::cudacheck::FakeQuantCase& c : qs::cudacheck::fakeQuantCases()) {
            if (!qs::fakeQuantErrorUnsupported(c.scheme, c.shape).empty())
                continue;
            const qs::QuantizedTensor q
                = qs::quantize(qs::Tensor {c.name, c.shape, c.values}, c.scheme, c.ranges);
            const qs::ErrorSums gpu
                = qs::fakeQuantError(qs::Backend::Cuda, c.values, c.shape, c.scheme, q.scales, q.zeroPoints);
            const qs::ErrorSums cpu = qs::fakeQuantError(
                qs::Backend::Scalar, c.values, c.shape, c.scheme, q.scales, q.zeroPoints);
            QVERIFY2(qs::cudaref::sameSums(gpu, cpu), c.name.c_str());
            ++compared;
        }
        QVERIFY(compared > 20);
#else
        QSKIP("built without CUDA");
#endif
    }

    void timing()
    {
        QS_CUDA_CHECK(qs::cudacheck::checkTiming());
    }
};

QTEST_APPLESS_MAIN(TestCudaKernels)
#include "tst_cuda_kernels.moc"
