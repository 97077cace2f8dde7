#include "hpo/storage.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "storage/storage_common.h"

namespace hpo {

namespace storage_internal {
namespace {

// A window of `s` around byte `pos`, so that long JSON differences stay readable.
std::string Excerpt(const std::string& s, size_t pos) {
  constexpr size_t kBefore = 30, kAfter = 60;
  size_t begin = pos > kBefore ? pos - kBefore : 0;
  std::string out = begin > 0 ? "..." : "";
  out += s.substr(begin, kBefore + kAfter);
  if (begin + kBefore + kAfter < s.size()) out += "...";
  return out;
}

}  // namespace

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool CheckStudyIdentity(const std::string& where, const StudyDefinition& stored,
                        const StudyDefinition& requested, bool allow_extend) {
  std::string diffs;
  auto add = [&diffs](const std::string& d) { diffs += (diffs.empty() ? "" : "; ") + d; };
  if (stored.direction != requested.direction) {
    add(std::string("direction: stored '") + ToString(stored.direction) + "', requested '" +
        ToString(requested.direction) + "'");
  }
  if (stored.space_json != requested.space_json) {
    size_t pos = std::mismatch(stored.space_json.begin(), stored.space_json.end(),
                               requested.space_json.begin(), requested.space_json.end())
                     .first -
                 stored.space_json.begin();
    add("search space: stored '" + Excerpt(stored.space_json, pos) + "', requested '" +
        Excerpt(requested.space_json, pos) + "'");
  }
  if (stored.sampler != requested.sampler) {
    add("sampler: stored '" + stored.sampler + "', requested '" + requested.sampler + "'");
  }
  if (diffs.empty()) return false;
  if (!allow_extend) {
    throw StorageError("study '" + requested.name + "' in " + where +
                       " was created with a different definition (" + diffs +
                       "); pass allow_extend (--extend) to continue with the new definition, or "
                       "choose another study name");
  }
  return true;
}

bool StudyRecordDiffers(const StudyDefinition& stored, const StudyDefinition& requested) {
  return stored.metric != requested.metric || stored.scheduler != requested.scheduler ||
         stored.config != requested.config;
}

void CheckInitialState(TrialState state) {
  if (state != TrialState::kQueued && state != TrialState::kRunning) {
    throw std::invalid_argument(std::string("a new trial must be queued or running, not ") +
                                ToString(state));
  }
}

}  // namespace storage_internal

std::unique_ptr<Storage> Storage::Open(const std::string& url) {
  if (url == "memory") return MakeInMemoryStorage();
  constexpr std::string_view kScheme = "sqlite:";
  if (url.starts_with(kScheme)) {
    std::string path = url.substr(kScheme.size());
    if (path.starts_with("//")) path = path.substr(2);  // sqlite:///abs/path, as in SQLAlchemy
    if (path.empty())
      throw StorageError("storage URL '" + url + "' names no file: use sqlite:PATH");
    return MakeSqliteStorage(path);
  }
  std::string ext = std::filesystem::path(url).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (ext == ".db" || ext == ".sqlite" || ext == ".sqlite3") return MakeSqliteStorage(url);
  throw StorageError("unknown storage URL '" + url +
                     "'; accepted forms: \"memory\", \"sqlite:PATH\", or a file path ending in "
                     ".db, .sqlite or .sqlite3");
}

}  // namespace hpo
