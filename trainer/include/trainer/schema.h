// The trainer's part of the study file: the `resources`, `data`, `model` and `training`
// sections (keys, types, defaults, ranges, descriptions), and how a trial's hyperparameters are
// resolved from them. No LibTorch here.
#pragma once

#include "hpo/config.h"
#include "hpo/study.h"
#include "models/hparams.h"

namespace trainer {

// Schema passed to hpo::LoadStudyConfig. The model section holds `name` plus every model
// hyperparameter; the training section the optimiser and loop settings. Keys marked searchable
// may be named in search_space.
hpo::AppSchema TrainerSchema();

// Metrics a study may optimise, and whether each is maximised.
const std::vector<std::string>& KnownMetrics();

// A trial's hyperparameters: the model and training sections' values, overridden by the trial's
// active parameters.
models::HParams ResolveHParams(const hpo::StudyConfig& config,
                               const std::map<std::string, hpo::Value>& trial_params);

}  // namespace trainer
