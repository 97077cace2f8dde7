#include "read_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "data/idx.h"  // DataError

namespace data::internal {

std::string ReadWholeFile(const std::string& path, const ReadFixes& fixes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw DataError("cannot read " + path + ": it is a directory; " + fixes.directory);
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) {
    const int err = errno;
    throw DataError("cannot open " + path + ": " + std::strerror(err) + "; " +
                    (err == ENOENT ? fixes.missing : "check the path and its permissions"));
  }
  std::string bytes;
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec) bytes.reserve(size);
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f.get())) > 0) bytes.append(buf, n);
  if (std::ferror(f.get()))
    throw DataError("cannot read " + path + ": " + std::strerror(errno) +
                    "; check the disk and the file");
  return bytes;
}

}  // namespace data::internal
