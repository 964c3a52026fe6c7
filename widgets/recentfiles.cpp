#include "recentfiles.h"

#include <QFileInfo>
#include <QSettings>

namespace qs::gui {

namespace {

const QString kKey = QStringLiteral("recentFiles");

}

QStringList RecentFiles::files() const
{
    QStringList list = QSettings().value(kKey).toStringList();
    list.removeDuplicates();
    list.removeAll(QString());
    return list.mid(0, maxCount);
}

void RecentFiles::add(const QString& path)
{
    const QString absolute = QFileInfo(path).absoluteFilePath();
    QStringList list = files();
    list.removeAll(absolute);
    list.prepend(absolute);
    save(list.mid(0, maxCount));
}

void RecentFiles::remove(const QString& path)
{
    QStringList list = files();
    list.removeAll(QFileInfo(path).absoluteFilePath());
    list.removeAll(path);
    save(list);
}

void RecentFiles::clear()
{
    save({});
}

void RecentFiles::save(const QStringList& files)
{
    QSettings().setValue(kKey, files);
}

} // namespace qs::gui
