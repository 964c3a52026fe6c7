#include "activityindicator.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QToolButton>

namespace qs::gui {

ActivityIndicator::ActivityIndicator(QWidget* parent)
    : QWidget(parent)
    , m_label(new QLabel(this))
    , m_progress(new QProgressBar(this))
    , m_cancel(new QToolButton(this))
{
    m_label->setObjectName(QStringLiteral("activityLabel"));
    m_label->setTextFormat(Qt::PlainText);
    m_label->setMaximumWidth(520);
    m_progress->setObjectName(QStringLiteral("activityProgress"));
    m_progress->setFixedWidth(160);
    m_progress->setMaximumHeight(16);
    m_progress->setTextVisible(false);
    m_cancel->setObjectName(QStringLiteral("cancelButton"));
    m_cancel->setText(tr("Cancel"));
    m_cancel->setToolTip(tr("Stop the work that runs in the background"));
    m_cancel->setAutoRaise(true);

    auto* layout = new QHBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(6);
    layout->addWidget(m_label);
    layout->addWidget(m_progress);
    layout->addWidget(m_cancel);

    connect(m_cancel, &QToolButton::clicked, this, &ActivityIndicator::cancelRequested);
    setBusy(false);
}

QString ActivityIndicator::text() const
{
    return m_label->text();
}

void ActivityIndicator::setBusy(bool busy)
{
    setVisible(busy);
    m_cancel->setEnabled(busy);
}

void ActivityIndicator::setActivity(const QString& description, int progress)
{
    const QString elided
        = m_label->fontMetrics().elidedText(description, Qt::ElideMiddle, m_label->maximumWidth());
    m_label->setText(elided);
    m_label->setToolTip(description);
    if (progress < 0) {
        m_progress->setRange(0, 0);
    } else {
        m_progress->setRange(0, 100);
        m_progress->setValue(progress);
    }
}

} // namespace qs::gui
