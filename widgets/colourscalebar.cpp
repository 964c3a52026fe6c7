#include "colourscalebar.h"

#include <QLinearGradient>
#include <QPainter>

namespace qs::gui {

ColourScaleBar::ColourScaleBar(const CompareMatrixModel* model, QWidget* parent)
    : QWidget(parent)
    , m_model(model)
{
    connect(model, &CompareMatrixModel::colourScaleChanged, this, qOverload<>(&QWidget::update));
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
}

QString ColourScaleBar::legendText() const
{
    const auto [lo, hi] = m_model->colourRange();
    if (m_model->finishedCount() == 0 || (lo == 0 && hi == 0))
        return {};
    const CompareMatrixModel::Metric metric = m_model->metric();
    const bool higher = CompareMatrixModel::higherIsBetter(metric);
    const QString worst = CompareMatrixModel::formatMetric(higher ? lo : hi, metric);
    const QString best = CompareMatrixModel::formatMetric(higher ? hi : lo, metric);
    return tr("%1: %2 (worst) \u2026 %3 (best)%4")
        .arg(CompareMatrixModel::metricName(metric), worst, best,
            CompareMatrixModel::logColours(metric) ? tr(", log scale") : QString());
}

QSize ColourScaleBar::sizeHint() const
{
    return {360, fontMetrics().height() * 2 + 8};
}

QSize ColourScaleBar::minimumSizeHint() const
{
    return {160, sizeHint().height()};
}

void ColourScaleBar::paintEvent(QPaintEvent*)
{
    QPainter painter(this);
    const int textHeight = fontMetrics().height();
    const QRect bar(4, 2, width() - 8, height() - textHeight - 6);
    QLinearGradient gradient(bar.topLeft(), bar.topRight());
    for (int i = 0; i <= 10; ++i)
        gradient.setColorAt(i / 10.0, CompareMatrixModel::goodnessColour(i / 10.0));
    painter.fillRect(bar, gradient);
    painter.setPen(palette().color(QPalette::Mid));
    painter.drawRect(bar.adjusted(0, 0, -1, -1));

    painter.setPen(palette().color(QPalette::WindowText));
    const QRect text(bar.left(), bar.bottom() + 2, bar.width(), textHeight + 2);
    const QString legend = legendText();
    if (legend.isEmpty()) {
        painter.drawText(text, Qt::AlignCenter, tr("worst \u2192 best"));
        return;
    }
    const auto [lo, hi] = m_model->colourRange();
    const CompareMatrixModel::Metric metric = m_model->metric();
    const bool higher = CompareMatrixModel::higherIsBetter(metric);
    painter.drawText(text, Qt::AlignLeft | Qt::AlignVCenter,
        tr("worst: %1").arg(CompareMatrixModel::formatMetric(higher ? lo : hi, metric)));
    painter.drawText(text, Qt::AlignCenter,
        CompareMatrixModel::metricName(metric)
            + (CompareMatrixModel::logColours(metric) ? tr(" (log colour scale)") : QString()));
    painter.drawText(text, Qt::AlignRight | Qt::AlignVCenter,
        tr("best: %1").arg(CompareMatrixModel::formatMetric(higher ? hi : lo, metric)));
}

} // namespace qs::gui
