// Invariant checks that survive release builds and name the failing place.
//
// HPO_CHECK(cond) << "context";  throws hpo::InternalError("file:line: check failed: cond context")
// Use for programming errors (broken invariants), not for bad user input: user input errors
// are reported with hpo::ConfigError / std::invalid_argument carrying a user-facing message.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace hpo {

// Thrown when an internal invariant does not hold.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail {
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* expr) {
    stream_ << file << ":" << line << ": check failed: " << expr;
  }
  template <typename T>
  CheckFailure& operator<<(const T& v) {
    stream_ << " " << v;
    return *this;
  }
  [[noreturn]] ~CheckFailure() noexcept(false) { throw InternalError(stream_.str()); }

 private:
  std::ostringstream stream_;
};
}  // namespace detail

}  // namespace hpo

#define HPO_CHECK(cond) \
  if (cond) {           \
  } else                \
    ::hpo::detail::CheckFailure(__FILE__, __LINE__, #cond)
