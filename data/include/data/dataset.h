// In-memory datasets for the trainer: decoded once, split deterministically, placed once per
// device. All trials on a device read the same (read-only) tensors.
//
// Example:
//   data::DataOptions options;
//   options.name = "fashion_mnist";
//   options.path = "/usr/share/datasets/fashion-mnist";
//   data::Dataset cpu = data::LoadDataset(options);          // 54000 train / 6000 val
//   data::Dataset gpu = data::ToDevice(cpu, torch::Device(torch::kCUDA, 0));
//
// Errors: bad options or bad files throw data::DataError (data/idx.h) with a one-line message
// naming the file or option, the problem and the fix.
// Thread safety: the functions share no state and may run concurrently. A Dataset's tensors are
// meant to be read-only once built; readers on several threads are fine.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/idx.h"

namespace data {

// A classification dataset split into train and validation parts.
struct Dataset {
  torch::Tensor train_x;  // float32 [N_train, *input_shape], standardised
  torch::Tensor train_y;  // int64 [N_train], values in [0, num_classes)
  torch::Tensor val_x;    // float32 [N_val, *input_shape]
  torch::Tensor val_y;    // int64 [N_val]
  // The official test split (t10k-* files); undefined tensors unless DataOptions::load_test.
  torch::Tensor test_x;
  torch::Tensor test_y;
  int64_t num_classes = 0;
  std::vector<int64_t> input_shape;  // per sample, e.g. {1, 28, 28}; {n_features} for synthetic
  std::string name;                  // registry name, e.g. "fashion_mnist"
  // The label of each class index as written in the source file (csv only; empty otherwise).
  // For a CSV with labels cat/dog/emu: {"cat", "dog", "emu"}.
  std::vector<std::string> class_names;

  int64_t train_size() const { return train_x.defined() ? train_x.size(0) : 0; }
  int64_t val_size() const { return val_x.defined() ? val_x.size(0) : 0; }
};

// Where a dataset comes from and how it is split. Fields mirror the study file's `data:` section.
struct DataOptions {
  std::string name = "fashion_mnist";  // "fashion_mnist" | "mnist" | "synthetic" | "csv"
  // The folder with the IDX files; for "csv" the CSV file itself.
  std::string path = "/usr/share/datasets/fashion-mnist";
  // Share of the training file held out for validation, in [0, 1). The count is
  // round(N * validation_fraction); 60000 * 0.1 gives 6000.
  double validation_fraction = 0.1;
  // Seeds the train/validation permutation: same seed and same N give the same split on every
  // platform. For "synthetic" it also seeds the generated data.
  uint64_t split_seed = 0;
  // Keep at most this many training samples (a deterministic subset of the train part, chosen by
  // split_seed); 0 keeps all. Validation is not affected.
  int64_t train_limit = 0;
  // Also load the t10k-* files into Dataset::test_x/test_y (IDX datasets only).
  bool load_test = false;
  // Sizes for "synthetic" (validation_fraction and train_limit do not apply to it).
  int64_t synthetic_train = 1000;
  int64_t synthetic_val = 200;
  int64_t synthetic_features = 20;
  int64_t synthetic_classes = 4;
  // "csv": the label column, by header name, or as a 0-based index written in digits ("4") when
  // csv_header is false. Every other column is a feature.
  std::string label_column = "label";
  // "csv": the first row that is not empty or a comment is a header of column names.
  bool csv_header = true;
};

// Loads train-images-idx3-ubyte(.gz) and train-labels-idx1-ubyte(.gz) (and t10k-* when
// options.load_test) from `folder`; a raw file is preferred over its .gz twin. Pixels become
// float in [0, 1], then (x - mean) / std with Fashion-MNIST's mean 0.2860 / std 0.3530
// (MNIST: 0.1307 / 0.3081). Uses options' validation_fraction, split_seed, train_limit,
// load_test; ignores name and path. Throws DataError on missing/corrupt files, image/label count
// mismatch, label values >= 10 or bad options.
Dataset LoadFashionMnist(const std::string& folder, const DataOptions& options = {});
Dataset LoadMnist(const std::string& folder, const DataOptions& options = {});

// Reads a CSV table of numeric features and one label column (options.label_column), splits it
// like the IDX loaders (MakeSplit with options' validation_fraction, split_seed, train_limit) and
// standardises every feature with the mean and standard deviation (population, ddof 0) of the
// rows in the train part; a constant column (std 0) is only centred. Ignores options.name, path
// and load_test.
//
// Format: one record per line, comma-separated; a line ending in \r\n is fine. Spaces around a
// cell are trimmed. A cell may be double-quoted ("a, b" is one cell, "" inside quotes is a
// quote) but may not span lines. Lines that are empty or only spaces, and lines whose first
// non-space character is '#', are skipped. With options.csv_header the first remaining line
// names the columns. Feature cells are decimal or scientific numbers (3, -0.5, 1e-3); anything
// else, including an empty cell, nan or inf, is an error.
// Labels: when every label is a number, the classes are the distinct values in ascending order,
// so labels 0..K-1 keep their values (and "1" and "1.0" are one class); otherwise the classes are
// the distinct label strings in byte-wise ascending order ("cat" -> 0, "dog" -> 1). The result
// has input_shape {n_features}, num_classes K and class_names (the labels as written).
//
// Errors (DataError, one line naming the file and, for a bad row, the line number): the file
// cannot be read; it has no data rows; a row has a different number of columns than the header
// (or the first row); a feature cell is not a number; the label column is not in the header (the
// message lists the columns, with a did-you-mean) or the index is out of range; there is no
// feature column; fewer than 2 classes; bad split options (see MakeSplit).
//
// Example: data.csv with header "height,weight,species":
//   data::DataOptions options;
//   options.label_column = "species";
//   data::Dataset d = data::LoadCsv("data.csv", options);  // input_shape {2}
Dataset LoadCsv(const std::string& path, const DataOptions& options = {});

// Gaussian class blobs: class c has a random centre (seeded) and unit-variance noise, centres
// far enough apart that a linear model separates most samples. Labels are balanced
// (i % n_classes, then shuffled). Deterministic in all arguments. Throws DataError when a size is
// not positive or n_classes < 2.
Dataset MakeSyntheticClassification(int64_t n_train, int64_t n_val, int64_t n_features,
                                    int64_t n_classes, uint64_t seed);

// The registry: dispatches on options.name. Unknown names throw DataError listing the known ones.
Dataset LoadDataset(const DataOptions& options);

// Registered dataset names, sorted.
std::vector<std::string> KnownDatasets();

// Splits indices 0..n-1 into (train, validation) with a permutation seeded by `seed`; each part
// is sorted ascending. n_val = round(n * validation_fraction); train is then cut to train_limit
// when positive. Exposed for tests and for other loaders. Throws DataError when
// validation_fraction is outside [0, 1), train_limit < 0, or the train part would be empty.
struct SplitIndices {
  std::vector<int64_t> train;
  std::vector<int64_t> val;
};
SplitIndices MakeSplit(int64_t n, double validation_fraction, uint64_t seed,
                       int64_t train_limit = 0);

// A copy of `dataset` with every tensor on `device` (contiguous). Call once per device and share
// the result; when the tensors are already there they are shared, not copied.
Dataset ToDevice(const Dataset& dataset, torch::Device device);

}  // namespace data
