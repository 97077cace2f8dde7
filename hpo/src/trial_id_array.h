// A paged array indexed by trial id, for per-trial lookups whose cost must not grow with the
// study (the ASHA scheduler's tickets, Study's id → position index, the in-memory storage's
// records). Private to hpo/src.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "hpo/check.h"

namespace hpo::internal {

// Values of type T by non-negative trial id. Trial ids are a storage's ids: they grow, mostly
// consecutively, so the values sit in pages of 1,024 allocated (value-initialised) on first
// write: a lookup is two dependent loads, the first of them in a small, hot page table, where a
// hash map costs two or three cache misses for an old trial. Ids far apart (studies sharing a
// storage) cost one pointer per 1,024 ids in between. A value's address never changes.
// Not thread-safe.
template <typename T>
class TrialIdArray {
 public:
  // The value of `trial_id`; nullptr when its page was never written (a value-initialised T
  // when only the rest of its page was).
  const T* Find(int64_t trial_id) const {
    const size_t page = Page(trial_id);
    if (page >= pages_.size() || !pages_[page]) return nullptr;
    return &pages_[page][Slot(trial_id)];
  }
  T* Find(int64_t trial_id) {
    return const_cast<T*>(static_cast<const TrialIdArray&>(*this).Find(trial_id));
  }
  // The value of `trial_id`, or a value-initialised T where none was written.
  T Get(int64_t trial_id) const {
    const T* v = Find(trial_id);
    return v == nullptr ? T{} : *v;
  }
  // The value of `trial_id`, allocating its page.
  T& operator[](int64_t trial_id) {
    const size_t page = Page(trial_id);
    if (page >= pages_.size()) pages_.resize(page + 1);
    if (!pages_[page]) pages_[page] = std::make_unique<T[]>(kPageSize);
    return pages_[page][Slot(trial_id)];
  }

 private:
  static constexpr int kPageBits = 10;
  static constexpr size_t kPageSize = size_t{1} << kPageBits;
  static size_t Page(int64_t trial_id) {
    HPO_CHECK(trial_id >= 0) << "negative trial id" << trial_id;
    return static_cast<size_t>(trial_id) >> kPageBits;
  }
  static size_t Slot(int64_t trial_id) { return static_cast<size_t>(trial_id) & (kPageSize - 1); }

  std::vector<std::unique_ptr<T[]>> pages_;
};

}  // namespace hpo::internal
