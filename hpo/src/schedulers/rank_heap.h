// Cache-friendly building blocks of the ASHA rungs (hpo/src/schedulers/asha.h): a d-ary heap on
// one contiguous vector, and a paged array indexed by trial id.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "hpo/check.h"

namespace hpo {
namespace schedulers_internal {

// A D-ary heap whose root is the first element in the order `First` (First(a, b): a comes
// before b), i.e. a max-heap when First is "better". Push is O(1) on average for values in
// random order and O(log_D n) at worst; Pop is O(D log_D n). With D = 4 and 16-byte elements a
// node's children share one or two cache lines, and a heap of n elements is log_4 n levels deep
// (half of a binary heap's), so the cold lower levels cost few cache misses.
// Not thread-safe.
template <typename T, typename First, size_t D = 4>
class DaryHeap {
 public:
  bool empty() const { return v_.empty(); }
  size_t size() const { return v_.size(); }
  // The root; the heap must not be empty.
  const T& top() const { return v_.front(); }

  void Push(const T& x) {
    size_t i = v_.size();
    v_.push_back(x);
    while (i > 0) {
      size_t parent = (i - 1) / D;
      if (!first_(x, v_[parent])) break;
      v_[i] = v_[parent];
      i = parent;
    }
    v_[i] = x;
  }

  // Removes and returns the root; the heap must not be empty.
  T Pop() {
    T root = v_.front();
    T last = v_.back();
    v_.pop_back();
    const size_t n = v_.size();
    if (n == 0) return root;
    size_t i = 0;
    for (;;) {
      size_t child = i * D + 1;
      if (child >= n) break;
      size_t end = child + D < n ? child + D : n;
      size_t best = child;
      for (size_t c = child + 1; c < end; ++c)
        if (first_(v_[c], v_[best])) best = c;
      if (!first_(v_[best], last)) break;
      v_[i] = v_[best];
      i = best;
    }
    v_[i] = last;
    return root;
  }

 private:
  std::vector<T> v_;
  [[no_unique_address]] First first_;
};

// int64_t values by non-negative trial id, 0 until set. Trial ids are a storage's ids: they
// grow, mostly consecutively, so the values sit in pages of 1,024 allocated on first write: a
// lookup is two loads, and the pages of recent trials stay in cache. Ids far apart (studies
// sharing a storage) cost one pointer per 1,024 ids in between.
class TrialIdArray {
 public:
  int64_t Get(int64_t trial_id) const {
    size_t page = Page(trial_id);
    if (page >= pages_.size() || !pages_[page]) return 0;
    return pages_[page][Slot(trial_id)];
  }
  void Set(int64_t trial_id, int64_t value) {
    size_t page = Page(trial_id);
    if (page >= pages_.size()) pages_.resize(page + 1);
    if (!pages_[page]) pages_[page] = std::make_unique<int64_t[]>(kPageSize);  // zeroed
    pages_[page][Slot(trial_id)] = value;
  }

 private:
  static constexpr int kPageBits = 10;
  static constexpr size_t kPageSize = size_t{1} << kPageBits;
  static size_t Page(int64_t trial_id) {
    HPO_CHECK(trial_id >= 0) << "negative trial id" << trial_id;
    return static_cast<size_t>(trial_id) >> kPageBits;
  }
  static size_t Slot(int64_t trial_id) { return static_cast<size_t>(trial_id) & (kPageSize - 1); }

  std::vector<std::unique_ptr<int64_t[]>> pages_;
};

}  // namespace schedulers_internal
}  // namespace hpo
