#include "plotpanel.h"

#include "plotcanvas.h"

#include <QLabel>

namespace qs::gui {

PlotPanel::PlotPanel(PlotCanvas* plot, QWidget* parent)
    : QStackedWidget(parent)
    , m_plot(plot)
    , m_message(new QLabel(this))
{
    m_message->setObjectName(QStringLiteral("plotMessage"));
    m_message->setAlignment(Qt::AlignCenter);
    m_message->setWordWrap(true);
    m_message->setMargin(24);
    m_message->setFrameShape(QFrame::StyledPanel);
    m_message->setForegroundRole(QPalette::PlaceholderText);
    addWidget(m_plot);
    addWidget(m_message);
}

void PlotPanel::showPlot()
{
    setCurrentWidget(m_plot);
}

void PlotPanel::showMessage(const QString& message)
{
    m_message->setText(message);
    setCurrentWidget(m_message);
}

bool PlotPanel::isShowingPlot() const
{
    return currentWidget() == m_plot;
}

QString PlotPanel::message() const
{
    return isShowingPlot() ? QString() : m_message->text();
}

} // namespace qs::gui
