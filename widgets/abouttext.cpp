#include "abouttext.h"

#include <QCoreApplication>

namespace qs::gui {

QString aboutText()
{
    const QString version = QStringLiteral(QS_VERSION);
    return QCoreApplication::translate("qs::gui::About",
        "<h3>Quantscope %1</h3>"
        "<p>A workbench for neural-network quantization: look at weight and activation distributions and "
        "outliers, compare calibration methods and number formats.</p>"
        "<p>Built with:</p><ul>"
        "<li>Qt %2 (Widgets, Concurrent, Svg, PrintSupport)</li>"
        "<li>QCustomPlot (plots)</li>"
        "<li>Eigen (linear algebra)</li>"
        "<li>HDF5 (HDF5 files)</li>"
        "<li>Google Highway (portable SIMD kernels)</li>"
        "<li>nlohmann/json (safetensors headers, settings)</li>"
        "<li>CLI11 (the quantscope-cli command line)</li>"
        "<li>libzip (NumPy .npz archives)</li>"
        "<li>OpenSSL libcrypto (SHA-256 of the source files in exported settings)</li>"
        "</ul>")
        .arg(version, QString::fromLatin1(qVersion()));
}

} // namespace qs::gui
