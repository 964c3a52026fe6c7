#include "schemesettings.h"

#include <variant>

namespace qs::gui {

bool schemeHasOwnScales(const qs::Scheme& scheme)
{
    return scheme.blockFormat != qs::BlockFormat::None
        || std::holds_alternative<qs::SignSpec>(scheme.format.spec);
}

std::string settingsName(const SchemeSettings& settings)
{
    std::string name = qs::schemeName(settings.scheme);
    if (schemeHasOwnScales(settings.scheme))
        return name;
    name += " \u00b7 " + qs::calibrationMethodName(settings.options.method);
    if (settings.options.compat != qs::Compatibility::Native)
        name += " (" + qs::compatibilityName(settings.options.compat) + ")";
    return name;
}

} // namespace qs::gui
