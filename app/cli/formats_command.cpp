#include "commands.h"
#include "formats/number_format.h"
#include "quant/block_formats.h"
#include "quant/scheme.h"
#include "text_table.h"

#include <iostream>
#include <nlohmann/json.hpp>

namespace qs::cli {

namespace {

std::string kindOf(const NumberFormat& format)
{
    if (std::holds_alternative<IntegerSpec>(format.spec))
        return "integer";
    if (std::holds_alternative<MinifloatSpec>(format.spec))
        return "minifloat";
    if (std::holds_alternative<LookupSpec>(format.spec))
        return "lookup";
    return std::get<SignSpec>(format.spec).ternary ? "ternary" : "binary";
}

int runFormats(bool json)
{
    const std::vector<NumberFormat> elements = allFormats();
    const std::vector<BlockFormat> blocks = allBlockFormats();
    if (json) {
        auto list = nlohmann::ordered_json::array();
        for (const NumberFormat& format : elements) {
            const int bits = formatBits(format);
            list.push_back({{"name", format.name}, {"kind", kindOf(format)}, {"bits", bits},
                {"max", formatMaxFinite(format)}, {"bits_per_value", bits}, {"standard", format.standard},
                {"reference", format.reference}});
        }
        for (BlockFormat block : blocks) {
            const BlockFormatInfo info = blockFormatInfo(block);
            list.push_back({{"name", blockFormatName(block)}, {"kind", "block"}, {"bits", info.elementBits},
                {"max", info.elementMax}, {"bits_per_value", blockFormatBitsPerValue(block, 0, false)},
                {"standard", true}, {"reference", info.reference}, {"element", info.element},
                {"block_size", defaultBlockSize(block)}, {"scale", info.scale}});
        }
        std::cout << list.dump(2) << "\n";
        return 0;
    }

    TextTable elementTable({{"FORMAT"}, {"KIND"}, {"BITS", TextTable::Align::Right},
        {"MAX", TextTable::Align::Right}, {"REFERENCE"}});
    for (const NumberFormat& format : elements)
        elementTable.addRow({format.name, kindOf(format), std::to_string(formatBits(format)),
            formatNumber(formatMaxFinite(format)),
            format.standard ? format.reference : "non-standard; " + format.reference});
    TextTable blockTable({{"BLOCK FORMAT"}, {"ELEMENT"}, {"BITS/VALUE", TextTable::Align::Right},
        {"MAX", TextTable::Align::Right}, {"SCALES"}, {"REFERENCE"}});
    for (BlockFormat block : blocks) {
        const BlockFormatInfo info = blockFormatInfo(block);
        blockTable.addRow(
            {blockFormatName(block), info.element, formatNumber(blockFormatBitsPerValue(block, 0, false)),
                formatNumber(info.elementMax), info.scale, info.reference});
    }
    std::cout << "Element formats (bits per value without scales; a scale adds its bits / group size):\n\n"
              << elementTable.render() << "\nBlock formats (bits per value including their scales):\n\n"
              << blockTable.render();
    return 0;
}

} // namespace

Action addFormatsCommand(CLI::App& app)
{
    auto json = std::make_shared<bool>(false);
    CLI::App* command = app.add_subcommand("formats", "List the element and block number formats");
    command->add_flag("--json", *json, "Print one JSON array");
    return [json] { return runFormats(*json); };
}

} // namespace qs::cli
