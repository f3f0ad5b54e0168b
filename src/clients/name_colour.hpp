#pragma once
// Colours for the names in received chat lines ("[bob]hello"), when a person reads them on a
// terminal. Each ID always gets the same colour (a hash of its bytes picks from a fixed
// palette), so a speaker is recognised at a glance across lines and sessions.
#include <string>
#include <string_view>

namespace concur {

// Colour is used when stdout is a terminal (TERM set, not "dumb"), NO_COLOR is unset or empty
// (no-color.org) and --no-color was not given.
bool colour_wanted(bool no_color_option);

// The SGR colour code ("31".."96") of an ID.
std::string_view name_colour(std::string_view id);

// `line` is already escaped (escape_for_terminal), so it holds no control characters of its own.
// When it starts with "[ID]", that part is wrapped in the ID's colour; otherwise it is returned
// unchanged.
std::string colour_chat_line(std::string_view line);

}  // namespace concur
