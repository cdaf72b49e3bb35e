// Writes the sysfs cache topology of a profile as plain files. The simulator serves the same
// tree from SysfsModel (--sysfs DIR); this writer is the reference the tests hold it to.
#pragma once

#include <string>

#include "profile.h"

namespace resctrlsim {

// Writes DIR/devices/system/cpu/{online,possible,present} and
// cpuN/cache/indexM/{level,type,id,size,shared_cpu_list}. Throws std::runtime_error.
void writeSysfsTree(const Profile& profile, const std::string& dir);

// "0-19,40-59" for a sorted list of CPU numbers.
std::string formatCpuList(const std::vector<unsigned>& cpus);

} // namespace resctrlsim
