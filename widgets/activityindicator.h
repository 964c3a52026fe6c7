#pragma once

#include <QWidget>

class QLabel;
class QProgressBar;
class QToolButton;

namespace qs::gui {

/// The status bar's view of background work: what runs, how far it is, and a Cancel button.
/// Hidden while nothing runs.
class ActivityIndicator : public QWidget {
    Q_OBJECT

public:
    explicit ActivityIndicator(QWidget* parent = nullptr);

    QProgressBar* progressBar() const { return m_progress; }
    QToolButton* cancelButton() const { return m_cancel; }
    QString text() const;

public slots:
    void setBusy(bool busy);
    /// `progress` 0..100, or -1 for a busy indicator without a known end.
    void setActivity(const QString& description, int progress);

signals:
    void cancelRequested();

private:
    QLabel* m_label;
    QProgressBar* m_progress;
    QToolButton* m_cancel;
};

} // namespace qs::gui
