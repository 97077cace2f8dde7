// Tests for data/src/csv.cc: the CSV reader, label mapping, standardisation, split and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "test_util.h"

namespace data {
namespace {

using hpo::testing::TempDir;
using hpo::testing::WriteFile;

std::vector<float> Floats(const torch::Tensor& t) {
  torch::Tensor c = t.contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

std::vector<int64_t> Longs(const torch::Tensor& t) {
  torch::Tensor c = t.contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

DataOptions NoValidation() {
  DataOptions options;
  options.validation_fraction = 0.0;
  return options;
}

class CsvTest : public ::testing::Test {
 protected:
  // Writes `text` to a fresh file and returns its path.
  std::string Write(const std::string& text, const std::string& name = "table.csv") {
    std::string path = dir_.File(name);
    WriteFile(path, text);
    return path;
  }
  Dataset Load(const std::string& text, const DataOptions& options = NoValidation()) {
    return LoadCsv(Write(text), options);
  }
  std::string ErrorFor(const std::string& text, const DataOptions& options = NoValidation()) {
    std::string path = Write(text);
    return hpo::testing::ErrorOf<DataError>([&] { LoadCsv(path, options); });
  }
  std::string Path() const { return dir_.File("table.csv"); }

  TempDir dir_;
};

// ---- Parsing and standardisation ----

TEST_F(CsvTest, SmallFileIsStandardisedPerColumn) {
  // a: 1 3 5 7 (mean 4, population std sqrt(5)); b: constant (std 0 -> only centred);
  // c: -2 0 0 2 (mean 0, std sqrt(2)).
  Dataset d = Load(
      "a,b,label,c\n"
      "1,2.5,0,-2\n"
      "3,2.5,1,0\n"
      "5,2.5,0,0\n"
      "7,2.5,1,2\n");
  EXPECT_EQ(d.name, "csv");
  EXPECT_EQ(d.num_classes, 2);
  EXPECT_EQ(d.input_shape, (std::vector<int64_t>{3}));
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(d.train_x.scalar_type(), torch::kFloat);
  EXPECT_EQ(d.train_y.scalar_type(), torch::kLong);
  ASSERT_EQ(d.train_x.sizes(), (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(d.val_x.sizes(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(d.val_size(), 0);
  const float s5 = static_cast<float>(std::sqrt(5.0)), s2 = static_cast<float>(std::sqrt(2.0));
  std::vector<float> expected = {-3 / s5, 0, -2 / s2,  //
                                 -1 / s5, 0, 0,        //
                                 1 / s5,  0, 0,        //
                                 3 / s5,  0, 2 / s2};
  std::vector<float> got = Floats(d.train_x);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-6) << i;
  EXPECT_EQ(Longs(d.train_y), (std::vector<int64_t>{0, 1, 0, 1}));
}

TEST_F(CsvTest, ValidationIsScaledWithTrainStatistics) {
  // 10 rows, feature x = row index squared; the split is MakeSplit's (pinned in dataset_test).
  std::string text = "x,label\n";
  for (int i = 0; i < 10; ++i) text += std::to_string(i * i) + "," + std::to_string(i % 3) + "\n";
  DataOptions options;
  options.validation_fraction = 0.3;
  options.split_seed = 42;
  Dataset d = Load(text, options);
  SplitIndices split = MakeSplit(10, 0.3, 42);
  ASSERT_EQ(split.val, (std::vector<int64_t>{1, 7, 9}));
  ASSERT_EQ(d.train_size(), 7);
  ASSERT_EQ(d.val_size(), 3);
  EXPECT_EQ(d.num_classes, 3);

  double mean = 0, var = 0;
  for (int64_t r : split.train) mean += r * r / 7.0;
  for (int64_t r : split.train) var += (r * r - mean) * (r * r - mean) / 7.0;
  const double sd = std::sqrt(var);
  std::vector<float> train = Floats(d.train_x), val = Floats(d.val_x);
  for (size_t i = 0; i < split.train.size(); ++i) {
    int64_t r = split.train[i];
    EXPECT_NEAR(train[i], (r * r - mean) / sd, 1e-5) << r;
  }
  for (size_t i = 0; i < split.val.size(); ++i) {
    int64_t r = split.val[i];
    EXPECT_NEAR(val[i], (r * r - mean) / sd, 1e-5) << r;
  }
  EXPECT_NEAR(d.train_x.mean().item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(d.train_x.std(/*unbiased=*/false).item<double>(), 1.0, 1e-5);
  EXPECT_GT(val.back(), 2.0);  // 81 is far above the train mean: not re-centred on validation
  EXPECT_EQ(Longs(d.val_y), (std::vector<int64_t>{1, 1, 0}));
  EXPECT_EQ(Longs(d.train_y), (std::vector<int64_t>{0, 2, 0, 1, 2, 0, 2}));
}

TEST_F(CsvTest, SplitIsDeterministicAndFollowsSeedAndTrainLimit) {
  std::string text = "f,label\n";
  for (int i = 0; i < 200; ++i) text += std::to_string(i) + "," + (i % 2 ? "yes" : "no") + "\n";
  std::string path = Write(text);
  DataOptions options;
  options.validation_fraction = 0.25;
  options.split_seed = 3;
  Dataset a = LoadCsv(path, options);
  Dataset b = LoadCsv(path, options);
  EXPECT_EQ(a.train_size(), 150);
  EXPECT_EQ(a.val_size(), 50);
  EXPECT_TRUE(torch::equal(a.train_x, b.train_x));
  EXPECT_TRUE(torch::equal(a.val_x, b.val_x));
  EXPECT_TRUE(torch::equal(a.val_y, b.val_y));

  options.split_seed = 4;
  Dataset c = LoadCsv(path, options);
  EXPECT_EQ(c.val_size(), 50);
  EXPECT_FALSE(torch::equal(a.val_y, c.val_y) && torch::equal(a.val_x, c.val_x));

  options.split_seed = 3;
  options.train_limit = 20;
  Dataset limited = LoadCsv(path, options);
  EXPECT_EQ(limited.train_size(), 20);
  EXPECT_EQ(limited.val_size(), 50);
  // Same validation rows; the scale now comes from the 20 kept training rows.
  EXPECT_TRUE(torch::equal(limited.val_y, a.val_y));
  EXPECT_NEAR(limited.train_x.mean().item<double>(), 0.0, 1e-6);
  EXPECT_FALSE(torch::allclose(limited.val_x, a.val_x));
}

TEST_F(CsvTest, NoHeaderWithIndexLabelColumn) {
  DataOptions options = NoValidation();
  options.csv_header = false;
  options.label_column = "0";
  Dataset d = Load(
      "1,10,-1\n"
      "0,20,-1\n"
      "1,30,1\n",
      options);
  EXPECT_EQ(d.input_shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(d.train_size(), 3);
  EXPECT_EQ(Longs(d.train_y), (std::vector<int64_t>{1, 0, 1}));
  std::vector<float> x = Floats(d.train_x);
  const float s = static_cast<float>(std::sqrt(200.0 / 3.0));  // std of 10, 20, 30
  EXPECT_NEAR(x[0], -10 / s, 1e-6);
  EXPECT_NEAR(x[2], 0, 1e-6);
  EXPECT_NEAR(x[4], 10 / s, 1e-6);
  EXPECT_NEAR(x[5], 4 / std::sqrt(8.0f), 1e-6);  // -1 -1 1: mean -1/3, std sqrt(8)/3

  options.label_column = "2";
  Dataset last = Load("1,10,-1\n0,20,-1\n1,30,1\n", options);
  EXPECT_EQ(Longs(last.train_y), (std::vector<int64_t>{0, 0, 1}));  // -1 -> 0, 1 -> 1
  EXPECT_EQ(last.class_names, (std::vector<std::string>{"-1", "1"}));
}

// ---- Labels ----

TEST_F(CsvTest, StringLabelsMapToSortedOrder) {
  DataOptions options = NoValidation();
  options.label_column = "species";
  Dataset d = Load(
      "x,species\n"
      "1,dog\n"
      "2,cat\n"
      "3,emu\n"
      "4,cat\n"
      "5,Dog\n",
      options);
  EXPECT_EQ(d.num_classes, 4);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"Dog", "cat", "dog", "emu"}));  // byte order
  EXPECT_EQ(Longs(d.train_y), (std::vector<int64_t>{2, 1, 3, 1, 0}));
}

TEST_F(CsvTest, NumericLabelsKeepTheirValuesOrSortNumerically) {
  // 0..K-1 are used as they are.
  Dataset d = Load("x,label\n1,2\n2,0\n3,1\n4,2\n");
  EXPECT_EQ(Longs(d.train_y), (std::vector<int64_t>{2, 0, 1, 2}));
  EXPECT_EQ(d.num_classes, 3);
  // Non-contiguous integers sort by value, not as strings (10 after 5).
  d = Load("x,label\n1,10\n2,5\n3,2\n4,5\n");
  EXPECT_EQ(Longs(d.train_y), (std::vector<int64_t>{2, 1, 0, 1}));
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"2", "5", "10"}));
  // The same number spelt twice is one class; the first spelling names it.
  d = Load("x,label\n1,1\n2,0.0\n3,1.0\n4,0\n");
  EXPECT_EQ(d.num_classes, 2);
  EXPECT_EQ(Longs(d.train_y), (std::vector<int64_t>{1, 0, 1, 0}));
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"0.0", "1"}));
  // One non-number makes every label a string: "10" < "2" < "x" byte-wise.
  d = Load("x,label\n1,2\n2,10\n3,x\n");
  EXPECT_EQ(Longs(d.train_y), (std::vector<int64_t>{1, 0, 2}));
}

// ---- Format details ----

TEST_F(CsvTest, QuotedFieldsSpacesCommentsEmptyLinesCrlfAndBom) {
  DataOptions options = NoValidation();
  options.label_column = "kind";
  Dataset d = Load(
      "\xEF\xBB\xBF# exported by hand\r\n"
      "\r\n"
      "  \"size, cm\" , \"kind\",weight\r\n"
      "   \r\n"
      "  # a comment after spaces\r\n"
      "\"1.5\",  \"big, \"\"red\"\"\" ,  +2 \r\n"
      "-1.5 , small,\" 4e0 \"\r\n"
      "\n",
      options);
  EXPECT_EQ(d.train_size(), 2);
  EXPECT_EQ(d.input_shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"big, \"red\"", "small"}));
  EXPECT_EQ(Longs(d.train_y), (std::vector<int64_t>{0, 1}));
  std::vector<float> x = Floats(d.train_x);  // size: 1.5 -1.5; weight: 2 4
  EXPECT_EQ(x, (std::vector<float>{1, -1, -1, 1}));
}

TEST_F(CsvTest, LabelColumnNamedByAQuotedHeader) {
  DataOptions options = NoValidation();
  options.label_column = "size, cm";
  Dataset d = Load("\"size, cm\",w\n1,5\n2,6\n", options);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(d.input_shape, (std::vector<int64_t>{1}));
}

TEST_F(CsvTest, RegisteredAsCsv) {
  std::string path = Write("a,label\n1,x\n2,y\n3,x\n4,y\n5,x\n");
  DataOptions options;
  options.name = "csv";
  options.path = path;
  options.validation_fraction = 0.2;
  Dataset d = LoadDataset(options);
  EXPECT_EQ(d.name, "csv");
  EXPECT_EQ(d.train_size(), 4);
  EXPECT_EQ(d.val_size(), 1);
}

// ---- Errors ----

TEST_F(CsvTest, NonNumericFeatureNamesLineColumnAndValue) {
  EXPECT_EQ(ErrorFor("a,b,label\n"
                     "# comment\n"
                     "1,2,0\n"
                     "\n"
                     "3,abc,1\n"),
            Path() + ":5: column 'b' value 'abc' is not a number; fix the cell or drop the column");
  EXPECT_EQ(ErrorFor("a,label\n1x,0\n"),
            Path() + ":2: column 'a' value '1x' is not a number; fix the cell or drop the column");
  EXPECT_EQ(ErrorFor("a,label\nnan,0\n"),
            Path() + ":2: column 'a' value 'nan' is not a number; fix the cell or drop the column");
  EXPECT_EQ(ErrorFor("a,label\n1,0\ninf,1\n"),
            Path() + ":3: column 'a' value 'inf' is not a number; fix the cell or drop the column");
  EXPECT_EQ(ErrorFor("a,label\n1,0\n,1\n"),
            Path() + ":3: column 'a' is empty; fill in the cell or drop the row");
  EXPECT_EQ(ErrorFor("a,label\n1,0\n2,\n"),
            Path() + ":3: the label (column 'label') is empty; fill in the label or drop the row");
}

TEST_F(CsvTest, HeaderReadAsDataWhenCsvHeaderIsFalseGetsAHint) {
  DataOptions options = NoValidation();
  options.csv_header = false;
  options.label_column = "1";
  EXPECT_EQ(ErrorFor("\n"
                     "height,label\n"
                     "1,0\n",
                     options),
            Path() +
                ":2: column '0' value 'height' is not a number; fix the cell or drop the column "
                "(if line 2 is a header, set data.csv_header: true)");
}

TEST_F(CsvTest, RaggedRowNamesLineAndExpectedCount) {
  EXPECT_EQ(ErrorFor("a,b,label\n1,2,0\n3,1\n"),
            Path() +
                ":3: expected 3 columns (as in the header on line 1), found 2; make every row "
                "have the same columns (quote cells that contain commas)");
  EXPECT_EQ(ErrorFor("# c\na,label\n1,0\n2,3,1\n"),
            Path() +
                ":4: expected 2 columns (as in the header on line 2), found 3; make every row "
                "have the same columns (quote cells that contain commas)");
  DataOptions options = NoValidation();
  options.csv_header = false;
  options.label_column = "0";
  EXPECT_EQ(ErrorFor("0,1\n1,2\n1,2,\n", options),
            Path() +
                ":3: expected 2 columns (as on the first row on line 1), found 3; make every row "
                "have the same columns (quote cells that contain commas)");
}

TEST_F(CsvTest, MissingLabelColumnListsColumnsAndSuggests) {
  DataOptions options = NoValidation();
  options.label_column = "spices";
  EXPECT_EQ(ErrorFor("# iris\nsepal,petal,species\n1,2,a\n", options),
            Path() +
                ":2: no column 'spices' (data.label_column) in the header (did you mean "
                "'species'?); set data.label_column to one of the header's columns: sepal, "
                "petal, species");
  // Default "label" and a header without it: no suggestion when nothing is close.
  EXPECT_EQ(ErrorFor("sepal,petal,species\n1,2,a\n"),
            Path() +
                ":1: no column 'label' (data.label_column) in the header; set "
                "data.label_column to one of the header's columns: sepal, petal, species");
  // A file without a header read with csv_header: true.
  EXPECT_EQ(ErrorFor("5.1,3.5,0\n4.9,3.0,1\n"),
            Path() +
                ":1: no column 'label' (data.label_column) in the header; set "
                "data.label_column to one of the header's columns: 5.1, 3.5, 0 (the first row "
                "looks like data: if the file has no header, set data.csv_header: false and "
                "data.label_column to the label's 0-based column index)");
  EXPECT_EQ(ErrorFor("label,x,label\n1,2,3\n"),
            Path() +
                ":1: the header names column 'label' 2 times (0-based columns 0 and 2); rename "
                "all but the label column");
}

TEST_F(CsvTest, LabelIndexWithoutHeaderIsChecked) {
  DataOptions options = NoValidation();
  options.csv_header = false;  // label_column still "label"
  EXPECT_EQ(ErrorFor("1,2\n3,4\n", options),
            Path() +
                ": data.label_column 'label' must be a 0-based column index such as 4 when "
                "data.csv_header is false; set it to the label's index (the rows have 2 columns) "
                "or set data.csv_header: true");
  options.label_column = "2";
  EXPECT_EQ(ErrorFor("# x\n1,2\n3,4\n", options),
            Path() +
                ":2: data.label_column 2 is out of range: the rows have 2 columns; use a 0-based "
                "index from 0 to 1");
}

TEST_F(CsvTest, EmptyHeaderOnlyAndLabelOnlyFiles) {
  EXPECT_EQ(ErrorFor(""), Path() +
                              ": the file is empty (no header and no rows); set data.path to the "
                              "CSV file with a header line and one row per sample");
  EXPECT_EQ(ErrorFor("# only\n\n  \n# comments\n"),
            Path() +
                ": the file is empty (no header and no rows); set data.path to the CSV file "
                "with a header line and one row per sample");
  EXPECT_EQ(ErrorFor("a,label\n\n# nothing\n"),
            Path() + ": no data rows after the header on line 1; add one row per sample");
  EXPECT_EQ(ErrorFor("label\n0\n1\n"),
            Path() +
                ":1: no feature columns: the only column is the label 'label'; add numeric "
                "feature columns");
}

TEST_F(CsvTest, SingleClassIsAnError) {
  EXPECT_EQ(ErrorFor("a,label\n1,cat\n2,cat\n3, cat \n"),
            Path() +
                ": the label column 'label' has one class only ('cat'); a classifier needs at "
                "least 2: check data.label_column");
  // Numeric spellings of one value are one class too.
  EXPECT_NE(ErrorFor("a,label\n1,1\n2,1.0\n").find("has one class only ('1')"), std::string::npos);
}

TEST_F(CsvTest, BadQuotesNameTheLine) {
  EXPECT_EQ(ErrorFor("a,label\n1,0\n\"2,1\n"),
            Path() +
                ":3: the quote opened at character 1 is not closed; close it on the same line (a "
                "cell may not span lines)");
  EXPECT_EQ(ErrorFor("a,label\n\"2\"x,1\n"),
            Path() +
                ":2: unexpected text after the quoted cell closed at character 3; put the whole "
                "cell inside the quotes");
}

TEST_F(CsvTest, MissingFileAndDirectoryAndSplitOptions) {
  std::string missing = dir_.File("nope.csv");
  EXPECT_EQ(
      hpo::testing::ErrorOf<DataError>([&] { LoadCsv(missing, {}); }),
      "cannot open " + missing + ": No such file or directory; set data.path to the CSV file");
  EXPECT_EQ(
      hpo::testing::ErrorOf<DataError>([&] { LoadCsv(dir_.path().string(), {}); }),
      "cannot read " + dir_.path().string() + ": it is a directory; set data.path to the CSV file");
  DataOptions options;
  options.validation_fraction = 0.9;
  EXPECT_NE(ErrorFor("a,label\n1,0\n2,1\n", options).find("leaves no training samples out of 2"),
            std::string::npos);
}

}  // namespace
}  // namespace data
