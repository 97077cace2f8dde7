// Tests for data/src/idx.cc (IDX reader) and the IDX folder loader's file checks.
#include "data/idx.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "test_util.h"

namespace data {
namespace {

using hpo::testing::ReadFile;
using hpo::testing::TempDir;
using hpo::testing::WriteFile;

// IDX bytes: 00 00 type ndim, big-endian dims, then `payload` verbatim.
std::string Idx(uint8_t type, const std::vector<uint32_t>& dims, const std::string& payload) {
  std::string s;
  s += '\0';
  s += '\0';
  s += static_cast<char>(type);
  s += static_cast<char>(dims.size());
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((d >> shift) & 0xff);
  }
  return s + payload;
}

std::string Bytes(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

std::string Iota(int n, int start = 0) {
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>(start + i);
  return s;
}

// Writes `contents` gzip-compressed with zlib's own gz writer.
void WriteGzip(const std::string& path, const std::string& contents) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(gzwrite(f, contents.data(), static_cast<unsigned>(contents.size())),
            static_cast<int>(contents.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

std::string Gzipped(const TempDir& dir, const std::string& contents) {
  std::string path = dir.File("scratch.gz");
  WriteGzip(path, contents);
  return ReadFile(path);
}

// Runs `fn`, expects a DataError whose one-line message contains every piece of `pieces`.
void ExpectDataError(const std::function<void()>& fn, const std::vector<std::string>& pieces) {
  try {
    fn();
    ADD_FAILURE() << "no DataError thrown; expected one mentioning '" << pieces.front() << "'";
  } catch (const DataError& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "message is not one line: " << msg;
    for (const auto& piece : pieces) {
      EXPECT_NE(msg.find(piece), std::string::npos) << "'" << piece << "' not in: " << msg;
    }
  }
}

class IdxTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(IdxTest, RawFileDecodesExactly) {
  std::string path = dir_.File("images-idx3-ubyte");
  WriteFile(path, Idx(0x08, {2, 3, 4}, Iota(24, 200)));
  IdxArray a = ReadIdx(path);
  EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 3, 4}));
  ASSERT_EQ(a.numel(), 24);
  EXPECT_EQ(Bytes(a.data), Iota(24, 200));  // wraps past 255: covers bytes >= 0x80
}

TEST_F(IdxTest, GzipFileDecodesExactlyWhateverItsName) {
  std::string contents = Idx(0x08, {5, 7}, Iota(35, 3));
  for (const std::string name : {"labels-idx1-ubyte.gz", "no-suffix"}) {
    std::string path = dir_.File(name);
    WriteGzip(path, contents);
    ASSERT_EQ(static_cast<uint8_t>(ReadFile(path)[0]), 0x1f);
    IdxArray a = ReadIdx(path);
    EXPECT_EQ(a.dims, (std::vector<int64_t>{5, 7})) << name;
    EXPECT_EQ(Bytes(a.data), Iota(35, 3)) << name;
  }
}

TEST_F(IdxTest, LargeGzipFileDecodes) {
  // Larger than the first output guess for a highly compressible file: exercises regrowth.
  std::string payload(300 * 1000, '\x07');
  for (size_t i = 0; i < payload.size(); i += 997) payload[i] = static_cast<char>(i % 251);
  std::string path = dir_.File("big.gz");
  WriteGzip(path, Idx(0x08, {300, 1000}, payload));
  IdxArray a = ReadIdx(path);
  EXPECT_EQ(a.dims, (std::vector<int64_t>{300, 1000}));
  EXPECT_EQ(Bytes(a.data), payload);
}

TEST_F(IdxTest, ConcatenatedGzipMembersDecode) {
  std::string contents = Idx(0x08, {4, 4}, Iota(16));
  std::string path = dir_.File("two-members.gz");
  WriteFile(path, Gzipped(dir_, contents.substr(0, 10)) + Gzipped(dir_, contents.substr(10)));
  IdxArray a = ReadIdx(path);
  EXPECT_EQ(a.dims, (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(Bytes(a.data), Iota(16));
}

TEST_F(IdxTest, ParseIdxNamesTheSource) {
  IdxArray a = ParseIdx(Idx(0x08, {3}, "abc"), "memory");
  EXPECT_EQ(Bytes(a.data), "abc");
  ExpectDataError([] { ParseIdx("xyz!", "my-source"); }, {"my-source: not an IDX file"});
}

TEST_F(IdxTest, TruncatedDataIsReported) {
  std::string contents = Idx(0x08, {2, 3, 4}, Iota(20));
  std::string raw = dir_.File("t-raw");
  WriteFile(raw, contents);
  ExpectDataError([&] { ReadIdx(raw); },
                  {raw + ": truncated: expected 24 bytes of data, found 20", "download"});
  std::string gz = dir_.File("t.gz");
  WriteGzip(gz, contents);  // a complete gzip stream holding a short IDX file
  ExpectDataError([&] { ReadIdx(gz); }, {gz + ": truncated: expected 24 bytes of data, found 20"});
}

TEST_F(IdxTest, TruncatedHeaderIsReported) {
  std::string path = dir_.File("short-header");
  WriteFile(path, Idx(0x08, {2, 3, 4}, "").substr(0, 10));
  ExpectDataError([&] { ReadIdx(path); }, {path, "truncated: the header needs 16 bytes, found 10"});
}

TEST_F(IdxTest, TruncatedGzipStreamIsReported) {
  std::string gz = Gzipped(dir_, Idx(0x08, {100, 100}, Iota(10000)));
  std::string path = dir_.File("cut.gz");
  WriteFile(path, gz.substr(0, gz.size() / 2));
  ExpectDataError([&] { ReadIdx(path); }, {path, "truncated gzip data"});
  WriteFile(path, gz.substr(0, gz.size() - 3));  // only the size trailer is short
  ExpectDataError([&] { ReadIdx(path); }, {path, "truncated gzip data"});
}

TEST_F(IdxTest, CorruptGzipIsReported) {
  std::string gz = Gzipped(dir_, Idx(0x08, {100, 100}, Iota(10000)));
  std::string path = dir_.File("corrupt.gz");

  std::string bad_crc = gz;
  bad_crc[bad_crc.size() - 8] ^= 0x5a;  // CRC32 trailer
  WriteFile(path, bad_crc);
  ExpectDataError([&] { ReadIdx(path); }, {path, "corrupt gzip data (incorrect data check)"});

  std::string bad_method = gz;
  bad_method[2] = 7;  // compression method must be 8 (deflate)
  WriteFile(path, bad_method);
  ExpectDataError([&] { ReadIdx(path); }, {path, "corrupt gzip data", "download the file again"});

  std::string garbage = "\x1f\x8b";
  garbage += std::string(64, '\xff');
  WriteFile(path, garbage);
  ExpectDataError([&] { ReadIdx(path); }, {path, "corrupt gzip data"});
}

TEST_F(IdxTest, BadMagicIsReported) {
  // A doubly compressed file decompresses to another gzip header.
  std::string path = dir_.File("double.gz");
  WriteFile(path, Gzipped(dir_, Gzipped(dir_, Idx(0x08, {3}, "abc"))));
  ExpectDataError([&] { ReadIdx(path); },
                  {path + ": not an IDX file (bad magic 0x1f8b08",
                   "expected Fashion-MNIST/MNIST files such as train-images-idx3-ubyte.gz"});

  std::string text = dir_.File("readme.txt");
  WriteFile(text, "hello world\n");
  ExpectDataError([&] { ReadIdx(text); }, {text + ": not an IDX file (bad magic 0x68656c6c)"});

  std::string tiny = dir_.File("tiny");
  WriteFile(tiny, std::string("\0\0", 2));
  ExpectDataError([&] { ReadIdx(tiny); }, {tiny + ": not an IDX file (only 2 bytes)"});
}

TEST_F(IdxTest, OtherElementTypesAreRejected) {
  std::string path = dir_.File("floats");
  WriteFile(path, Idx(0x0D, {2}, std::string(8, '\0')));
  ExpectDataError([&] { ReadIdx(path); },
                  {path + ": unsupported IDX element type 0x0d (float32)", "only unsigned byte"});
  WriteFile(path, Idx(0x05, {2}, "ab"));
  ExpectDataError([&] { ReadIdx(path); }, {"not an IDX file (unknown element type code 0x05)"});
}

TEST_F(IdxTest, RankOutsideOneToFourIsRejected) {
  std::string path = dir_.File("rank");
  WriteFile(path, Idx(0x08, {}, ""));
  ExpectDataError([&] { ReadIdx(path); }, {path + ": unsupported IDX rank 0"});
  WriteFile(path, Idx(0x08, {1, 1, 1, 1, 1}, "a"));
  ExpectDataError([&] { ReadIdx(path); }, {path + ": unsupported IDX rank 5"});
  WriteFile(path, Idx(0x08, {1, 1, 2, 1}, "ab"));
  EXPECT_EQ(ReadIdx(path).dims, (std::vector<int64_t>{1, 1, 2, 1}));
}

TEST_F(IdxTest, TrailingBytesAreRejected) {
  std::string contents = Idx(0x08, {2, 2}, "abcdXYZ");
  std::string raw = dir_.File("trailing");
  WriteFile(raw, contents);
  ExpectDataError([&] { ReadIdx(raw); }, {raw + ": trailing garbage: 3 bytes after the 4 bytes"});
  std::string gz = dir_.File("trailing.gz");
  WriteGzip(gz, contents);
  ExpectDataError([&] { ReadIdx(gz); }, {gz + ": trailing garbage: 3 bytes after the 4 bytes"});
  // Junk after a complete gzip stream (not another gzip member).
  WriteFile(gz, Gzipped(dir_, Idx(0x08, {2, 2}, "abcd")) + "junk!");
  ExpectDataError([&] { ReadIdx(gz); },
                  {gz + ": trailing garbage: 5 bytes after the end of the gzip data"});
}

TEST_F(IdxTest, MissingFileNamesPathAndFix) {
  std::string path = dir_.File("nope/train-images-idx3-ubyte.gz");
  try {
    ReadIdx(path);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot open " + path +
                  ": No such file or directory; set data.path to the folder holding "
                  "train-images-idx3-ubyte(.gz)");
  }
  ExpectDataError([&] { ReadIdx(dir_.path().string()); }, {"is a directory"});
}

TEST_F(IdxTest, FindIdxFilePrefersRawThenGzip) {
  std::string folder = dir_.path().string();
  ExpectDataError([&] { FindIdxFile(folder, "train-labels-idx1-ubyte"); },
                  {"cannot open " + dir_.File("train-labels-idx1-ubyte") + "(.gz)",
                   "set data.path to the folder holding train-labels-idx1-ubyte(.gz)"});
  WriteFile(dir_.File("train-labels-idx1-ubyte.gz"), "x");
  EXPECT_EQ(FindIdxFile(folder, "train-labels-idx1-ubyte"),
            dir_.File("train-labels-idx1-ubyte.gz"));
  WriteFile(dir_.File("train-labels-idx1-ubyte"), "x");
  EXPECT_EQ(FindIdxFile(folder, "train-labels-idx1-ubyte"), dir_.File("train-labels-idx1-ubyte"));
}

// A small MNIST-style folder: image i has pixels 10*i + k (k = 0..5, 2x3 images), label i % 10.
class IdxFolderTest : public ::testing::Test {
 protected:
  static constexpr int kRows = 2, kCols = 3;

  void WriteImages(const std::string& prefix, int n, bool gzip) {
    std::string pixels;
    for (int i = 0; i < n; ++i) {
      for (int k = 0; k < kRows * kCols; ++k) pixels += static_cast<char>(10 * i + k);
    }
    std::string contents = Idx(0x08, {static_cast<uint32_t>(n), kRows, kCols}, pixels);
    std::string path = dir_.File(prefix + "-images-idx3-ubyte");
    if (gzip) {
      WriteGzip(path + ".gz", contents);
    } else {
      WriteFile(path, contents);
    }
  }
  void WriteLabels(const std::string& prefix, const std::string& labels) {
    WriteFile(dir_.File(prefix + "-labels-idx1-ubyte"),
              Idx(0x08, {static_cast<uint32_t>(labels.size())}, labels));
  }
  static std::string Labels(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += static_cast<char>(i % 10);
    return s;
  }

  TempDir dir_;
};

TEST_F(IdxFolderTest, LoadsSplitsAndStandardises) {
  WriteImages("train", 20, /*gzip=*/true);
  WriteLabels("train", Labels(20));
  DataOptions options;
  options.validation_fraction = 0.25;
  options.split_seed = 3;
  Dataset d = LoadFashionMnist(dir_.path().string(), options);
  EXPECT_EQ(d.name, "fashion_mnist");
  EXPECT_EQ(d.num_classes, 10);
  EXPECT_EQ(d.input_shape, (std::vector<int64_t>{1, kRows, kCols}));
  ASSERT_EQ(d.train_x.sizes(), (std::vector<int64_t>{15, 1, kRows, kCols}));
  ASSERT_EQ(d.val_x.sizes(), (std::vector<int64_t>{5, 1, kRows, kCols}));
  EXPECT_EQ(d.train_x.scalar_type(), torch::kFloat);
  EXPECT_EQ(d.train_y.scalar_type(), torch::kLong);
  EXPECT_FALSE(d.test_x.defined());

  // Every sample's pixels and label match its original index; each index appears once.
  std::vector<int> seen(20, 0);
  auto check = [&](const torch::Tensor& x, const torch::Tensor& y) {
    for (int64_t r = 0; r < x.size(0); ++r) {
      float first = x[r].flatten()[0].item<float>();
      int i = static_cast<int>(std::lround(((first * 0.3530) + 0.2860) * 255.0 / 10.0));
      ASSERT_GE(i, 0);
      ASSERT_LT(i, 20);
      ++seen[i];
      EXPECT_EQ(y[r].item<int64_t>(), i % 10);
      auto flat = x[r].flatten();
      for (int k = 0; k < kRows * kCols; ++k) {
        EXPECT_NEAR(flat[k].item<float>(), ((10 * i + k) / 255.0 - 0.2860) / 0.3530, 1e-5);
      }
    }
  };
  check(d.train_x, d.train_y);
  check(d.val_x, d.val_y);
  EXPECT_EQ(seen, std::vector<int>(20, 1));

  // MNIST uses its own statistics on the same pixels.
  Dataset m = LoadMnist(dir_.path().string(), options);
  EXPECT_EQ(m.name, "mnist");
  EXPECT_TRUE(torch::allclose(m.train_x * 0.3081 + 0.1307, d.train_x * 0.3530 + 0.2860,
                              /*rtol=*/1e-5, /*atol=*/1e-5));
  EXPECT_TRUE(torch::equal(m.train_y, d.train_y));
}

TEST_F(IdxFolderTest, LoadsTestSplitOnRequest) {
  WriteImages("train", 10, /*gzip=*/false);
  WriteLabels("train", Labels(10));
  DataOptions options;
  options.load_test = true;
  ExpectDataError([&] { LoadMnist(dir_.path().string(), options); },
                  {"cannot open " + dir_.File("t10k-images-idx3-ubyte") + "(.gz)"});
  WriteImages("t10k", 4, /*gzip=*/true);
  WriteLabels("t10k", Labels(4));
  Dataset d = LoadMnist(dir_.path().string(), options);
  ASSERT_EQ(d.test_x.sizes(), (std::vector<int64_t>{4, 1, kRows, kCols}));
  EXPECT_TRUE(torch::equal(d.test_y, torch::tensor({0, 1, 2, 3}, torch::kLong)));
  EXPECT_NEAR(d.test_x[3][0][1][2].item<float>(), ((30 + 5) / 255.0 - 0.1307) / 0.3081, 1e-5);
}

TEST_F(IdxFolderTest, ImageLabelCountMismatchIsReported) {
  WriteImages("train", 12, /*gzip=*/true);
  WriteLabels("train", Labels(11));
  ExpectDataError([&] { LoadFashionMnist(dir_.path().string()); },
                  {dir_.File("train-images-idx3-ubyte.gz") + " has 12 images but " +
                       dir_.File("train-labels-idx1-ubyte") + " has 11 labels",
                   "same release"});
}

TEST_F(IdxFolderTest, LabelOutOfRangeIsReported) {
  WriteImages("train", 5, /*gzip=*/false);
  std::string labels = Labels(5);
  labels[3] = 10;
  WriteLabels("train", labels);
  ExpectDataError([&] { LoadFashionMnist(dir_.path().string()); },
                  {dir_.File("train-labels-idx1-ubyte") + ": label 10 at index 3 is outside 0..9"});
}

TEST_F(IdxFolderTest, SwappedFilesAreReported) {
  // A labels file where the images belong has rank 1.
  WriteFile(dir_.File("train-images-idx3-ubyte"), Idx(0x08, {5}, Labels(5)));
  WriteLabels("train", Labels(5));
  ExpectDataError([&] { LoadFashionMnist(dir_.path().string()); },
                  {"expected images with 3 dimensions", "found [5]"});
}

TEST_F(IdxFolderTest, MissingFolderIsReported) {
  std::string folder = dir_.File("absent");
  ExpectDataError(
      [&] { LoadFashionMnist(folder); },
      {"cannot open " + folder + "/train-images-idx3-ubyte(.gz): No such file", "set data.path"});
}

// Regression: libtorch.so exports a std::filesystem::remove_all that crashes against Debian 12's
// libstdc++; hpo_data's link line must let libstdc++'s copy win (see data/CMakeLists.txt).
TEST(LinkOrderTest, StdFilesystemRemoveAllWorksNextToLibTorch) {
  auto root =
      std::filesystem::temp_directory_path() / ("hpo_link_order_" + std::to_string(::getpid()));
  std::filesystem::create_directories(root / "a" / "b");
  WriteFile((root / "a" / "b" / "f").string(), "x");
  std::error_code ec;
  EXPECT_EQ(std::filesystem::remove_all(root, ec), 4u) << ec.message();
  EXPECT_FALSE(std::filesystem::exists(root));
}

}  // namespace
}  // namespace data
