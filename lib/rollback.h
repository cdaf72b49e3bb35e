// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <functional>
#include <utility>
#include <vector>

namespace resctrld {

// Undoes, in reverse order, the steps of an operation that did not complete: each step that
// changed something registers its inverse; commit() keeps the changes. Undo steps must not
// throw (they log what they could not undo).
class Rollback {
public:
    Rollback() = default;
    Rollback(const Rollback&) = delete;
    Rollback& operator=(const Rollback&) = delete;
    ~Rollback() {
        for (auto step = undo_.rbegin(); step != undo_.rend(); ++step)
            (*step)();
    }

    void add(std::function<void()> undo) { undo_.push_back(std::move(undo)); }
    void commit() noexcept { undo_.clear(); }

private:
    std::vector<std::function<void()>> undo_;
};

} // namespace resctrld
