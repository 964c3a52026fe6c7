#pragma once

#include "io/tensor_file.h"
#include "tensor/stats.h"

#include <QMetaType>
#include <QString>
#include <memory>

namespace qs::gui {

struct TensorAnalysis;
struct ChannelHistogram;
struct QuantizationAnalysis;

/// A published analysis; shared between views, never modified after publication.
using AnalysisPtr = std::shared_ptr<const TensorAnalysis>;
using ChannelHistogramPtr = std::shared_ptr<const ChannelHistogram>;
using QuantizationPtr = std::shared_ptr<const QuantizationAnalysis>;

/// One file the user opened. `id` stays unique for the lifetime of the session, even after closing.
struct OpenFile {
    int id = -1;
    QString path; ///< absolute
    std::shared_ptr<const qs::TensorFile> file;

    QString fileName() const;
};

/// A tensor of an open file.
struct TensorRef {
    int fileId = -1;
    QString name;

    bool isValid() const { return fileId >= 0; }
    bool operator==(const TensorRef&) const = default;
};

} // namespace qs::gui

Q_DECLARE_METATYPE(qs::gui::AnalysisPtr)
Q_DECLARE_METATYPE(qs::gui::ChannelHistogramPtr)
Q_DECLARE_METATYPE(qs::gui::QuantizationPtr)
Q_DECLARE_METATYPE(qs::gui::OpenFile)
Q_DECLARE_METATYPE(qs::gui::TensorRef)
Q_DECLARE_METATYPE(qs::SummaryStats)
