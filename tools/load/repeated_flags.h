#pragma once

// Abseil keeps only the last occurrence of a flag, but --data, --metadata and
// --param may be given many times (and hold commas, so a list flag will not
// do). TakeRepeatedFlags takes every occurrence out of argv before Abseil
// parses the rest; the flags stay defined so --help still lists them.

#include <map>
#include <string>
#include <vector>

namespace crm::load {

// Removes "--name=value", "-name=value", "--name value" and "-name value" for
// each of `names` from argv (up to a "--"), compacting argv and argc, and
// returns the values by name in order. A name with no value left is kept, for
// Abseil to report.
std::map<std::string, std::vector<std::string>> TakeRepeatedFlags(
    int& argc, char** argv, const std::vector<std::string>& names);

}  // namespace crm::load
