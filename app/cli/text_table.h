#pragma once

#include <string>
#include <vector>

namespace qs::cli {

/// A plain-text table with left-aligned text columns and right-aligned numeric columns.
class TextTable {
public:
    enum class Align { Left, Right };
    struct Column {
        std::string title;
        Align align = Align::Left;
    };

    explicit TextTable(std::vector<Column> columns);
    void addRow(std::vector<std::string> cells);
    std::string render() const;

private:
    std::vector<Column> m_columns;
    std::vector<std::vector<std::string>> m_rows;
};

/// "4.2 MiB", "512 B".
std::string formatBytes(double bytes);
/// Compact number for tables: %.6g.
std::string formatNumber(double value);
/// "12.34%".
std::string formatPercent(double share);

} // namespace qs::cli
