// StudyRunner: runs a whole study in this process. It owns the device pool (slots = devices ×
// trials_per_device, one worker thread each), one copy of the dataset per device shared by
// every trial on it, the hpo::Study (storage, sampler, scheduler), and the paused trials'
// training state (so that ASHA promotions resume exactly where the trial paused).
//
// Lifecycle: construct → Prepare() (validates devices, loads data: throws InputError / DataError
// before anything is written) → Run() (opens or resumes the study, trains to the end, writes
// best.yaml and trials.csv, prints the final table).
//
// Thread safety: Run() is called once from one thread; it starts and joins its workers.
// RequestStop() may be called from a signal-handling thread.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "hpo/config.h"
#include "hpo/study.h"

namespace trainer {

// Bad input found while preparing a run (devices, metric, data options): exit code 2.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RunOptions {
  std::string storage;               // overrides study.storage when non-empty
  std::vector<std::string> devices;  // overrides resources.devices when non-empty
  int64_t trials_per_device = 0;     // overrides resources.trials_per_device when > 0
  std::string output_dir;            // best.yaml, trials.csv; default "runs/<study>"
  bool quiet = false;                // only the final table
  bool json_log = false;             // progress as JSON lines
  bool extend = false;               // reopen a study whose stored definition differs
  double summary_interval_s = 15;    // periodic summary line
  // Called on the worker thread before each epoch of each trial (trial number, 1-based epoch).
  // An exception thrown here fails that trial alone, as any exception inside a trial does
  // (fault injection in tests, user-side watchdogs).
  std::function<void(int64_t trial_number, int64_t epoch)> before_epoch;
};

struct RunResult {
  int64_t complete = 0, pruned = 0, failed = 0;
  int64_t spilled = 0;  // paused states written to disk because of the memory budget
  std::optional<hpo::FrozenTrial> best;
  double seconds = 0;
  bool interrupted = false;  // stopped by RequestStop()
};

class StudyRunner {
 public:
  StudyRunner(hpo::StudyConfig config, RunOptions options, std::ostream& out);
  ~StudyRunner();

  void Prepare();
  RunResult Run();
  // Stops handing out work; running trials stop after their current epoch, are checkpointed
  // to disk and suspended (hpo::Study::Suspend), so the next run of the study resumes them.
  void RequestStop() { stop_ = true; }

  const std::vector<torch::Device>& devices() const { return devices_; }
  int64_t slot_count() const;

 private:
  struct Session;
  void Worker(size_t slot);
  void RunTrial(size_t slot, hpo::Trial& trial, bool replay);
  std::optional<hpo::Trial> TakeRetry(torch::Device device);
  bool HasRetries();
  void Park(Session& session, int64_t trial_number);
  std::unique_ptr<class TrialTrainer> Unpark(Session& session, const hpo::Trial& trial,
                                             torch::Device device, bool replay, std::string* how);
  void SaveParkedToDisk();
  std::string OutputDir() const;
  std::string CheckpointPath(int64_t trial_number) const;
  void Log(const std::string& text, const std::string& json);
  void Summary(bool force);
  void WriteOutputs(const std::vector<hpo::FrozenTrial>& trials);
  void PrintTable(const std::vector<hpo::FrozenTrial>& trials);

  hpo::StudyConfig config_;
  RunOptions options_;
  std::ostream& out_;
  std::vector<torch::Device> devices_;
  int64_t trials_per_device_ = 1;
  std::map<std::string, data::Dataset> data_by_device_;  // one copy per device
  std::unique_ptr<hpo::Study> study_;
  std::mutex sessions_mu_;
  std::map<int64_t, std::shared_ptr<Session>> sessions_;  // trials started in this process
  std::mutex log_mu_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> samples_trained_{0};
  std::deque<std::atomic<int64_t>> device_samples_;  // by index in devices_
  struct Retry {
    hpo::Trial trial;
    torch::Device from;
  };
  std::mutex retry_mu_;
  std::deque<Retry> retries_;  // trials that ran out of memory once, waiting for another slot
  std::atomic<int64_t> checkpoint_bytes_{0};  // paused trials' states held in memory
  int64_t checkpoint_budget_bytes_ = 0;
  std::atomic<int64_t> spilled_{0};
  double start_time_ = 0;
  double last_summary_ = 0;
  bool maximize_ = true;
};

}  // namespace trainer
