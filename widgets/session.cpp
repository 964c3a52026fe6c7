#include "session.h"

#include <QFileInfo>

namespace qs::gui {

QString OpenFile::fileName() const
{
    return QFileInfo(path).fileName();
}

} // namespace qs::gui
