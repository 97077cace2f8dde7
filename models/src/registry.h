// Builders behind models::BuildModel and their hyperparameter docs (private to models/).
//
// Each model lists every key it reads. Keys read by more than one model come from
// SharedHParam, so they are declared once; ModelHParams() merges the lists and checks that a
// key listed by several models is declared identically.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/model.h"

namespace models {

std::shared_ptr<Model> MakeMlp(const HParams& hp, const InputSpec& in);
std::vector<HParamDoc> MlpHParams();

std::shared_ptr<Model> MakeCnn(const HParams& hp, const InputSpec& in);
std::vector<HParamDoc> CnnHParams();

std::shared_ptr<Model> MakeResNet(const HParams& hp, const InputSpec& in);
std::vector<HParamDoc> ResNetHParams();

// Throws std::invalid_argument unless `in` is an image shape [C,H,W] with positive sizes; the
// message names `model` (and says to use mlp for tabular input).
void RequireImageInput(const std::string& model, const InputSpec& in);

// hidden_units, activation, dropout or batch_norm, described with the models that read it.
// Any other key throws std::logic_error.
HParamDoc SharedHParam(const std::string& key);

}  // namespace models
