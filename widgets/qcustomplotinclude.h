#pragma once

// Include QCustomPlot through this header only. QCustomPlot 2.1's header uses Qt's `foreach`, which
// QT_NO_FOREACH (on for our code) removes. Its two loops only read the container, so a range-for stand-in
// is equivalent; it is defined only while the header is parsed.
#ifdef QT_NO_FOREACH
#define foreach(variable, container) for (variable : container)
#include <qcustomplot.h>
#undef foreach
#else
#include <qcustomplot.h>
#endif
