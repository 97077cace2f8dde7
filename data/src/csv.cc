// CSV tables: our own small reader (see LoadCsv in data/dataset.h for the accepted format).
// Parsing keeps doubles; tensors are built once at the end, standardised by the train part.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "data/dataset.h"
#include "read_file.h"
#include "suggest.h"

namespace data {
namespace {

constexpr const char* kSetPath = "set data.path to the CSV file";
constexpr size_t kMaxShownColumns = 20;  // header columns listed in an error message
constexpr size_t kMaxShownValue = 40;    // characters of a bad cell quoted in an error message

[[noreturn]] void FailAt(const std::string& path, int64_t line, const std::string& problem,
                         const std::string& fix) {
  throw DataError(path + ":" + std::to_string(line) + ": " + problem + "; " + fix);
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// A finite decimal or scientific number filling all of `s` (after trimming); a leading '+' is
// allowed. No locale: the decimal separator is always '.'.
bool ParseNumber(std::string_view s, double& out) {
  s = Trim(s);
  if (s.size() > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(out);
}

std::string Shown(const std::string& value) {
  if (value.size() <= kMaxShownValue) return "'" + value + "'";
  return "'" + value.substr(0, kMaxShownValue) + "...'";
}

// Splits one line into cells (reusing `cells`' strings) and returns how many it has. Unquoted
// cells are trimmed; a quoted cell is taken verbatim between its quotes, "" standing for ".
size_t SplitRow(std::string_view line, std::vector<std::string>& cells, const std::string& path,
                int64_t line_no) {
  size_t count = 0;
  size_t i = 0;
  const size_t n = line.size();
  for (;;) {
    if (count == cells.size()) cells.emplace_back();
    std::string& cell = cells[count++];
    cell.clear();
    while (i < n && IsSpace(line[i])) ++i;
    if (i < n && line[i] == '"') {
      const size_t open = i++;
      bool closed = false;
      while (i < n) {
        if (line[i] == '"') {
          if (i + 1 < n && line[i + 1] == '"') {
            cell += '"';
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        cell += line[i++];
      }
      if (!closed) {
        FailAt(path, line_no,
               "the quote opened at character " + std::to_string(open + 1) + " is not closed",
               "close it on the same line (a cell may not span lines)");
      }
      while (i < n && IsSpace(line[i])) ++i;
      if (i < n && line[i] != ',') {
        FailAt(path, line_no,
               "unexpected text after the quoted cell closed at character " + std::to_string(i),
               "put the whole cell inside the quotes");
      }
    } else {
      size_t start = i;
      while (i < n && line[i] != ',') ++i;
      cell.assign(Trim(line.substr(start, i - start)));
    }
    if (i >= n) return count;
    ++i;  // the comma
  }
}

std::string ColumnList(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < kMaxShownColumns; ++i) {
    out += (i ? ", " : "") + names[i];
  }
  if (names.size() > kMaxShownColumns) {
    out += " and " + std::to_string(names.size() - kMaxShownColumns) + " more";
  }
  return out;
}

bool AllDigits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// The index of the label column among the header's `names`.
size_t FindLabelByName(const std::vector<std::string>& names, const std::string& label,
                       const std::string& path, int64_t line_no) {
  std::vector<size_t> hits;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == label) hits.push_back(i);
  }
  if (hits.size() == 1) return hits[0];
  if (hits.size() > 1) {
    FailAt(path, line_no,
           "the header names column '" + label + "' " + std::to_string(hits.size()) +
               " times (0-based columns " + std::to_string(hits[0]) + " and " +
               std::to_string(hits[1]) + ")",
           "rename all but the label column");
  }
  std::string closest = internal::Closest(label, names);
  std::string fix = "set data.label_column to one of the header's columns: " + ColumnList(names);
  double unused;
  bool header_is_numbers = true;
  for (const auto& name : names) header_is_numbers &= ParseNumber(name, unused);
  if (header_is_numbers) {
    fix +=
        " (the first row looks like data: if the file has no header, set data.csv_header: "
        "false and data.label_column to the label's 0-based column index)";
  }
  FailAt(path, line_no,
         "no column '" + label + "' (data.label_column) in the header" +
             (closest.empty() ? "" : " (did you mean '" + closest + "'?)"),
         fix);
}

// Maps each distinct label string (in first-seen order) to a class index; fills class_names.
std::vector<int64_t> ClassesOf(const std::vector<std::string>& distinct,
                               std::vector<std::string>& class_names) {
  const size_t d = distinct.size();
  std::vector<double> values(d);
  bool numeric = true;
  for (size_t i = 0; i < d && numeric; ++i) numeric = ParseNumber(distinct[i], values[i]);
  std::vector<int64_t> class_of(d);
  if (numeric) {
    std::vector<double> sorted = values;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    class_names.assign(sorted.size(), "");
    for (size_t i = 0; i < d; ++i) {
      class_of[i] = std::lower_bound(sorted.begin(), sorted.end(), values[i]) - sorted.begin();
      // The first spelling seen names the class ("1" before "1.0").
      if (class_names[class_of[i]].empty()) class_names[class_of[i]] = distinct[i];
    }
  } else {
    std::vector<size_t> order(d);
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return distinct[a] < distinct[b]; });
    class_names.clear();
    for (size_t k = 0; k < d; ++k) {
      class_of[order[k]] = static_cast<int64_t>(k);
      class_names.push_back(distinct[order[k]]);
    }
  }
  return class_of;
}

}  // namespace

Dataset LoadCsv(const std::string& path, const DataOptions& options) {
  const std::string text =
      internal::ReadWholeFile(path, {/*directory=*/kSetPath, /*missing=*/kSetPath});
  std::string_view rest(text);
  if (rest.starts_with("\xEF\xBB\xBF")) rest.remove_prefix(3);  // UTF-8 byte order mark

  std::vector<std::string> names;  // header names, or "0", "1", ... without a header
  int64_t layout_line = 0;         // the header's line, or the first data row's
  size_t label = 0;
  std::vector<std::string> cells;
  std::vector<double> features;    // row-major [rows, names.size() - 1]
  std::vector<int64_t> label_ids;  // per row, an index into `distinct`
  std::vector<std::string> distinct;
  std::unordered_map<std::string, int64_t> id_of;
  int64_t rows = 0;

  int64_t line_no = 0;
  while (!rest.empty()) {
    ++line_no;
    size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view trimmed = Trim(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    size_t count = SplitRow(line, cells, path, line_no);

    if (names.empty()) {  // the first row fixes the columns
      layout_line = line_no;
      if (options.csv_header) {
        names.assign(cells.begin(), cells.begin() + static_cast<std::ptrdiff_t>(count));
        label = FindLabelByName(names, options.label_column, path, line_no);
      } else {
        for (size_t i = 0; i < count; ++i) names.push_back(std::to_string(i));
        if (!AllDigits(options.label_column)) {
          throw DataError(path + ": data.label_column '" + options.label_column +
                          "' must be a 0-based column index such as 4 when data.csv_header is " +
                          "false; set it to the label's index (the rows have " +
                          std::to_string(count) + " columns) or set data.csv_header: true");
        }
        auto [ptr, ec] =
            std::from_chars(options.label_column.data(),
                            options.label_column.data() + options.label_column.size(), label);
        if (ec != std::errc() || label >= count) {
          FailAt(path, line_no,
                 "data.label_column " + options.label_column + " is out of range: the rows have " +
                     std::to_string(count) + " columns",
                 "use a 0-based index from 0 to " + std::to_string(count - 1));
        }
      }
      if (count < 2) {
        FailAt(path, line_no,
               "no feature columns: the only column is the label '" + names[label] + "'",
               "add numeric feature columns");
      }
      if (options.csv_header) continue;
    }

    if (count != names.size()) {
      FailAt(path, line_no,
             "expected " + std::to_string(names.size()) + " columns (as " +
                 (options.csv_header ? "in the header" : "on the first row") + " on line " +
                 std::to_string(layout_line) + "), found " + std::to_string(count),
             "make every row have the same columns (quote cells that contain commas)");
    }
    for (size_t c = 0; c < count; ++c) {
      const std::string& cell = cells[c];
      if (c == label) {
        if (cell.empty()) {
          FailAt(path, line_no, "the label (column '" + names[c] + "') is empty",
                 "fill in the label or drop the row");
        }
        auto [it, added] = id_of.try_emplace(cell, static_cast<int64_t>(distinct.size()));
        if (added) distinct.push_back(cell);
        label_ids.push_back(it->second);
        continue;
      }
      double value;
      if (!ParseNumber(cell, value)) {
        if (Trim(cell).empty()) {
          FailAt(path, line_no, "column '" + names[c] + "' is empty",
                 "fill in the cell or drop the row");
        }
        std::string fix = "fix the cell or drop the column";
        if (!options.csv_header && rows == 0) {
          fix +=
              " (if line " + std::to_string(line_no) + " is a header, set data.csv_header: true)";
        }
        FailAt(path, line_no, "column '" + names[c] + "' value " + Shown(cell) + " is not a number",
               fix);
      }
      features.push_back(value);
    }
    ++rows;
  }

  if (names.empty()) {
    throw DataError(path + ": the file is empty (no header and no rows); " + kSetPath +
                    " with a header line and one row per sample");
  }
  if (rows == 0) {
    throw DataError(path + ": no data rows after the header on line " +
                    std::to_string(layout_line) + "; add one row per sample");
  }
  std::vector<std::string> class_names;
  std::vector<int64_t> class_of = ClassesOf(distinct, class_names);
  const auto num_classes = static_cast<int64_t>(class_names.size());
  if (num_classes < 2) {
    throw DataError(path + ": the label column '" + names[label] + "' has one class only (" +
                    Shown(class_names[0]) +
                    "); a classifier needs at least 2: check data.label_column");
  }

  SplitIndices split =
      MakeSplit(rows, options.validation_fraction, options.split_seed, options.train_limit);
  const auto n_features = static_cast<int64_t>(names.size() - 1);
  // Train-part statistics per feature, in double; a constant column keeps std 1.
  std::vector<double> mean(n_features, 0.0), inv_std(n_features, 1.0);
  for (int64_t f = 0; f < n_features; ++f) {
    double sum = 0.0;
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (int64_t r : split.train) {
      double v = features[r * n_features + f];
      sum += v;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    mean[f] = sum / static_cast<double>(split.train.size());
    if (lo == hi) continue;
    double squares = 0.0;
    for (int64_t r : split.train) {
      double d = features[r * n_features + f] - mean[f];
      squares += d * d;
    }
    inv_std[f] = 1.0 / std::sqrt(squares / static_cast<double>(split.train.size()));
  }

  auto build = [&](const std::vector<int64_t>& index, torch::Tensor& x, torch::Tensor& y) {
    const auto n = static_cast<int64_t>(index.size());
    x = torch::empty({n, n_features}, torch::kFloat);
    y = torch::empty({n}, torch::kInt64);
    float* xp = x.data_ptr<float>();
    int64_t* yp = y.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
      const double* row = &features[index[i] * n_features];
      for (int64_t f = 0; f < n_features; ++f) {
        xp[i * n_features + f] = static_cast<float>((row[f] - mean[f]) * inv_std[f]);
      }
      yp[i] = class_of[label_ids[index[i]]];
    }
  };
  Dataset out;
  build(split.train, out.train_x, out.train_y);
  build(split.val, out.val_x, out.val_y);
  out.num_classes = num_classes;
  out.input_shape = {n_features};
  out.name = "csv";
  out.class_names = std::move(class_names);
  return out;
}

}  // namespace data
