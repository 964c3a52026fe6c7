#pragma once

// Test data tables whose columns are all QString.

#include <QtTest>
#include <initializer_list>

/// QTest::newRow(name) << QString(column) << ... for each column in order.
inline void stringRow(const char* name, std::initializer_list<const char*> columns)
{
    QTestData& row = QTest::newRow(name);
    for (const char* column : columns)
        row << QString::fromUtf8(column);
}
