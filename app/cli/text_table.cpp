#include "text_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace qs::cli {

TextTable::TextTable(std::vector<Column> columns)
    : m_columns(std::move(columns))
{
}

void TextTable::addRow(std::vector<std::string> cells)
{
    cells.resize(m_columns.size());
    m_rows.push_back(std::move(cells));
}

std::string TextTable::render() const
{
    std::vector<std::size_t> widths(m_columns.size());
    for (std::size_t c = 0; c < m_columns.size(); ++c) {
        widths[c] = m_columns[c].title.size();
        for (const auto& row : m_rows)
            widths[c] = std::max(widths[c], row[c].size());
    }
    auto line = [&](const std::vector<std::string>& cells) {
        std::string text;
        for (std::size_t c = 0; c < cells.size(); ++c) {
            const std::size_t pad = widths[c] - cells[c].size();
            if (c)
                text += "  ";
            if (m_columns[c].align == Align::Right)
                text += std::string(pad, ' ') + cells[c];
            else if (c + 1 < cells.size())
                text += cells[c] + std::string(pad, ' ');
            else
                text += cells[c];
        }
        return text + "\n";
    };
    std::vector<std::string> titles;
    for (const auto& column : m_columns)
        titles.push_back(column.title);
    std::string out = line(titles);
    for (const auto& row : m_rows)
        out += line(row);
    return out;
}

std::string formatBytes(double bytes)
{
    static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int unit = 0;
    while (bytes >= 1024.0 && unit < 4) {
        bytes /= 1024.0;
        ++unit;
    }
    char text[32];
    if (unit == 0)
        std::snprintf(text, sizeof text, "%.0f %s", bytes, kUnits[unit]);
    else
        std::snprintf(text, sizeof text, "%.1f %s", bytes, kUnits[unit]);
    return text;
}

std::string formatNumber(double value)
{
    if (std::isinf(value))
        return value > 0 ? "inf" : "-inf";
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", value);
    return text;
}

std::string formatPercent(double share)
{
    char text[32];
    std::snprintf(text, sizeof text, "%.4g%%", share * 100.0);
    return text;
}

} // namespace qs::cli
