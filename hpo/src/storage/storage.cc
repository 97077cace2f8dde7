#include "hpo/storage.h"

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

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

std::string FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// Field 22 of /proc/<pid>/stat (start time in clock ticks after boot); "" when unreadable or
// when the process has exited (a zombie not yet reaped counts as gone).
std::string ProcessStartTicks(long pid) {
  const std::string stat = FirstLine("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos) return "";
  std::istringstream rest(stat.substr(paren + 1));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 3 && (field == "Z" || field == "X")) return "";
    if (i == 22) return field;
  }
  return "";
}

// "host|boot id|pid|start ticks" of this process (computed per call: fork changes the pid).
std::string ProcessPart() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  const long pid = static_cast<long>(getpid());
  return std::string(host) + "|" + FirstLine("/proc/sys/kernel/random/boot_id") + "|" +
         std::to_string(pid) + "|" + ProcessStartTicks(pid);
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t pos; (pos = s.find(sep, start)) != std::string::npos; start = pos + 1)
    parts.push_back(s.substr(start, pos - start));
  parts.push_back(s.substr(start));
  return parts;
}

std::mutex registry_mu;
std::set<std::string>& OpenConnections() {
  static auto* open = new std::set<std::string>();  // never destroyed: used from destructors
  return *open;
}

}  // namespace

OwnerToken::OwnerToken() {
  static std::atomic<uint64_t> next{0};
  token_ = ProcessPart() + "|" + std::to_string(next++);
  std::lock_guard<std::mutex> lock(registry_mu);
  OpenConnections().insert(token_);
}

OwnerToken::~OwnerToken() {
  std::lock_guard<std::mutex> lock(registry_mu);
  OpenConnections().erase(token_);
}

bool OwnerAlive(const std::string& owner, const OwnerToken& self) {
  if (owner.empty() || owner == self.str()) return false;
  const std::vector<std::string> o = Split(owner, '|');
  const std::vector<std::string> me = Split(self.str(), '|');
  if (o.size() != 5 || me.size() != 5) return false;
  if (o[0] != me[0] || o[1] != me[1] || o[1].empty()) return false;  // another host or boot
  if (o[2] == me[2] && o[3] == me[3]) {  // this process: is that connection still open?
    std::lock_guard<std::mutex> lock(registry_mu);
    return OpenConnections().count(owner) > 0;
  }
  long pid = 0;
  try {
    size_t used = 0;
    pid = std::stol(o[2], &used);
    if (used != o[2].size() || pid <= 0) return false;
  } catch (const std::exception&) {
    return false;
  }
  if (kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM) return false;
  // The pid may have been reused since: the start time tells.
  return !o[3].empty() && ProcessStartTicks(pid) == o[3];
}

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
