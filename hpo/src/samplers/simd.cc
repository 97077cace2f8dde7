#include "samplers/simd.h"

#include <algorithm>
#include <atomic>

namespace hpo::simd {
namespace {

std::atomic<Isa> cap{Isa::kAvx512};

Isa MachineIsa() {
#if HPO_SIMD_X86
  if (__builtin_cpu_supports("x86-64-v4")) return Isa::kAvx512;
  if (__builtin_cpu_supports("x86-64-v3")) return Isa::kAvx2;
#endif
  return Isa::kBaseline;
}

}  // namespace

Isa ActiveIsa() {
  static const Isa machine = MachineIsa();
  return std::min(machine, cap.load(std::memory_order_relaxed));
}

Isa LimitIsa(Isa new_cap) { return cap.exchange(new_cap); }

}  // namespace hpo::simd
