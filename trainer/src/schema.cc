#include "trainer/schema.h"

namespace trainer {
namespace {

hpo::FieldSpec FromDoc(const models::HParamDoc& d) {
  hpo::FieldSpec f;
  f.key = d.key;
  switch (d.kind) {
    case models::HParamDoc::Kind::kString:
      f.kind = hpo::FieldSpec::Kind::kString;
      break;
    case models::HParamDoc::Kind::kInt:
      f.kind = hpo::FieldSpec::Kind::kInt;
      break;
    case models::HParamDoc::Kind::kFloat:
      f.kind = hpo::FieldSpec::Kind::kFloat;
      break;
    case models::HParamDoc::Kind::kBool:
      f.kind = hpo::FieldSpec::Kind::kBool;
      break;
  }
  f.default_value = d.default_value;
  if (d.kind == models::HParamDoc::Kind::kInt || d.kind == models::HParamDoc::Kind::kFloat) {
    f.min = d.min;
    f.max = d.max;
  }
  f.allowed = d.allowed;
  f.description = d.description;
  f.searchable = true;
  return f;
}

using K = hpo::FieldSpec::Kind;

}  // namespace

hpo::AppSchema TrainerSchema() {
  hpo::AppSchema schema;
  schema.sections["resources"] = {
      {"devices",
       K::kStringList,
       std::string("auto"),
       {},
       {},
       {},
       "auto (every CUDA GPU, else the CPU), cpu, cuda, or a list such as [cuda:0, cuda:2]"},
      {"trials_per_device",
       K::kInt,
       int64_t{2},
       1,
       256,
       {},
       "trials trained at once on each device"},
      {"threads_per_trial",
       K::kInt,
       int64_t{0},
       0,
       1024,
       {},
       "CPU intra-op threads per trial; 0 divides the cores among the concurrent trials"},
      {"checkpoint_memory_mb",
       K::kInt,
       int64_t{4096},
       0,
       {},
       {},
       "host memory for paused trials' states; past it they spill to runs/<study>/checkpoints"},
  };
  schema.sections["data"] = {
      {"name",
       K::kString,
       std::string("fashion_mnist"),
       {},
       {},
       {"csv", "fashion_mnist", "mnist", "synthetic"},
       "dataset; csv: a table of numeric feature columns and one label column"},
      {"path",
       K::kString,
       std::string("/usr/share/datasets/fashion-mnist"),
       {},
       {},
       {},
       "fashion_mnist/mnist: folder holding train-images-idx3-ubyte(.gz) and "
       "train-labels-idx1-ubyte(.gz); csv: the CSV file (comma-separated, optional double "
       "quotes, '#' comment lines; features standardised with the train split's mean/std)"},
      {"validation_fraction",
       K::kFloat,
       0.1,
       0.0,
       0.9,
       {},
       "share of the training file held out for validation"},
      {"train_limit",
       K::kInt,
       int64_t{0},
       0,
       {},
       {},
       "keep at most this many training samples (0: all)"},
      {"split_seed", K::kInt, int64_t{0}, 0, {}, {}, "seed of the train/validation split"},
      {"synthetic_train", K::kInt, int64_t{2000}, 1, {}, {}, "synthetic: training samples"},
      {"synthetic_val", K::kInt, int64_t{500}, 1, {}, {}, "synthetic: validation samples"},
      {"synthetic_features", K::kInt, int64_t{20}, 1, {}, {}, "synthetic: features"},
      {"synthetic_classes", K::kInt, int64_t{4}, 2, {}, {}, "synthetic: classes"},
      {"label_column",
       K::kString,
       std::string("label"),
       {},
       {},
       {},
       "csv: the label column's header name, or its 0-based index (e.g. \"4\") when "
       "csv_header is false; all other columns are features. Numeric labels become classes in "
       "ascending order (0..K-1 keep their values), others in sorted string order"},
      {"csv_header",
       K::kBool,
       true,
       {},
       {},
       {},
       "csv: the first line (after empty and '#' lines) names the columns"},
  };
  std::vector<hpo::FieldSpec> model = {
      {"name", K::kString, std::string("mlp"), {}, {}, models::KnownModels(), "model"}};
  for (const auto& doc : models::ModelHParams()) model.push_back(FromDoc(doc));
  schema.sections["model"] = model;
  auto searchable = [](hpo::FieldSpec f) {
    f.searchable = true;
    return f;
  };
  schema.sections["training"] = {
      searchable({"optimizer",
                  K::kString,
                  std::string("adam"),
                  {},
                  {},
                  {"sgd", "adam", "adamw", "rmsprop"},
                  "optimiser"}),
      searchable({"lr", K::kFloat, 1e-3, 0.0, 10.0, {}, "learning rate"}),
      searchable({"momentum", K::kFloat, 0.9, 0.0, 1.0, {}, "sgd/rmsprop momentum"}),
      searchable({"nesterov", K::kBool, false, {}, {}, {}, "sgd: Nesterov momentum"}),
      searchable({"weight_decay", K::kFloat, 0.0, 0.0, 1.0, {}, "L2 / decoupled weight decay"}),
      searchable({"batch_size", K::kInt, int64_t{128}, 1, 65536, {}, "training batch size"}),
      searchable({"lr_schedule",
                  K::kString,
                  std::string("constant"),
                  {},
                  {},
                  {"constant", "step", "cosine"},
                  "learning-rate schedule over max_epochs, updated every batch"}),
      searchable({"warmup_epochs",
                  K::kFloat,
                  0.0,
                  0.0,
                  1000.0,
                  {},
                  "linear warm-up from 0 to lr over this many epochs (fractions allowed)"}),
      searchable({"lr_step_epochs",
                  K::kInt,
                  int64_t{0},
                  0,
                  {},
                  {},
                  "step schedule: multiply lr by lr_gamma every this many epochs"}),
      searchable({"lr_gamma", K::kFloat, 0.1, 0.0, 1.0, {}, "step schedule: decay factor"}),
      searchable({"precision",
                  K::kString,
                  std::string("fp32"),
                  {},
                  {},
                  {"fp32", "bf16"},
                  "bf16: autocast forward passes to bfloat16 on CUDA devices (fp32 on the CPU)"}),
      searchable({"grad_clip", K::kFloat, 0.0, 0.0, {}, {}, "clip gradient norm (0: off)"}),
      {"eval_batch_size",
       K::kInt,
       int64_t{512},
       1,
       {},
       {},
       "validation batch size (activation memory per concurrent trial grows with it)"},
  };
  return schema;
}

const std::vector<std::string>& KnownMetrics() {
  static const std::vector<std::string> metrics = {"val_accuracy", "val_loss", "train_loss"};
  return metrics;
}

models::HParams ResolveHParams(const hpo::StudyConfig& config,
                               const std::map<std::string, hpo::Value>& trial_params) {
  models::HParams hp;
  for (const char* section : {"model", "training"})
    for (const auto& [key, value] : config.section(section).values()) hp.Set(key, value);
  for (const auto& [key, value] : trial_params) hp.Set(key, value);
  return hp;
}

}  // namespace trainer
