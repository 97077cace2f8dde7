#include "trainer/study_runner.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#ifdef HPO_HAVE_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "hpo/check.h"
#include "trainer/schema.h"
#include "trainer/trial_trainer.h"

namespace trainer {
namespace {

// Returns the pages that a finished job (its model, optimiser, activations) freed to the
// system: glibc keeps freed memory in its arenas, so without this a long study's resident
// memory creeps up with fragmentation from trial to trial. Costs a walk over the arenas, once
// per job. Where train links jemalloc (trainer/CMakeLists.txt), glibc's arenas are unused and
// this walks them for nothing (cheap); jemalloc returns freed pages by its own decay.
void ReleaseFreedMemory() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string Fmt(double v, int precision = 4) {
  std::ostringstream ss;
  ss << std::setprecision(precision) << v;
  return ss.str();
}

std::string ParamsText(const std::map<std::string, hpo::Value>& params) {
  std::string s;
  for (const auto& [k, v] : params) {
    if (!s.empty()) s += " ";
    s += k + "=" +
         (std::holds_alternative<double>(v) ? Fmt(std::get<double>(v)) : hpo::ValueToString(v));
  }
  return s;
}

nlohmann::json ToJson(const hpo::Value& v) {
  return std::visit([](const auto& x) { return nlohmann::json(x); }, v);
}

std::vector<torch::Device> ParseDevices(const std::vector<std::string>& specs,
                                        const std::string& where) {
  const int64_t gpus = torch::cuda::is_available() ? torch::cuda::device_count() : 0;
  std::vector<torch::Device> out;
  for (const std::string& spec : specs) {
    if (spec == "auto") {
      if (gpus == 0) out.emplace_back(torch::kCPU);
      for (int64_t i = 0; i < gpus; ++i) out.emplace_back(torch::kCUDA, static_cast<int8_t>(i));
    } else if (spec == "cpu") {
      out.emplace_back(torch::kCPU);
    } else if (spec == "cuda" || spec.rfind("cuda:", 0) == 0) {
      if (gpus == 0)
        throw InputError(
            where + ": '" + spec +
            "' asks for a GPU but no CUDA device is visible; use devices: cpu or auto");
      if (spec == "cuda") {
        for (int64_t i = 0; i < gpus; ++i) out.emplace_back(torch::kCUDA, static_cast<int8_t>(i));
        continue;
      }
      const std::string index = spec.substr(5);
      if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos ||
          std::stoll(index) >= gpus)
        throw InputError(where + ": '" + spec + "' is not a visible GPU (there are " +
                         std::to_string(gpus) +
                         "); use cuda:0 .. cuda:" + std::to_string(gpus - 1));
      out.emplace_back(torch::kCUDA, static_cast<int8_t>(std::stoll(index)));
    } else {
      throw InputError(where + ": unknown device '" + spec + "'; use auto, cpu, cuda or cuda:N");
    }
  }
  // Drop duplicates, keep order.
  std::vector<torch::Device> unique;
  for (const auto& d : out)
    if (std::find(unique.begin(), unique.end(), d) == unique.end()) unique.push_back(d);
  if (unique.empty()) throw InputError(where + ": no device given; use devices: auto");
  return unique;
}

}  // namespace

// The training state of a trial this process knows. While the trial runs, `trainer` is live;
// while it is paused, the state is serialised in `checkpoint` (host memory) or, past the memory
// budget, in the file `spill_path`. `mu` is held while a worker drives the trial, so a worker
// promoting it waits until the pausing worker has saved its state and let go.
struct StudyRunner::Session {
  std::mutex mu;
  std::unique_ptr<TrialTrainer> trainer;
  std::string checkpoint;
  std::string spill_path;
  int64_t number = -1;  // the trial's number (checkpoint file names)
};

StudyRunner::StudyRunner(hpo::StudyConfig config, RunOptions options, std::ostream& out)
    : config_(std::move(config)), options_(std::move(options)), out_(out) {}

StudyRunner::~StudyRunner() = default;

int64_t StudyRunner::slot_count() const {
  return static_cast<int64_t>(devices_.size()) * trials_per_device_;
}

void StudyRunner::Prepare() {
  const auto& metrics = KnownMetrics();
  if (std::find(metrics.begin(), metrics.end(), config_.metric) == metrics.end()) {
    std::string known;
    for (const auto& m : metrics) known += (known.empty() ? "" : ", ") + m;
    throw InputError(config_.file + ": study.metric '" + config_.metric +
                     "' is not a metric the trainer reports; use one of " + known);
  }
  const hpo::Section& res = config_.section("resources");
  std::vector<std::string> specs =
      options_.devices.empty() ? res.GetList("devices") : options_.devices;
  devices_ = ParseDevices(specs, options_.devices.empty()
                                     ? res.LocationOf("devices").ToString() + ": resources.devices"
                                     : "--devices");
  trials_per_device_ =
      options_.trials_per_device > 0 ? options_.trials_per_device : res.GetInt("trials_per_device");

  // CPU threads: divide the cores among the trials that run on the CPU, never oversubscribe.
  int64_t cpu_slots = 0;
  for (const auto& d : devices_) cpu_slots += d.is_cpu() ? trials_per_device_ : 0;
  int64_t threads = res.GetInt("threads_per_trial");
  if (threads == 0) {
    int64_t cores = std::max<int64_t>(1, std::thread::hardware_concurrency());
    threads = std::max<int64_t>(1, cores / std::max<int64_t>(1, cpu_slots));
  }
  at::set_num_threads(static_cast<int>(threads));
  checkpoint_budget_bytes_ = res.GetInt("checkpoint_memory_mb") << 20;

  const hpo::Section& d = config_.section("data");
  data::DataOptions opts;
  opts.name = d.GetString("name");
  opts.path = d.GetString("path");
  opts.validation_fraction = d.GetDouble("validation_fraction");
  opts.train_limit = d.GetInt("train_limit");
  opts.split_seed = static_cast<uint64_t>(d.GetInt("split_seed"));
  opts.synthetic_train = d.GetInt("synthetic_train");
  opts.synthetic_val = d.GetInt("synthetic_val");
  opts.synthetic_features = d.GetInt("synthetic_features");
  opts.synthetic_classes = d.GetInt("synthetic_classes");
  opts.label_column = d.GetString("label_column");
  opts.csv_header = d.GetBool("csv_header");
  data::Dataset host = data::LoadDataset(opts);  // DataError names the file and the fix
  bool any_cuda = false;
  for (const auto& dev : devices_) {
    data_by_device_[dev.str()] = dev.is_cpu() ? host : data::ToDevice(host, dev);
    any_cuda |= dev.is_cuda();
  }
  device_samples_ = std::deque<std::atomic<int64_t>>(devices_.size());
#ifdef HPO_HAVE_CUDA
  if (any_cuda) {
    at::globalContext().setBenchmarkCuDNN(true);  // once, before the worker threads start
    torch::cuda::synchronize();  // the shared copies exist before other streams read them
  }
#endif
  (void)any_cuda;
}

void StudyRunner::Log(const std::string& text, const std::string& json) {
  if (options_.quiet) return;
  std::lock_guard<std::mutex> lock(log_mu_);
  if (options_.json_log) {
    out_ << json << "\n";
  } else {
    out_ << "[" << std::fixed << std::setprecision(1) << std::setw(6) << (Now() - start_time_)
         << "s] " << std::defaultfloat << text << "\n";
  }
  out_.flush();
}

void StudyRunner::Summary(bool force) {
  double now = Now();
  {
    std::lock_guard<std::mutex> lock(log_mu_);
    if (!force && now - last_summary_ < options_.summary_interval_s) return;
    last_summary_ = now;
  }
  std::map<hpo::TrialState, int64_t> counts;
  for (const auto& t : study_->Trials()) ++counts[t.state];
  auto best = study_->BestTrial();
  double sps = samples_trained_.load() / std::max(1e-9, now - start_time_);
  std::ostringstream text;
  text << "summary: running " << counts[hpo::TrialState::kRunning] << " · paused "
       << counts[hpo::TrialState::kPaused] << " · complete " << counts[hpo::TrialState::kComplete]
       << " · pruned " << counts[hpo::TrialState::kPruned] << " · failed "
       << counts[hpo::TrialState::kFailed] << " · best "
       << (best ? Fmt(*best->value) + " (trial " + std::to_string(best->number) + ")" : "-")
       << " · " << static_cast<int64_t>(sps) << " samples/s";
  const double elapsed = std::max(1e-9, now - start_time_);
  if (devices_.size() > 1)
    for (size_t i = 0; i < devices_.size(); ++i)
      text << " (" << devices_[i].str() << " "
           << static_cast<int64_t>(device_samples_[i].load() / elapsed) << ")";
  nlohmann::json j = {{"event", "summary"},
                      {"running", counts[hpo::TrialState::kRunning]},
                      {"paused", counts[hpo::TrialState::kPaused]},
                      {"complete", counts[hpo::TrialState::kComplete]},
                      {"pruned", counts[hpo::TrialState::kPruned]},
                      {"failed", counts[hpo::TrialState::kFailed]},
                      {"samples_per_s", sps}};
  for (size_t i = 0; i < devices_.size(); ++i)
    j["samples_per_s_by_device"][devices_[i].str()] = device_samples_[i].load() / elapsed;
  if (best) j["best"] = {{"trial", best->number}, {"value", *best->value}};
  Log(text.str(), j.dump());
}

RunResult StudyRunner::Run() {
  HPO_CHECK(!devices_.empty()) << "Prepare() must run first";
  start_time_ = last_summary_ = Now();
  maximize_ = config_.direction == hpo::Direction::kMaximize;

  hpo::StudyDefinition def;
  def.name = config_.name;
  def.direction = config_.direction;
  def.metric = config_.metric;
  def.config = config_.ToYaml();
  const std::string url = options_.storage.empty() ? config_.storage : options_.storage;
  hpo::StudyOptions study_options;
  study_options.n_trials = config_.n_trials;
  study_options.allow_extend = options_.extend;
  study_options.requeue_interrupted = config_.requeue_interrupted;
  study_ = std::make_unique<hpo::Study>(def, config_.space, hpo::Storage::Open(url),
                                        hpo::MakeSampler(config_.sampler),
                                        hpo::MakeScheduler(config_.scheduler), study_options);
  for (const auto& t : study_->interrupted_on_open())
    Log("trial " + std::to_string(t.number) + " was interrupted by an earlier run: retried",
        nlohmann::json{{"event", "interrupted"}, {"trial", t.number}}.dump());
  std::string device_names;
  for (const auto& d : devices_) device_names += (device_names.empty() ? "" : ", ") + d.str();
  Log("study '" + config_.name + "' in " + url + ": " + std::to_string(config_.n_trials) +
          " trials, up to " + std::to_string(config_.max_epochs) + " epochs each, sampler " +
          config_.sampler.name + ", scheduler " + config_.scheduler.name + ", " +
          std::to_string(slot_count()) + " concurrent trials on " + device_names + ", metric " +
          config_.metric + " (" + hpo::ToString(config_.direction) + ")",
      nlohmann::json{{"event", "start"}, {"study", config_.name}, {"storage", url}}.dump());

  std::vector<std::thread> workers;
  for (int64_t s = 0; s < slot_count(); ++s) workers.emplace_back([this, s] { Worker(s); });
  for (auto& w : workers) w.join();

  RunResult result;
  result.interrupted = stop_;
  if (stop_) {
    // Trials waiting for an out-of-memory retry are running in the storage: suspend them too,
    // so the next run resumes them (by replaying their epochs) instead of failing them.
    for (const Retry& r : retries_) study_->Suspend(r.trial);
    retries_.clear();
    SaveParkedToDisk();
  } else {
    study_->PruneUnpromoted();
    std::filesystem::remove_all(std::filesystem::path(OutputDir()) / "checkpoints");
  }
  auto trials = study_->Trials();
  for (const auto& t : trials) {
    result.complete += t.state == hpo::TrialState::kComplete;
    result.pruned += t.state == hpo::TrialState::kPruned;
    result.failed += t.state == hpo::TrialState::kFailed;
  }
  result.best = study_->BestTrial();
  result.spilled = spilled_;
  result.seconds = Now() - start_time_;
  Summary(/*force=*/true);
  PrintTable(trials);
  WriteOutputs(trials);
  return result;
}

void StudyRunner::Worker(size_t slot) {
  const torch::Device device = devices_[slot % devices_.size()];
#ifdef HPO_HAVE_CUDA
  // One CUDA stream per slot: the trials on one GPU overlap their kernels.
  std::optional<c10::cuda::CUDAGuard> device_guard;
  std::optional<c10::cuda::CUDAStreamGuard> stream_guard;
  if (device.is_cuda()) {
    device_guard.emplace(device.index());
    stream_guard.emplace(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index()));
  }
#endif
  while (!stop_) {
    if (std::optional<hpo::Trial> retry = TakeRetry(device)) {
      RunTrial(slot, *retry, /*replay=*/true);
      ReleaseFreedMemory();
      continue;
    }
    std::optional<hpo::Trial> trial = study_->Ask();
    if (!trial) {
      // Nothing to hand out now; a running or re-queued trial may still make a paused trial
      // promotable.
      if (!study_->HasPendingWork() && !HasRetries()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    RunTrial(slot, *trial, /*replay=*/false);
    ReleaseFreedMemory();
    Summary(/*force=*/false);
  }
}

std::optional<hpo::Trial> StudyRunner::TakeRetry(torch::Device device) {
  std::lock_guard<std::mutex> lock(retry_mu_);
  for (auto it = retries_.begin(); it != retries_.end(); ++it) {
    // Another device when there is one: the one that ran out of memory is the loaded one.
    if (devices_.size() > 1 && it->from == device) continue;
    hpo::Trial trial = it->trial;
    retries_.erase(it);
    return trial;
  }
  return std::nullopt;
}

bool StudyRunner::HasRetries() {
  std::lock_guard<std::mutex> lock(retry_mu_);
  return !retries_.empty();
}

std::string StudyRunner::CheckpointPath(int64_t trial_number) const {
  return (std::filesystem::path(OutputDir()) / "checkpoints" /
          ("trial-" + std::to_string(trial_number) + ".pt"))
      .string();
}

std::string StudyRunner::OutputDir() const {
  return options_.output_dir.empty() ? (std::filesystem::path("runs") / config_.name).string()
                                     : options_.output_dir;
}

namespace {
void WriteFileAtomically(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write checkpoint " + tmp);
  }
  std::filesystem::rename(tmp, path);
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read checkpoint " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

// Saves a paused trial's state and frees its model and optimiser (GPU memory included).
void StudyRunner::Park(Session& session, int64_t trial_number) {
  std::string bytes = session.trainer->SaveState();
  session.trainer.reset();
  const int64_t size = static_cast<int64_t>(bytes.size());
  if (checkpoint_bytes_.fetch_add(size) + size <= checkpoint_budget_bytes_) {
    session.checkpoint = std::move(bytes);
    return;
  }
  checkpoint_bytes_ -= size;  // over budget: spill to disk
  session.spill_path = CheckpointPath(trial_number);
  WriteFileAtomically(session.spill_path, bytes);
  ++spilled_;
}

std::unique_ptr<TrialTrainer> StudyRunner::Unpark(Session& session, const hpo::Trial& trial,
                                                  torch::Device device, bool replay,
                                                  std::string* how) {
  const data::Dataset& data = data_by_device_.at(device.str());
  auto trainer = std::make_unique<TrialTrainer>(
      ResolveHParams(config_, trial.ExternalParams()), data, device,
      config_.seed * 1000003ULL + static_cast<uint64_t>(trial.number()), config_.max_epochs);
  if (!session.checkpoint.empty()) {
    trainer->LoadState(session.checkpoint);
    checkpoint_bytes_ -= static_cast<int64_t>(session.checkpoint.size());
    std::string().swap(session.checkpoint);
    *how = "promoted";
  } else if (!session.spill_path.empty()) {
    trainer->LoadState(ReadWholeFile(session.spill_path));
    std::filesystem::remove(session.spill_path);
    session.spill_path.clear();
    *how = "promoted (from disk)";
  } else if (trial.resumed() && std::filesystem::exists(CheckpointPath(trial.number()))) {
    // Paused or interrupted by an earlier process that saved its state.
    trainer->LoadState(ReadWholeFile(CheckpointPath(trial.number())));
    std::filesystem::remove(CheckpointPath(trial.number()));
    *how = "resumed from its checkpoint";
  } else if (trial.resumed() || replay) {
    // An earlier process paused it without a checkpoint on disk (it crashed), or it ran out of
    // memory: replay the reported epochs with the same seed, without reporting them again.
    int64_t reached = 0;
    if (std::optional<hpo::FrozenTrial> t = study_->GetTrial(trial.id());
        t && !t->intermediate.empty())
      reached = t->intermediate.rbegin()->first;
    while (trainer->epochs_done() < reached) trainer->RunEpoch();
    *how = "resumed by replaying " + std::to_string(reached) + " epochs";
  } else {
    *how = "started";
  }
  return trainer;
}

void StudyRunner::RunTrial(size_t slot, hpo::Trial& trial, bool replay) {
  const size_t device_index = slot % devices_.size();
  const torch::Device device = devices_[device_index];
  const data::Dataset& data = data_by_device_.at(device.str());
  const std::string tag = "trial " + std::to_string(trial.number());

  std::shared_ptr<Session> session;
  {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    auto& entry = sessions_[trial.id()];
    if (!entry) entry = std::make_shared<Session>();
    entry->number = trial.number();
    session = entry;
  }
  std::unique_lock<std::mutex> hold(session->mu);  // waits for a pausing worker to let go
  auto forget = [&] {
    session->trainer.reset();
    // A checkpoint the trial never got back (Unpark threw before loading it) leaves the budget.
    checkpoint_bytes_ -= static_cast<int64_t>(session->checkpoint.size());
    std::string().swap(session->checkpoint);
    if (!session->spill_path.empty()) std::filesystem::remove(session->spill_path);
    std::lock_guard<std::mutex> lock(sessions_mu_);
    sessions_.erase(trial.id());
  };
  try {
    std::string how;
    session->trainer = Unpark(*session, trial, device, replay, &how);
    TrialTrainer& tt = *session->trainer;
    nlohmann::json start = {{"event", how == "started" ? "start_trial" : "resume_trial"},
                            {"trial", trial.number()},
                            {"epoch", tt.epochs_done()},
                            {"device", device.str()}};
    for (const auto& [k, v] : trial.ExternalParams()) start["params"][k] = ToJson(v);
    Log(tag + " " + how +
            (how == "started" ? ": " + ParamsText(trial.ExternalParams())
                              : " at epoch " + std::to_string(tt.epochs_done())) +
            " on " + device.str(),
        start.dump());
    while (true) {
      if (options_.before_epoch) options_.before_epoch(trial.number(), tt.epochs_done() + 1);
      EpochMetrics m = tt.RunEpoch();
      samples_trained_ += data.train_size();
      device_samples_[device_index] += data.train_size();
      const double value = m.Get(config_.metric);
      hpo::Decision decision = study_->Report(trial, m.epoch, value);
      const bool done = m.epoch >= config_.max_epochs;
      std::string what = done ? "complete" : hpo::ToString(decision);
      nlohmann::json j = {{"event", "epoch"},
                          {"trial", trial.number()},
                          {"epoch", m.epoch},
                          {config_.metric, value},
                          {"train_loss", m.train_loss},
                          {"val_loss", m.val_loss},
                          {"val_accuracy", m.val_accuracy},
                          {"seconds", m.seconds},
                          {"samples_per_s", m.samples_per_second},
                          {"decision", what}};
      Log(tag + " epoch " + std::to_string(m.epoch) + "/" + std::to_string(config_.max_epochs) +
              ": " + config_.metric + " " + Fmt(value) + ", train_loss " + Fmt(m.train_loss) +
              " (" + Fmt(m.seconds, 3) + " s, " +
              std::to_string(static_cast<int64_t>(m.samples_per_second)) + " samples/s) → " + what,
          j.dump());
      if (done) {
        study_->Tell(trial, value);
        forget();
        return;
      }
      if (decision == hpo::Decision::kStop) {
        study_->TellPruned(trial);
        forget();
        return;
      }
      if (decision == hpo::Decision::kPause) {
        Park(*session, trial.number());  // kept for a promotion
        return;
      }
      if (stop_) {
        // Interrupted between rungs: save the state to disk and leave the trial to the next run.
        WriteFileAtomically(CheckpointPath(trial.number()), tt.SaveState());
        study_->Suspend(trial);
        forget();
        Log(tag + " suspended at epoch " + std::to_string(m.epoch) + ": the next run resumes it",
            nlohmann::json{{"event", "suspended"}, {"trial", trial.number()}, {"epoch", m.epoch}}
                .dump());
        return;
      }
    }
  } catch (const c10::OutOfMemoryError& e) {
    forget();
#ifdef HPO_HAVE_CUDA
    if (device.is_cuda()) c10::cuda::CUDACachingAllocator::emptyCache();
#endif
    std::string reason = e.what();
    if (auto nl = reason.find('\n'); nl != std::string::npos) reason.resize(nl);
    if (!replay) {
      // Once: re-queue on a less loaded slot; it replays its reported epochs there.
      {
        std::lock_guard<std::mutex> lock(retry_mu_);
        retries_.push_back({trial, device});
      }
      Log(tag + " ran out of memory on " + device.str() + ": re-queued",
          nlohmann::json{
              {"event", "oom_requeue"}, {"trial", trial.number()}, {"device", device.str()}}
              .dump());
      return;
    }
    study_->TellFailed(trial, "out of memory twice: " + reason);
    Log(tag + " failed: out of memory twice",
        nlohmann::json{{"event", "failed"}, {"trial", trial.number()}, {"reason", reason}}.dump());
  } catch (const std::exception& e) {
    // A failing trial fails alone: record the reason, free its state, the slot goes on.
    std::string reason = e.what();
    if (auto nl = reason.find('\n'); nl != std::string::npos) reason.resize(nl);
    study_->TellFailed(trial, reason);
    forget();
    Log(tag + " failed: " + reason,
        nlohmann::json{{"event", "failed"}, {"trial", trial.number()}, {"reason", reason}}.dump());
  }
}

// On an interrupted run: paused trials' in-memory states go to disk so the next run resumes
// their promotions without replaying epochs.
void StudyRunner::SaveParkedToDisk() {
  std::lock_guard<std::mutex> lock(sessions_mu_);
  for (auto& [id, session] : sessions_) {
    std::lock_guard<std::mutex> hold(session->mu);
    if (session->checkpoint.empty()) continue;
    WriteFileAtomically(CheckpointPath(session->number), session->checkpoint);
  }
}

void StudyRunner::PrintTable(const std::vector<hpo::FrozenTrial>& trials) {
  std::vector<const hpo::FrozenTrial*> order;
  for (const auto& t : trials) order.push_back(&t);
  // Complete trials by value, then the rest by their last reported value.
  auto key = [&](const hpo::FrozenTrial* t) -> double {
    double v = t->value ? *t->value : t->last_intermediate().value_or(NAN);
    if (std::isnan(v)) return -INFINITY;
    return maximize_ ? v : -v;
  };
  std::stable_sort(order.begin(), order.end(), [&](auto* a, auto* b) {
    bool ca = a->state == hpo::TrialState::kComplete, cb = b->state == hpo::TrialState::kComplete;
    if (ca != cb) return ca;
    return key(a) > key(b);
  });
  auto best = study_->BestTrial();
  if (options_.json_log) {
    // JSON-lines output stays parseable: the final table is one "result" event.
    nlohmann::json j = {{"event", "result"}, {"metric", config_.metric}};
    j["trials"] = nlohmann::json::array();
    for (size_t i = 0; i < std::min<size_t>(order.size(), 20); ++i) {
      const auto* t = order[i];
      nlohmann::json row = {
          {"trial", t->number},
          {"state", hpo::ToString(t->state)},
          {"epochs", t->intermediate.empty() ? 0 : t->intermediate.rbegin()->first}};
      if (t->value) row["value"] = *t->value;
      for (const auto& [k, v] : config_.space.ToExternal(t->params)) row["params"][k] = ToJson(v);
      j["trials"].push_back(row);
    }
    if (best) {
      j["best"] = {{"trial", best->number}, {"value", *best->value}};
      for (const auto& [k, v] : config_.space.ToExternal(best->params))
        j["best"]["params"][k] = ToJson(v);
    }
    std::lock_guard<std::mutex> lock(log_mu_);
    out_ << j.dump() << "\n";
    out_.flush();
    return;
  }
  std::ostringstream s;
  s << "\n"
    << std::left << std::setw(7) << "trial" << std::setw(10) << "state" << std::setw(8) << "epochs"
    << std::setw(14) << config_.metric << "params\n";
  const size_t shown = std::min<size_t>(order.size(), 20);
  for (size_t i = 0; i < shown; ++i) {
    const auto* t = order[i];
    const std::map<std::string, hpo::Value> params = config_.space.ToExternal(t->params);
    double v = t->value ? *t->value : t->last_intermediate().value_or(NAN);
    s << std::setw(7) << t->number << std::setw(10) << hpo::ToString(t->state) << std::setw(8)
      << (t->intermediate.empty() ? 0 : t->intermediate.rbegin()->first) << std::setw(14)
      << (std::isnan(v) ? std::string("-") : Fmt(v)) << ParamsText(params)
      << (t->fail_reason.empty() ? "" : "  [" + t->fail_reason + "]") << "\n";
  }
  if (order.size() > shown) s << "(" << order.size() - shown << " more in trials.csv)\n";
  if (best) {
    s << "\nbest trial " << best->number << ": " << config_.metric << " = " << Fmt(*best->value)
      << "\n";
    for (const auto& [k, v] : config_.space.ToExternal(best->params))
      s << "  " << k << ": " << hpo::ValueToString(v) << "\n";
  } else {
    s << "\nno trial completed\n";
  }
  std::lock_guard<std::mutex> lock(log_mu_);
  out_ << s.str();
  out_.flush();
}

void StudyRunner::WriteOutputs(const std::vector<hpo::FrozenTrial>& trials) {
  namespace fs = std::filesystem;
  const fs::path dir = OutputDir();
  fs::create_directories(dir);
  std::vector<std::string> names;
  for (const auto& p : config_.space.params()) names.push_back(p.name);
  {
    std::ofstream csv(dir / "trials.csv");
    csv << "number,state,epochs,value,last_value";
    for (const auto& n : names) csv << "," << n;
    csv << ",fail_reason\n";
    for (const auto& t : trials) {
      csv << t.number << "," << hpo::ToString(t.state) << ","
          << (t.intermediate.empty() ? 0 : t.intermediate.rbegin()->first) << ","
          << (t.value ? Fmt(*t.value, 8) : "") << ","
          << (t.last_intermediate() ? Fmt(*t.last_intermediate(), 8) : "");
      const std::map<std::string, hpo::Value> params = config_.space.ToExternal(t.params);
      for (const auto& n : names) {
        auto it = params.find(n);
        csv << "," << (it != params.end() ? hpo::ValueToString(it->second) : "");
      }
      std::string reason = t.fail_reason;
      std::replace(reason.begin(), reason.end(), '"', '\'');
      csv << ",\"" << reason << "\"\n";
    }
  }
  auto best = study_->BestTrial();
  if (best) {
    std::ofstream y(dir / "best.yaml");
    y << "# best trial " << best->number << " of study " << config_.name << ": " << config_.metric
      << " = " << Fmt(*best->value, 8) << "\n";
    for (const auto& [k, v] : config_.space.ToExternal(best->params))
      y << k << ": " << hpo::ValueToString(v) << "\n";
  }
  Log("wrote " + (dir / "trials.csv").string() +
          (best ? " and " + (dir / "best.yaml").string() : ""),
      nlohmann::json{{"event", "outputs"}, {"dir", dir.string()}}.dump());
}

}  // namespace trainer
