#include "plotcanvas.h"

#include "plotexport.h"

#include <QContextMenuEvent>
#include <QMenu>

namespace qs::gui {

PlotCanvas::PlotCanvas(QWidget* parent)
    : QCustomPlot(parent)
    , m_title(new QCPTextElement(this))
{
    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    setAntialiasedElements(QCP::aePlottables);
    setNoAntialiasingOnDrag(true);
    setMinimumSize(240, 180);
    setMouseTracking(true);

    QFont titleFont = font();
    titleFont.setBold(true);
    m_title->setFont(titleFont);
    m_title->setMargins(QMargins(4, 6, 4, 0));
    plotLayout()->insertRow(0);
    plotLayout()->addElement(0, 0, m_title);
    plotLayout()->setRowSpacing(0);
    styleAxes(axisRect());
}

void PlotCanvas::styleAxes(QCPAxisRect* rect)
{
    for (QCPAxis* axis : rect->axes()) {
        axis->setLabelFont(font());
        axis->setTickLabelFont(font());
        axis->grid()->setPen(QPen(QColor(0, 0, 0, 28), 1, Qt::SolidLine));
        axis->grid()->setSubGridVisible(false);
    }
}

void PlotCanvas::setTitle(const QString& title)
{
    m_title->setText(title);
}

QString PlotCanvas::title() const
{
    return m_title->text();
}

void PlotCanvas::rememberHomeView()
{
    m_homeX = xAxis->range();
    m_homeY = yAxis->range();
}

void PlotCanvas::resetView()
{
    xAxis->setRange(m_homeX);
    yAxis->setRange(m_homeY);
    replot();
}

void PlotCanvas::exportInteractively()
{
    exportPlotInteractively(*this, m_exportName.isEmpty() ? objectName() : m_exportName, this);
}

QString PlotCanvas::hoverText(double, double) const
{
    return {};
}

void PlotCanvas::mousePressEvent(QMouseEvent* event)
{
    m_pressPosition = event->pos();
    m_pressed = event->button() == Qt::LeftButton;
    QCustomPlot::mousePressEvent(event);
}

void PlotCanvas::mouseMoveEvent(QMouseEvent* event)
{
    QCustomPlot::mouseMoveEvent(event);
    QString text;
    if (axisRect()->rect().contains(event->pos()))
        text = hoverText(xAxis->pixelToCoord(event->pos().x()), yAxis->pixelToCoord(event->pos().y()));
    emit hoverTextChanged(text);
}

void PlotCanvas::mouseReleaseEvent(QMouseEvent* event)
{
    QCustomPlot::mouseReleaseEvent(event);
    const bool click = m_pressed && event->button() == Qt::LeftButton
        && (event->pos() - m_pressPosition).manhattanLength() < 4
        && axisRect()->rect().contains(event->pos());
    m_pressed = false;
    if (click)
        emit clicked(xAxis->pixelToCoord(event->pos().x()), yAxis->pixelToCoord(event->pos().y()));
}

void PlotCanvas::leaveEvent(QEvent* event)
{
    QCustomPlot::leaveEvent(event);
    emit hoverTextChanged({});
}

void PlotCanvas::contextMenuEvent(QContextMenuEvent* event)
{
    QMenu menu(this);
    menu.addAction(tr("Reset View"), this, &PlotCanvas::resetView);
    menu.addSeparator();
    menu.addAction(tr("Export as PNG, SVG or PDF\u2026"), this, &PlotCanvas::exportInteractively);
    menu.exec(event->globalPos());
}

} // namespace qs::gui
