// Did-you-mean suggestions for data/ error messages. Private to data/src.
#pragma once

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

namespace data::internal {

// Levenshtein distance (insertions, deletions and substitutions cost 1).
inline size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The candidate nearest to `name` within 3 edits (the first one on ties), or "" when none is.
inline std::string Closest(const std::string& name, const std::vector<std::string>& candidates) {
  std::string closest;
  size_t best = 4;
  for (const auto& c : candidates) {
    size_t d = EditDistance(name, c);
    if (d < best) best = d, closest = c;
  }
  return closest;
}

}  // namespace data::internal
