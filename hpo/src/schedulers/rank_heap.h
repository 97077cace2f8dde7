// Cache-friendly building block of the ASHA rungs (hpo/src/schedulers/asha.h): a d-ary heap on
// one contiguous vector.
#pragma once

#include <cstddef>
#include <vector>

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

}  // namespace schedulers_internal
}  // namespace hpo
