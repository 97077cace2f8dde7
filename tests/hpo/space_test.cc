// Tests for hpo/src/space.cc: distributions, conversions, JSON and conditional search spaces.
#include "hpo/space.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace hpo {
namespace {

using Type = Distribution::Type;

// Expects `fn` to throw std::invalid_argument whose message contains `fragment`.
void ExpectInvalid(const std::function<void()>& fn, const std::string& fragment) {
  try {
    fn();
    ADD_FAILURE() << "expected std::invalid_argument containing '" << fragment << "'";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "message '" << e.what() << "' lacks '" << fragment << "'";
  }
}

// ---- factories ------------------------------------------------------------------------------

TEST(DistributionTest, FloatFactory) {
  Distribution d = Distribution::Float(0.5, 2.0);
  EXPECT_EQ(d.type(), Type::kFloat);
  EXPECT_EQ(d.low(), 0.5);
  EXPECT_EQ(d.high(), 2.0);
  EXPECT_EQ(d.step(), 0.0);
  EXPECT_FALSE(d.log());
  EXPECT_FALSE(d.is_finite());
  EXPECT_FALSE(d.is_fixed());
  EXPECT_EQ(d.cardinality(), 0u);
  EXPECT_EQ(d.Describe(), "float[0.5, 2]");

  Distribution lg = Distribution::Float(1e-5, 1e-1, /*log=*/true);
  EXPECT_TRUE(lg.log());
  EXPECT_EQ(lg.Describe(), "float[1e-05, 0.1] log");
}

TEST(DistributionTest, SteppedFloatSnapsHighOntoGrid) {
  Distribution quarter = Distribution::Float(0.0, 1.0, /*log=*/false, /*step=*/0.25);
  EXPECT_TRUE(quarter.is_finite());
  EXPECT_EQ(quarter.high(), 1.0);
  EXPECT_EQ(quarter.cardinality(), 5u);  // 0, .25, .5, .75, 1

  // 0, 0.3, 0.6, 0.9: high 1.0 snaps down to 0.9.
  Distribution odd = Distribution::Float(0.0, 1.0, /*log=*/false, /*step=*/0.3);
  EXPECT_NEAR(odd.high(), 0.9, 1e-12);
  EXPECT_EQ(odd.cardinality(), 4u);

  // 0.1 is not exactly representable; 10 steps must still give 11 points ending at 1.
  Distribution tenth = Distribution::Float(0.0, 1.0, /*log=*/false, /*step=*/0.1);
  EXPECT_EQ(tenth.cardinality(), 11u);
  EXPECT_NEAR(tenth.high(), 1.0, 1e-12);
}

TEST(DistributionTest, IntFactory) {
  Distribution d = Distribution::Int(1, 10);
  EXPECT_EQ(d.type(), Type::kInt);
  EXPECT_EQ(d.low(), 1.0);
  EXPECT_EQ(d.high(), 10.0);
  EXPECT_EQ(d.step(), 1.0);
  EXPECT_TRUE(d.is_finite());
  EXPECT_EQ(d.cardinality(), 10u);
  EXPECT_EQ(d.Describe(), "int[1, 10]");

  // 0, 3, 6, 9: high 10 snaps down to 9.
  Distribution stepped = Distribution::Int(0, 10, /*log=*/false, /*step=*/3);
  EXPECT_EQ(stepped.high(), 9.0);
  EXPECT_EQ(stepped.cardinality(), 4u);
  EXPECT_EQ(stepped.Describe(), "int[0, 9] step 3");

  Distribution lg = Distribution::Int(1, 1024, /*log=*/true);
  EXPECT_TRUE(lg.log());
  EXPECT_EQ(lg.cardinality(), 1024u);
}

TEST(DistributionTest, CategoricalFactory) {
  Distribution d = Distribution::Categorical({std::string("sgd"), std::string("adam"), int64_t{3}});
  EXPECT_EQ(d.type(), Type::kCategorical);
  EXPECT_EQ(d.cardinality(), 3u);
  EXPECT_EQ(d.low(), 0.0);
  EXPECT_EQ(d.high(), 2.0);
  EXPECT_TRUE(d.is_finite());
  EXPECT_FALSE(d.is_fixed());
  EXPECT_EQ(d.Describe(), "categorical{sgd, adam, 3}");

  Distribution fixed = Distribution::Categorical({0.5});
  EXPECT_TRUE(fixed.is_fixed());
  EXPECT_EQ(fixed.cardinality(), 1u);
}

// ---- validation -----------------------------------------------------------------------------

TEST(DistributionTest, FloatValidation) {
  ExpectInvalid([] { Distribution::Float(1.0, 0.0); }, "inverted range");
  ExpectInvalid([] { Distribution::Float(0.3, 0.3); }, "empty range");
  ExpectInvalid([] { Distribution::Float(0.0, 1.0, /*log=*/true); }, "log scale needs low > 0");
  ExpectInvalid([] { Distribution::Float(-1.0, 1.0, /*log=*/true); }, "log scale needs low > 0");
  ExpectInvalid([] { Distribution::Float(0.0, 1.0, /*log=*/false, /*step=*/-0.1); },
                "step must be > 0");
  ExpectInvalid([] { Distribution::Float(0.0, 1.0, false, std::nan("")); }, "step must be > 0");
  ExpectInvalid([] { Distribution::Float(1.0, 10.0, /*log=*/true, /*step=*/0.5); },
                "step cannot be combined with log");
  ExpectInvalid([] { Distribution::Float(0.0, 1.0, /*log=*/false, /*step=*/2.0); },
                "larger than the range");
  ExpectInvalid([] { Distribution::Float(std::nan(""), 1.0); }, "finite");
  ExpectInvalid([] { Distribution::Float(0.0, std::numeric_limits<double>::infinity()); },
                "finite");
}

TEST(DistributionTest, IntValidation) {
  ExpectInvalid([] { Distribution::Int(5, 1); }, "inverted range");
  ExpectInvalid([] { Distribution::Int(3, 3); }, "empty range");
  ExpectInvalid([] { Distribution::Int(0, 10, /*log=*/true); }, "log scale needs low >= 1");
  ExpectInvalid([] { Distribution::Int(1, 10, /*log=*/false, /*step=*/0); }, "step must be >= 1");
  ExpectInvalid([] { Distribution::Int(1, 10, /*log=*/false, /*step=*/-2); }, "step must be >= 1");
  ExpectInvalid([] { Distribution::Int(1, 10, /*log=*/true, /*step=*/2); },
                "step cannot be combined with log");
}

TEST(DistributionTest, CategoricalValidation) {
  ExpectInvalid([] { Distribution::Categorical({}); }, "at least one choice");
  ExpectInvalid(
      [] {
        Distribution::Categorical({std::string("a"), std::string("a")});
      },
      "duplicate choice 'a'");
  ExpectInvalid(
      [] {
        Distribution::Categorical({int64_t{1}, int64_t{2}, int64_t{1}});
      },
      "duplicate choice '1'");
  // 1 and 1.0 denote the same number (ToInternal treats them as equal), so they are duplicates.
  ExpectInvalid([] { Distribution::Categorical({int64_t{1}, 1.0}); }, "duplicate choice");
  // A bool and a string are distinct from numbers.
  EXPECT_EQ(Distribution::Categorical({true, int64_t{1}, std::string("1")}).cardinality(), 3u);
}

// ---- Contains / Snap / ToExternal / ToInternal ----------------------------------------------

TEST(DistributionTest, Contains) {
  Distribution f = Distribution::Float(0.0, 1.0);
  EXPECT_TRUE(f.Contains(0.0));
  EXPECT_TRUE(f.Contains(0.5));
  EXPECT_TRUE(f.Contains(1.0));
  EXPECT_FALSE(f.Contains(-0.01));
  EXPECT_FALSE(f.Contains(1.01));
  EXPECT_FALSE(f.Contains(std::nan("")));
  EXPECT_FALSE(f.Contains(std::numeric_limits<double>::infinity()));

  Distribution q = Distribution::Float(0.0, 1.0, /*log=*/false, /*step=*/0.25);
  EXPECT_TRUE(q.Contains(0.75));
  EXPECT_FALSE(q.Contains(0.3));
  Distribution tenth = Distribution::Float(0.0, 1.0, /*log=*/false, /*step=*/0.1);
  EXPECT_TRUE(tenth.Contains(0.1 * 3));  // 0.30000000000000004 is on the grid

  Distribution i = Distribution::Int(0, 10, /*log=*/false, /*step=*/3);  // 0, 3, 6, 9
  EXPECT_TRUE(i.Contains(3.0));
  EXPECT_TRUE(i.Contains(9.0));
  EXPECT_FALSE(i.Contains(4.0));
  EXPECT_FALSE(i.Contains(10.0));
  EXPECT_FALSE(i.Contains(3.5));
  EXPECT_FALSE(i.Contains(-3.0));

  Distribution c = Distribution::Categorical({std::string("a"), std::string("b")});
  EXPECT_TRUE(c.Contains(0.0));
  EXPECT_TRUE(c.Contains(1.0));
  EXPECT_FALSE(c.Contains(2.0));
  EXPECT_FALSE(c.Contains(-1.0));
  EXPECT_FALSE(c.Contains(0.5));
}

TEST(DistributionTest, Snap) {
  Distribution f = Distribution::Float(0.0, 1.0);
  EXPECT_EQ(f.Snap(-5.0), 0.0);
  EXPECT_EQ(f.Snap(7.0), 1.0);
  EXPECT_EQ(f.Snap(0.3), 0.3);
  EXPECT_EQ(f.Snap(std::nan("")), 0.0);

  Distribution q = Distribution::Float(0.0, 1.0, /*log=*/false, /*step=*/0.25);
  EXPECT_EQ(q.Snap(0.3), 0.25);
  EXPECT_EQ(q.Snap(0.4), 0.5);
  EXPECT_EQ(q.Snap(0.99), 1.0);

  Distribution odd = Distribution::Float(0.0, 1.0, /*log=*/false, /*step=*/0.3);  // high 0.9
  EXPECT_NEAR(odd.Snap(0.99), 0.9, 1e-12);
  EXPECT_TRUE(odd.Contains(odd.Snap(0.99)));

  Distribution i = Distribution::Int(1, 10);
  EXPECT_EQ(i.Snap(3.4), 3.0);
  EXPECT_EQ(i.Snap(3.6), 4.0);
  EXPECT_EQ(i.Snap(0.0), 1.0);
  EXPECT_EQ(i.Snap(11.0), 10.0);

  Distribution s = Distribution::Int(0, 10, /*log=*/false, /*step=*/3);  // 0, 3, 6, 9
  EXPECT_EQ(s.Snap(4.4), 3.0);
  EXPECT_EQ(s.Snap(4.6), 6.0);
  EXPECT_EQ(s.Snap(100.0), 9.0);

  Distribution c = Distribution::Categorical({int64_t{1}, int64_t{2}, int64_t{3}});
  EXPECT_EQ(c.Snap(1.4), 1.0);
  EXPECT_EQ(c.Snap(5.0), 2.0);
  EXPECT_EQ(c.Snap(-1.0), 0.0);
}

TEST(DistributionTest, ToExternal) {
  EXPECT_EQ(Distribution::Float(0.0, 1.0).ToExternal(0.5), Value(0.5));
  EXPECT_EQ(Distribution::Int(1, 10).ToExternal(3.0), Value(int64_t{3}));
  Distribution c =
      Distribution::Categorical({std::string("a"), std::string("b"), true, int64_t{7}, 0.5});
  EXPECT_EQ(c.ToExternal(1.0), Value(std::string("b")));
  EXPECT_EQ(c.ToExternal(2.0), Value(true));
  EXPECT_EQ(c.ToExternal(3.0), Value(int64_t{7}));
  EXPECT_EQ(c.ToExternal(4.0), Value(0.5));
}

TEST(DistributionTest, ToInternal) {
  Distribution c = Distribution::Categorical({std::string("a"), std::string("b")});
  EXPECT_EQ(c.ToInternal(std::string("b")), 1.0);
  ExpectInvalid([&] { c.ToInternal(std::string("z")); }, "'z' is not one of the choices");

  // Numbers match by value across int and double.
  Distribution nums = Distribution::Categorical({int64_t{1}, int64_t{2}, 0.5});
  EXPECT_EQ(nums.ToInternal(2.0), 1.0);
  EXPECT_EQ(nums.ToInternal(int64_t{2}), 1.0);
  EXPECT_EQ(nums.ToInternal(0.5), 2.0);
  // A bool is not the number 1.
  ExpectInvalid([&] { nums.ToInternal(true); }, "is not one of the choices");

  Distribution bools = Distribution::Categorical({true, false});
  EXPECT_EQ(bools.ToInternal(false), 1.0);

  Distribution i = Distribution::Int(1, 10);
  EXPECT_EQ(i.ToInternal(int64_t{5}), 5.0);
  EXPECT_EQ(i.ToInternal(5.0), 5.0);
  ExpectInvalid([&] { i.ToInternal(2.5); }, "expected an integer");
  ExpectInvalid([&] { i.ToInternal(std::string("x")); }, "expected a number");
  ExpectInvalid([&] { i.ToInternal(true); }, "expected a number");
  ExpectInvalid([&] { i.ToInternal(int64_t{11}); }, "11 is outside int[1, 10]");

  Distribution q = Distribution::Float(0.0, 1.0, /*log=*/false, /*step=*/0.25);
  EXPECT_EQ(q.ToInternal(0.75), 0.75);
  EXPECT_EQ(q.ToInternal(int64_t{1}), 1.0);
  ExpectInvalid([&] { q.ToInternal(0.3); }, "outside");
  ExpectInvalid([&] { q.ToInternal(-0.25); }, "outside");
}

TEST(DistributionTest, InternalExternalRoundTrip) {
  std::vector<Distribution> dists = {
      Distribution::Float(-1.0, 1.0),
      Distribution::Float(0.0, 1.0, /*log=*/false, /*step=*/0.1),
      Distribution::Int(-5, 5),
      Distribution::Int(2, 50, /*log=*/false, /*step=*/4),
      Distribution::Categorical({int64_t{1}, 2.5, std::string("x"), false}),
  };
  for (const Distribution& d : dists) {
    for (double x : {-1.0, -0.3, 0.0, 0.3, 1.0, 2.0, 3.0, 7.0, 30.0}) {
      double in = d.Snap(x);
      ASSERT_TRUE(d.Contains(in)) << d.Describe() << " snap " << x;
      EXPECT_EQ(d.ToInternal(d.ToExternal(in)), in) << d.Describe() << " at " << in;
    }
  }
}

// ---- JSON -----------------------------------------------------------------------------------

TEST(DistributionTest, JsonRoundTrip) {
  std::vector<Distribution> dists = {
      Distribution::Float(-2.5, 7.25),
      Distribution::Float(1e-5, 1e-1, /*log=*/true),
      Distribution::Float(0.0, 1.0, /*log=*/false, /*step=*/0.1),
      Distribution::Float(0.0, 1.0, /*log=*/false, /*step=*/0.3),
      Distribution::Int(1, 10),
      Distribution::Int(0, 10, /*log=*/false, /*step=*/3),
      Distribution::Int(1, 4096, /*log=*/true),
      Distribution::Categorical({true, int64_t{3}, 2.0, std::string("relu")}),
      Distribution::Categorical({std::string("only")}),
  };
  for (const Distribution& d : dists) {
    std::string json = d.ToJson();
    Distribution back = Distribution::FromJson(json);
    EXPECT_TRUE(back == d) << json << " came back as " << back.ToJson();
    EXPECT_EQ(back.ToJson(), json);
    EXPECT_EQ(back.Describe(), d.Describe());
    EXPECT_EQ(back.cardinality(), d.cardinality());
  }
  // Value types survive: the double 2.0 stays a double, the int 3 an int.
  Distribution c = Distribution::FromJson(dists[7].ToJson());
  EXPECT_EQ(c.choices()[0], Value(true));
  EXPECT_EQ(c.choices()[1], Value(int64_t{3}));
  EXPECT_EQ(c.choices()[2], Value(2.0));
  EXPECT_EQ(c.choices()[3], Value(std::string("relu")));
}

TEST(DistributionTest, FromJsonErrors) {
  ExpectInvalid([] { Distribution::FromJson(R"({"type":"gaussian"})"); },
                "unknown distribution type 'gaussian'");
  // Stored JSON goes through the validating factories.
  ExpectInvalid(
      [] { Distribution::FromJson(R"({"type":"float","low":1,"high":0,"log":false,"step":0})"); },
      "inverted range");
  EXPECT_ANY_THROW(Distribution::FromJson("not json"));
  EXPECT_ANY_THROW(Distribution::FromJson(R"({"type":"int","low":1})"));
}

// ---- SearchSpace ----------------------------------------------------------------------------

ParamSpec Spec(std::string name, Distribution d, std::optional<Condition> c = std::nullopt) {
  return ParamSpec{std::move(name), std::move(d), std::move(c)};
}

// optimizer ∈ {sgd, adam, rmsprop}; momentum only with sgd; beta2 with adam or rmsprop;
// nesterov only with momentum 0.9 (a grandchild).
SearchSpace OptimizerSpace() {
  SearchSpace s;
  s.Add(Spec("lr", Distribution::Float(1e-5, 1e-1, /*log=*/true)));
  s.Add(Spec("optimizer", Distribution::Categorical(
                              {std::string("sgd"), std::string("adam"), std::string("rmsprop")})));
  s.Add(Spec("momentum", Distribution::Categorical({0.0, 0.9}),
             Condition{"optimizer", {std::string("sgd")}}));
  s.Add(Spec("beta2", Distribution::Float(0.9, 0.9999),
             Condition{"optimizer", {std::string("adam"), std::string("rmsprop")}}));
  s.Add(Spec("nesterov", Distribution::Categorical({true, false}), Condition{"momentum", {0.9}}));
  s.Add(Spec("layers", Distribution::Int(1, 8, /*log=*/false, /*step=*/1)));
  return s;
}

TEST(SearchSpaceTest, AddAndFind) {
  SearchSpace s = OptimizerSpace();
  ASSERT_EQ(s.params().size(), 6u);
  EXPECT_FALSE(s.empty());
  EXPECT_TRUE(SearchSpace().empty());
  EXPECT_EQ(s.params()[2].name, "momentum");  // declaration order kept
  const ParamSpec* m = s.Find("momentum");
  ASSERT_NE(m, nullptr);
  ASSERT_TRUE(m->condition.has_value());
  EXPECT_EQ(m->condition->parent, "optimizer");
  EXPECT_EQ(s.Find("missing"), nullptr);
}

TEST(SearchSpaceTest, AddErrors) {
  SearchSpace s = OptimizerSpace();
  ExpectInvalid([&] { s.Add(Spec("lr", Distribution::Float(0.0, 1.0))); },
                "'lr' is declared twice");
  ExpectInvalid([&] { s.Add(Spec("", Distribution::Float(0.0, 1.0))); }, "name is empty");
  ExpectInvalid(
      [&] {
        s.Add(Spec("x", Distribution::Float(0.0, 1.0), Condition{"nope", {std::string("a")}}));
      },
      "names parent 'nope', which is not declared before it");
  ExpectInvalid(
      [&] {
        s.Add(Spec("x", Distribution::Float(0.0, 1.0),
                   Condition{"optimizer", {std::string("adagrad")}}));
      },
      "parent 'optimizer' cannot take the value 'adagrad'");
  ExpectInvalid(
      [&] {
        s.Add(Spec("x", Distribution::Float(0.0, 1.0), Condition{"layers", {int64_t{9}}}));
      },
      "parent 'layers' cannot take the value '9'");
  ExpectInvalid(
      [&] {
        s.Add(Spec("x", Distribution::Float(0.0, 1.0), Condition{"optimizer", {}}));
      },
      "lists no parent values");
  // A failed Add leaves the space unchanged.
  EXPECT_EQ(s.params().size(), 6u);
  EXPECT_EQ(s.Find("x"), nullptr);

  // The parent must come first: declaring the child before its parent fails even though the
  // parent is added afterwards.
  SearchSpace order;
  ExpectInvalid(
      [&] {
        order.Add(Spec("child", Distribution::Float(0.0, 1.0), Condition{"parent", {true}}));
      },
      "not declared before it");
  order.Add(Spec("parent", Distribution::Categorical({true, false})));
  order.Add(Spec("child", Distribution::Float(0.0, 1.0), Condition{"parent", {true}}));
  EXPECT_EQ(order.params().size(), 2u);
}

TEST(SearchSpaceTest, IsActive) {
  SearchSpace s = OptimizerSpace();
  const ParamSpec& lr = *s.Find("lr");
  const ParamSpec& momentum = *s.Find("momentum");
  const ParamSpec& beta2 = *s.Find("beta2");
  const ParamSpec& nesterov = *s.Find("nesterov");

  EXPECT_TRUE(s.IsActive(lr, {}));
  // Parent not chosen (yet, or inactive): the child is inactive.
  EXPECT_FALSE(s.IsActive(momentum, {}));

  ParamMap sgd = {{"optimizer", 0.0}};
  ParamMap adam = {{"optimizer", 1.0}};
  ParamMap rmsprop = {{"optimizer", 2.0}};
  EXPECT_TRUE(s.IsActive(momentum, sgd));
  EXPECT_FALSE(s.IsActive(momentum, adam));
  EXPECT_FALSE(s.IsActive(beta2, sgd));
  EXPECT_TRUE(s.IsActive(beta2, adam));
  EXPECT_TRUE(s.IsActive(beta2, rmsprop));

  // Grandchild: nesterov needs momentum == 0.9 (index 1), which needs sgd.
  EXPECT_FALSE(s.IsActive(nesterov, adam));
  EXPECT_FALSE(s.IsActive(nesterov, {{"optimizer", 0.0}, {"momentum", 0.0}}));
  EXPECT_TRUE(s.IsActive(nesterov, {{"optimizer", 0.0}, {"momentum", 1.0}}));
}

TEST(SearchSpaceTest, JsonRoundTripWithConditions) {
  SearchSpace s = OptimizerSpace();
  std::string json = s.ToJson();
  SearchSpace back = SearchSpace::FromJson(json);
  EXPECT_TRUE(back == s);
  EXPECT_EQ(back.ToJson(), json);
  ASSERT_EQ(back.params().size(), s.params().size());
  for (size_t i = 0; i < s.params().size(); ++i) {
    const ParamSpec& a = s.params()[i];
    const ParamSpec& b = back.params()[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_TRUE(a.distribution == b.distribution) << a.name;
    ASSERT_EQ(a.condition.has_value(), b.condition.has_value()) << a.name;
    if (a.condition) {
      EXPECT_EQ(a.condition->parent, b.condition->parent);
      EXPECT_EQ(a.condition->values, b.condition->values);
    }
  }
  // Conditions work the same after the round trip.
  EXPECT_TRUE(back.IsActive(*back.Find("beta2"), {{"optimizer", 2.0}}));
  EXPECT_FALSE(back.IsActive(*back.Find("momentum"), {{"optimizer", 2.0}}));

  EXPECT_EQ(SearchSpace().ToJson(), "[]");
  EXPECT_TRUE(SearchSpace::FromJson("[]").empty());

  // Spaces differing in one bound compare unequal.
  SearchSpace other;
  other.Add(Spec("lr", Distribution::Float(1e-5, 1e-2, /*log=*/true)));
  EXPECT_FALSE(other == s);
}

TEST(SearchSpaceTest, FromJsonValidatesConditions) {
  // The child comes before its parent in the stored list.
  const std::string json =
      R"([{"name":"b","distribution":{"type":"float","low":0,"high":1,"log":false,"step":0},)"
      R"("condition":{"parent":"a","values":[true]}},)"
      R"({"name":"a","distribution":{"type":"categorical","choices":[true,false]}}])";
  ExpectInvalid([&] { SearchSpace::FromJson(json); }, "not declared before it");
}

TEST(ValueTest, ToStringAndToDouble) {
  EXPECT_EQ(ValueToString(true), "true");
  EXPECT_EQ(ValueToString(int64_t{-3}), "-3");
  EXPECT_EQ(ValueToString(0.25), "0.25");
  EXPECT_EQ(ValueToString(std::string("adam")), "adam");
  EXPECT_EQ(ValueToDouble(false), 0.0);
  EXPECT_EQ(ValueToDouble(int64_t{4}), 4.0);
  EXPECT_EQ(ValueToDouble(1.5), 1.5);
  ExpectInvalid([] { ValueToDouble(std::string("x")); }, "'x' is not a number");
}

}  // namespace
}  // namespace hpo

namespace hpo {
namespace {

TEST(SearchSpaceToExternal, ConvertsDeclaredParametersAndLeavesOutOthers) {
  SearchSpace s;
  s.Add(
      {"opt", Distribution::Categorical({std::string("sgd"), std::string("adam")}), std::nullopt});
  s.Add({"layers", Distribution::Int(1, 4), std::nullopt});
  s.Add({"lr", Distribution::Float(1e-5, 1e-1, /*log=*/true), std::nullopt});
  const std::map<std::string, Value> out =
      s.ToExternal({{"opt", 1.0}, {"layers", 3.0}, {"lr", 0.01}, {"dbr_only", 0.5}});
  EXPECT_EQ(out, (std::map<std::string, Value>{
                     {"opt", std::string("adam")}, {"layers", int64_t{3}}, {"lr", 0.01}}));
  EXPECT_TRUE(s.ToExternal({}).empty());
}

}  // namespace
}  // namespace hpo
