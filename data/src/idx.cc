#include "data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <sstream>

#include "read_file.h"

namespace data {
namespace {

constexpr const char* kExpectedFiles =
    "expected Fashion-MNIST/MNIST files such as train-images-idx3-ubyte.gz";
constexpr const char* kRedownload = "download the file again";
constexpr int64_t kMaxElements = int64_t{1} << 40;  // far beyond any real IDX file

[[noreturn]] void Fail(const std::string& source, const std::string& problem,
                       const std::string& fix) {
  throw DataError(source + ": " + problem + "; " + fix);
}

std::string Hex(uint64_t value, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%0*llx", digits, static_cast<unsigned long long>(value));
  return buf;
}

bool IsGzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<uint8_t>(bytes[0]) == 0x1f &&
         static_cast<uint8_t>(bytes[1]) == 0x8b;
}

// Inflates one or more concatenated gzip members. Anything after the last member that is not a
// gzip member is an error, as is a stream that ends early or fails its CRC.
std::string Gunzip(std::string_view in, const std::string& source) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    Fail(source, "cannot initialise zlib", "this is out of memory or a broken zlib install");
  }
  std::unique_ptr<z_stream, int (*)(z_streamp)> guard(&zs, inflateEnd);

  // The gzip trailer holds the uncompressed size mod 2^32: a good first guess for one member.
  size_t guess = in.size() * 2;
  if (in.size() >= 18) {
    const auto* t = reinterpret_cast<const uint8_t*>(in.data() + in.size() - 4);
    size_t isize = t[0] | (t[1] << 8) | (t[2] << 16) | (static_cast<size_t>(t[3]) << 24);
    // +1: no regrowth just to see the end. Capped by deflate's best ratio (~1032:1) in case
    // the trailer is garbage.
    guess = std::max(guess, std::min(isize + 1, in.size() * 1032));
  }
  std::string out(std::max<size_t>(guess, 4096), '\0');

  constexpr size_t kChunk = size_t{1} << 30;  // avail_in/avail_out are 32-bit
  const auto* next_in = reinterpret_cast<const Bytef*>(in.data());
  const auto* end_in = next_in + in.size();
  size_t produced = 0;
  for (;;) {
    if (produced == out.size()) out.resize(out.size() * 2);
    if (zs.avail_in == 0) {
      size_t n = std::min<size_t>(end_in - next_in, kChunk);
      zs.next_in = const_cast<Bytef*>(next_in);
      zs.avail_in = static_cast<uInt>(n);
      next_in += n;
    }
    size_t room = std::min(out.size() - produced, kChunk);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(room);
    int rc = inflate(&zs, Z_NO_FLUSH);
    produced += room - zs.avail_out;
    if (rc == Z_STREAM_END) {
      size_t rest = zs.avail_in + static_cast<size_t>(end_in - next_in);
      if (rest == 0) break;
      // Chunks are consecutive slices of `in`, so the unread input starts at zs.next_in.
      std::string_view tail(reinterpret_cast<const char*>(zs.next_in), rest);
      if (!IsGzip(tail)) {
        Fail(source,
             "trailing garbage: " + std::to_string(rest) + " bytes after the end of the gzip data",
             kRedownload);
      }
      inflateReset(&zs);  // next member; unconsumed input stays in zs.next_in/avail_in
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR) {  // there was output room, so the input ran out
      Fail(source, "truncated gzip data: the compressed stream ends before its end marker",
           kRedownload);
    }
    if (rc == Z_MEM_ERROR) Fail(source, "out of memory while decompressing", "free some memory");
    Fail(source,
         std::string("corrupt gzip data (") + (zs.msg != nullptr ? zs.msg : "unknown zlib error") +
             ")",
         kRedownload);
  }
  out.resize(produced);
  return out;
}

std::string TypeName(uint8_t code) {
  switch (code) {
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "";
  }
}

IdxArray DecodeRaw(std::string_view b, const std::string& source) {
  const auto* u = reinterpret_cast<const uint8_t*>(b.data());
  if (b.size() < 4) {
    Fail(source, "not an IDX file (only " + std::to_string(b.size()) + " bytes)", kExpectedFiles);
  }
  uint32_t magic = (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
  if (u[0] != 0 || u[1] != 0) {
    Fail(source, "not an IDX file (bad magic " + Hex(magic, 8) + ")", kExpectedFiles);
  }
  uint8_t type = u[2];
  if (type != 0x08) {
    std::string name = TypeName(type);
    if (name.empty()) {
      Fail(source, "not an IDX file (unknown element type code " + Hex(type, 2) + ")",
           kExpectedFiles);
    }
    Fail(source, "unsupported IDX element type " + Hex(type, 2) + " (" + name + ")",
         "only unsigned byte (0x08) data is supported, as in MNIST/Fashion-MNIST");
  }
  int ndim = u[3];
  if (ndim < 1 || ndim > 4) {
    Fail(source, "unsupported IDX rank " + std::to_string(ndim) + " (expected 1 to 4 dimensions)",
         "the file is corrupt or not MNIST-style data; " + std::string(kRedownload));
  }
  size_t header = 4 + 4 * static_cast<size_t>(ndim);
  if (b.size() < header) {
    Fail(source,
         "truncated: the header needs " + std::to_string(header) + " bytes, found " +
             std::to_string(b.size()),
         kRedownload);
  }
  IdxArray out;
  int64_t count = 1;
  for (int d = 0; d < ndim; ++d) {
    const uint8_t* p = u + 4 + 4 * d;
    int64_t dim = (int64_t{p[0]} << 24) | (int64_t{p[1]} << 16) | (int64_t{p[2]} << 8) | p[3];
    out.dims.push_back(dim);
    if (dim != 0 && count > kMaxElements / dim) {
      Fail(source, "implausible IDX dimensions (more than 2^40 elements)",
           "the file is corrupt; " + std::string(kRedownload));
    }
    count *= dim;
  }
  auto found = static_cast<int64_t>(b.size() - header);
  if (found < count) {
    Fail(source,
         "truncated: expected " + std::to_string(count) + " bytes of data, found " +
             std::to_string(found),
         kRedownload);
  }
  if (found > count) {
    std::ostringstream dims;
    for (size_t i = 0; i < out.dims.size(); ++i) dims << (i ? "x" : "") << out.dims[i];
    Fail(source,
         "trailing garbage: " + std::to_string(found - count) + " bytes after the " +
             std::to_string(count) + " bytes of data that dims " + dims.str() + " call for",
         "the file is corrupt or its header is wrong; " + std::string(kRedownload));
  }
  out.data.assign(u + header, u + header + count);
  return out;
}

}  // namespace

IdxArray ParseIdx(std::string_view bytes, const std::string& source) {
  if (IsGzip(bytes)) {
    std::string raw = Gunzip(bytes, source);
    return DecodeRaw(raw, source);
  }
  return DecodeRaw(bytes, source);
}

IdxArray ReadIdx(const std::string& path) {
  const std::string bytes = internal::ReadWholeFile(
      path, {/*directory=*/"name an IDX file such as " + path + "/train-images-idx3-ubyte.gz",
             /*missing=*/"set data.path to the folder holding train-images-idx3-ubyte(.gz)"});
  return ParseIdx(bytes, path);
}

std::string FindIdxFile(const std::string& folder, const std::string& stem) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path raw = fs::path(folder) / stem;
  if (fs::is_regular_file(raw, ec)) return raw.string();
  fs::path gz = fs::path(folder) / (stem + ".gz");
  if (fs::is_regular_file(gz, ec)) return gz.string();
  throw DataError("cannot open " + raw.string() + "(.gz): No such file or directory; set " +
                  "data.path to the folder holding " + stem + "(.gz)");
}

}  // namespace data
