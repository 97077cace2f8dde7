// One of the two translation units of data/ that include LibTorch (they compile slowly; csv.cc
// is the other). Only <torch/types.h> (via dataset.h): it has from_blob and the tensor ops;
// torch/torch.h is not needed.
#include "data/dataset.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <numbers>
#include <numeric>
#include <random>
#include <sstream>

#include "suggest.h"

namespace data {
namespace {

// Portable randomness: std::mt19937_64 is fully specified by the standard, and the helpers below
// avoid the implementation-defined std distributions, so a seed means the same everywhere.
uint64_t UniformBelow(std::mt19937_64& rng, uint64_t bound) {  // bound > 0
  uint64_t limit =
      std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % bound;
  uint64_t x;
  do {
    x = rng();
  } while (x >= limit);
  return x % bound;
}

double Uniform01(std::mt19937_64& rng) {  // (0, 1]
  return (static_cast<double>(rng() >> 11) + 1.0) * 0x1.0p-53;
}

double Normal(std::mt19937_64& rng) {  // Box-Muller, one value per call
  double u1 = Uniform01(rng);
  double u2 = Uniform01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

template <typename T>
void Shuffle(std::vector<T>& v, std::mt19937_64& rng) {  // Fisher-Yates
  for (size_t i = v.size(); i > 1; --i) {
    std::swap(v[i - 1], v[UniformBelow(rng, i)]);
  }
}

torch::Tensor IndexTensor(const std::vector<int64_t>& v) {
  // from_blob does not copy; index_select below copies out before `v` goes away.
  return torch::from_blob(const_cast<int64_t*>(v.data()), {static_cast<int64_t>(v.size())},
                          torch::kInt64);
}

std::string DimsString(const std::vector<int64_t>& dims) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < dims.size(); ++i) s << (i ? ", " : "") << dims[i];
  s << "]";
  return s.str();
}

struct ImageStats {
  const char* name;
  double mean;
  double std;
};
constexpr ImageStats kFashionMnist{"fashion_mnist", 0.2860, 0.3530};
constexpr ImageStats kMnist{"mnist", 0.1307, 0.3081};
constexpr int kImageClasses = 10;

// Reads one images/labels pair and validates it against itself.
struct ImagePair {
  IdxArray images;
  IdxArray labels;
};

ImagePair ReadPair(const std::string& folder, const std::string& prefix) {
  std::string image_path = FindIdxFile(folder, prefix + "-images-idx3-ubyte");
  std::string label_path = FindIdxFile(folder, prefix + "-labels-idx1-ubyte");
  ImagePair pair{ReadIdx(image_path), ReadIdx(label_path)};
  const auto& id = pair.images.dims;
  const auto& ld = pair.labels.dims;
  if (id.size() != 3) {
    throw DataError(image_path + ": expected images with 3 dimensions [count, rows, cols], found " +
                    DimsString(id) + "; point data.path at a Fashion-MNIST/MNIST folder");
  }
  if (ld.size() != 1) {
    throw DataError(label_path + ": expected labels with 1 dimension [count], found " +
                    DimsString(ld) + "; point data.path at a Fashion-MNIST/MNIST folder");
  }
  if (id[0] != ld[0]) {
    throw DataError(image_path + " has " + std::to_string(id[0]) + " images but " + label_path +
                    " has " + std::to_string(ld[0]) +
                    " labels; use the images and labels files of the same release");
  }
  const auto& labels = pair.labels.data;
  auto bad =
      std::find_if(labels.begin(), labels.end(), [](uint8_t v) { return v >= kImageClasses; });
  if (bad != labels.end()) {
    throw DataError(label_path + ": label " + std::to_string(*bad) + " at index " +
                    std::to_string(bad - labels.begin()) + " is outside 0.." +
                    std::to_string(kImageClasses - 1) +
                    "; the labels file is corrupt or not from Fashion-MNIST/MNIST");
  }
  return pair;
}

// uint8 pixels [n, rows, cols] -> float32 [n, 1, rows, cols], standardised.
torch::Tensor Standardise(const torch::Tensor& pixels, const ImageStats& stats) {
  return pixels.to(torch::kFloat).div_(255.0).sub_(stats.mean).div_(stats.std);
}

Dataset LoadImageFolder(const std::string& folder, const DataOptions& options,
                        const ImageStats& stats) {
  ImagePair train = ReadPair(folder, "train");
  const auto& dims = train.images.dims;
  int64_t n = dims[0];
  SplitIndices split =
      MakeSplit(n, options.validation_fraction, options.split_seed, options.train_limit);

  // Views over the decoded buffers; index_select copies the chosen rows out, so the Dataset
  // owns its memory. Converting after selecting keeps the float work to the kept rows.
  torch::Tensor x =
      torch::from_blob(train.images.data.data(), {n, 1, dims[1], dims[2]}, torch::kUInt8);
  torch::Tensor y = torch::from_blob(train.labels.data.data(), {n}, torch::kUInt8);
  Dataset out;
  torch::Tensor train_idx = IndexTensor(split.train);
  torch::Tensor val_idx = IndexTensor(split.val);
  out.train_x = Standardise(x.index_select(0, train_idx), stats);
  out.train_y = y.index_select(0, train_idx).to(torch::kInt64);
  out.val_x = Standardise(x.index_select(0, val_idx), stats);
  out.val_y = y.index_select(0, val_idx).to(torch::kInt64);

  if (options.load_test) {
    ImagePair test = ReadPair(folder, "t10k");
    const auto& td = test.images.dims;
    if (td[1] != dims[1] || td[2] != dims[2]) {
      throw DataError(FindIdxFile(folder, "t10k-images-idx3-ubyte") + ": images are " +
                      std::to_string(td[1]) + "x" + std::to_string(td[2]) +
                      " but the training images are " + std::to_string(dims[1]) + "x" +
                      std::to_string(dims[2]) + "; use train and t10k files of the same dataset");
    }
    // .to() copies out of the blob, so `test` may go away afterwards.
    out.test_x = Standardise(
        torch::from_blob(test.images.data.data(), {td[0], 1, td[1], td[2]}, torch::kUInt8), stats);
    out.test_y =
        torch::from_blob(test.labels.data.data(), {td[0]}, torch::kUInt8).to(torch::kInt64);
  }
  out.num_classes = kImageClasses;
  out.input_shape = {1, dims[1], dims[2]};
  out.name = stats.name;
  return out;
}

using Loader = std::function<Dataset(const DataOptions&)>;

const std::map<std::string, Loader>& Registry() {
  static const auto* registry = new std::map<std::string, Loader>{
      {"fashion_mnist", [](const DataOptions& o) { return LoadFashionMnist(o.path, o); }},
      {"mnist", [](const DataOptions& o) { return LoadMnist(o.path, o); }},
      {"synthetic",
       [](const DataOptions& o) {
         return MakeSyntheticClassification(o.synthetic_train, o.synthetic_val,
                                            o.synthetic_features, o.synthetic_classes,
                                            o.split_seed);
       }},
      {"csv", [](const DataOptions& o) { return LoadCsv(o.path, o); }},
  };
  return *registry;
}

}  // namespace

SplitIndices MakeSplit(int64_t n, double validation_fraction, uint64_t seed, int64_t train_limit) {
  if (!(validation_fraction >= 0.0 && validation_fraction < 1.0)) {
    std::ostringstream s;
    s << "data.validation_fraction must be in [0, 1), got " << validation_fraction
      << "; use e.g. 0.1 to hold out 10% of the training set";
    throw DataError(s.str());
  }
  if (train_limit < 0) {
    throw DataError("data.train_limit must be >= 0 (0 keeps all), got " +
                    std::to_string(train_limit));
  }
  auto n_val = static_cast<int64_t>(std::llround(static_cast<double>(n) * validation_fraction));
  if (n - n_val <= 0) {
    std::ostringstream s;
    s << "data.validation_fraction " << validation_fraction << " leaves no training samples out of "
      << n << "; lower it or use a larger dataset";
    throw DataError(s.str());
  }
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), int64_t{0});
  std::mt19937_64 rng(seed);
  Shuffle(perm, rng);
  SplitIndices out;
  out.val.assign(perm.begin(), perm.begin() + n_val);
  out.train.assign(perm.begin() + n_val, perm.end());
  if (train_limit > 0 && train_limit < static_cast<int64_t>(out.train.size())) {
    out.train.resize(static_cast<size_t>(train_limit));
  }
  std::sort(out.train.begin(), out.train.end());
  std::sort(out.val.begin(), out.val.end());
  return out;
}

Dataset LoadFashionMnist(const std::string& folder, const DataOptions& options) {
  return LoadImageFolder(folder, options, kFashionMnist);
}

Dataset LoadMnist(const std::string& folder, const DataOptions& options) {
  return LoadImageFolder(folder, options, kMnist);
}

Dataset MakeSyntheticClassification(int64_t n_train, int64_t n_val, int64_t n_features,
                                    int64_t n_classes, uint64_t seed) {
  if (n_train <= 0 || n_val < 0 || n_features <= 0 || n_classes < 2) {
    throw DataError(
        "synthetic dataset needs n_train > 0, n_val >= 0, n_features > 0 and " +
        std::string("n_classes >= 2, got n_train=") + std::to_string(n_train) +
        " n_val=" + std::to_string(n_val) + " n_features=" + std::to_string(n_features) +
        " n_classes=" + std::to_string(n_classes) + "; fix data.synthetic_* in the study file");
  }
  std::mt19937_64 rng(seed);
  // Centres ~ N(0, 3^2) per feature: pairwise distance ~ 4.2 * sqrt(n_features) against unit
  // noise, so classes barely overlap.
  constexpr double kCentreScale = 3.0;
  std::vector<double> centres(static_cast<size_t>(n_classes * n_features));
  for (double& c : centres) c = kCentreScale * Normal(rng);

  auto make = [&](int64_t n, torch::Tensor& x, torch::Tensor& y) {
    std::vector<int64_t> labels(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) labels[i] = i % n_classes;
    Shuffle(labels, rng);
    std::vector<float> features(static_cast<size_t>(n * n_features));
    for (int64_t i = 0; i < n; ++i) {
      const double* centre = &centres[labels[i] * n_features];
      for (int64_t f = 0; f < n_features; ++f) {
        features[i * n_features + f] = static_cast<float>(centre[f] + Normal(rng));
      }
    }
    x = torch::from_blob(features.data(), {n, n_features}, torch::kFloat).clone();
    y = torch::from_blob(labels.data(), {n}, torch::kInt64).clone();
  };
  Dataset out;
  make(n_train, out.train_x, out.train_y);
  make(n_val, out.val_x, out.val_y);
  out.num_classes = n_classes;
  out.input_shape = {n_features};
  out.name = "synthetic";
  return out;
}

std::vector<std::string> KnownDatasets() {
  std::vector<std::string> names;
  for (const auto& [name, loader] : Registry()) names.push_back(name);
  return names;
}

Dataset LoadDataset(const DataOptions& options) {
  const auto& registry = Registry();
  auto it = registry.find(options.name);
  if (it != registry.end()) return it->second(options);

  std::string known;
  for (const auto& [name, loader] : registry) known += (known.empty() ? "" : ", ") + name;
  std::string closest = internal::Closest(options.name, KnownDatasets());
  throw DataError("unknown dataset '" + options.name + "' in data.name" +
                  (closest.empty() ? "" : " (did you mean '" + closest + "'?)") +
                  "; known datasets: " + known);
}

Dataset ToDevice(const Dataset& dataset, torch::Device device) {
  auto move = [&](const torch::Tensor& t) {
    return t.defined() ? t.to(device).contiguous() : t;  // to() is a no-op when already there
  };
  Dataset out = dataset;
  out.train_x = move(dataset.train_x);
  out.train_y = move(dataset.train_y);
  out.val_x = move(dataset.val_x);
  out.val_y = move(dataset.val_y);
  out.test_x = move(dataset.test_x);
  out.test_y = move(dataset.test_y);
  return out;
}

}  // namespace data
