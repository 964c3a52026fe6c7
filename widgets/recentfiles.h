#pragma once

#include <QStringList>

namespace qs::gui {

/// The most recently opened files, newest first, kept in QSettings.
class RecentFiles {
public:
    static constexpr int maxCount = 10;

    QStringList files() const;
    /// Moves `path` (made absolute) to the front, dropping the oldest beyond maxCount.
    void add(const QString& path);
    void remove(const QString& path);
    void clear();

private:
    void save(const QStringList& files);
};

} // namespace qs::gui
