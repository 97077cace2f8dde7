// Builders behind models::BuildModel (private to models/).
#pragma once

#include "models/model.h"

namespace models {

std::shared_ptr<Model> MakeMlp(const HParams& hp, const InputSpec& in);
std::vector<HParamDoc> MlpHParams();

}  // namespace models
