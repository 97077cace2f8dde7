// Helpers shared by the tests: scratch directories and files.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

namespace hpo::testing {

// A fresh empty directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// The message of the `Error` that fn() throws; "" when it throws none (another exception type
// propagates and fails the test).
template <typename Error>
std::string ErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Writes `contents` to `path` (binary), creating parent directories.
void WriteFile(const std::string& path, const std::string& contents);
std::string ReadFile(const std::string& path);

// Runs body(c) for c = 0 .. n-1, each in a forked child process, and waits for them all; each
// child must exit 0 (a body that throws prints the error and exits 2). Open no SQLite connection
// before calling it: connections must not cross fork().
void RunInChildren(int n, const std::function<void(int)>& body);

}  // namespace hpo::testing
