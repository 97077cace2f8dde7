// IDX files (the format of MNIST and Fashion-MNIST), raw or gzip-compressed.
//
// Format: 2 zero bytes, a type code (0x08 = unsigned byte, the only type read here), the number
// of dimensions (1..4), then each dimension as a big-endian uint32, then the elements in
// row-major order. A gzip file (magic 1f 8b) is inflated in memory first; concatenated gzip
// members are accepted.
//
// Errors: every function here throws DataError, whose what() is one line naming the file, the
// problem and the fix, e.g.
//   "/data/train-images-idx3-ubyte: truncated: expected 47040000 bytes of data, found 1000;
//    download the file again" (one line in reality).
// Thread safety: free functions without shared state; safe to call concurrently.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace data {

// Bad or missing input data. what() is the whole user-facing one-line message.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A decoded IDX array of unsigned bytes. data.size() == product of dims.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;

  // Number of elements (product of dims; 1 for no dims is never produced since ndim >= 1).
  int64_t numel() const { return static_cast<int64_t>(data.size()); }
};

// Reads and validates the IDX file at `path` (raw or .gz; detected by content, not by name).
// Throws DataError when the file cannot be opened, is not gzip/IDX, is truncated, has trailing
// bytes, uses an element type other than unsigned byte, or has ndim outside 1..4.
IdxArray ReadIdx(const std::string& path);

// Decodes IDX bytes already in memory (gzip-compressed or raw). `source` names the origin in
// error messages (usually the file path). Same errors as ReadIdx.
IdxArray ParseIdx(std::string_view bytes, const std::string& source);

// The path of `stem` (e.g. "train-images-idx3-ubyte") inside `folder`: `folder/stem` if it
// exists, else `folder/stem.gz`. Throws DataError ("cannot open .../stem(.gz): No such file or
// directory; set data.path to ...") when neither exists.
std::string FindIdxFile(const std::string& folder, const std::string& stem);

}  // namespace data
