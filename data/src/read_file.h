// Reading a whole input file into memory, with data/'s one-line error messages. Private to
// data/src (csv.cc and idx.cc read their files through it).
#pragma once

#include <string>

namespace data::internal {

// What to tell the user when a file cannot be read: the fix for a path that names a directory
// and for a path that does not exist. Other failures (permissions, I/O errors) get a generic
// fix.
struct ReadFixes {
  std::string directory;
  std::string missing;
};

// The bytes of the file at `path`. Throws DataError with one line naming the path, the problem
// and the fix:
//   "cannot read <path>: it is a directory; <fixes.directory>"
//   "cannot open <path>: No such file or directory; <fixes.missing>"
//   "cannot open <path>: <strerror>; check the path and its permissions"
//   "cannot read <path>: <strerror>; check the disk and the file"
// Thread safety: no shared state.
std::string ReadWholeFile(const std::string& path, const ReadFixes& fixes);

}  // namespace data::internal
