// SPDX-License-Identifier: LGPL-2.1-or-later
#include "caller_cache.h"

namespace resctrld {

std::optional<CallerCredentials> CallerCache::find(const std::string& sender) const {
    if (auto it = callers_.find(sender); it != callers_.end())
        return it->second;
    return std::nullopt;
}

void CallerCache::remember(const std::string& sender, const CallerCredentials& credentials) {
    if (capacity_ == 0 || !sender.starts_with(':') || credentials.uid == static_cast<uid_t>(-1))
        return;
    if (!callers_.insert_or_assign(sender, credentials).second)
        return; // already known: it keeps its place
    order_.push_back(sender);
    while (order_.size() > capacity_) {
        callers_.erase(order_.front());
        order_.pop_front();
    }
}

} // namespace resctrld
