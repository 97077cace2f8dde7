// Batched GP posterior for the acquisition step of the GP sampler: the posterior mean and the
// quadratic form k(x)' C^-1 k(x) at kBatchBlock candidate points per call, from the training
// points, the Matérn-5/2 ARD kernel (gp_model.h) and the Cholesky factor L of C.
//
// Scoring the random candidates is the largest cost of an ask (for n training points, n^2 / 2
// multiply-adds per candidate). This kernel works on a block of candidates at once, with a
// register-blocked forward substitution and an exp that vectorises, instead of Eigen's
// triangular solve: on x86-64 with GCC it is compiled for AVX-512, for AVX2 + FMA and for the
// baseline, and the loader picks the variant for the machine (target_clones); elsewhere only the
// baseline is built. The variants round differently in the last bits, so results are reproducible
// on one machine, not across machines with different instruction sets.
//
// Thread safety: a pure function of its arguments.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace hpo::gp {

// An allocator of memory aligned to 64 bytes (a cache line, one AVX-512 vector), so that the
// kernels' whole-vector loads do not straddle lines: malloc aligns to 16 bytes only (and large
// blocks sit 16 bytes past a page), which cost a quarter of PosteriorPoint's time.
template <class T>
struct CacheAlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};
  CacheAlignedAllocator() = default;
  template <class U>
  CacheAlignedAllocator(const CacheAlignedAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlignment)); }
  void deallocate(T* p, size_t) { ::operator delete(p, kAlignment); }
  template <class U>
  bool operator==(const CacheAlignedAllocator<U>&) const {
    return true;
  }
};
// The buffers the kernels below read with whole-vector loads.
using AlignedDoubles = std::vector<double, CacheAlignedAllocator<double>>;

// Candidates per PosteriorBlock call, and the multiple to which the training points are padded.
constexpr int kBatchBlock = 16;
constexpr int kBatchRowPad = 8;

// The model, in the padded layout the kernel reads. Padding points (from n up to n_padded) must
// have finite coordinates, alpha 0, zero rows and columns in chol and inv_diag 1.
struct BatchModel {
  int dims = 0;
  int n = 0;                             // training points (observed and pending)
  int n_padded = 0;                      // n rounded up to a multiple of kBatchRowPad
  const double* train = nullptr;         // dims x n_padded: train[d * n_padded + l]
  const char* is_categorical = nullptr;  // dims
  const double* lambda = nullptr;        // dims, inverse squared lengthscales
  double kernel_scale = 1.0;
  const double* alpha = nullptr;     // n_padded: C^-1 y (0 for pending and padding points)
  const double* chol = nullptr;      // n_padded x n_padded, row-major: L, lower triangular
  const double* chol_t = nullptr;    // the same for L' (upper triangular); set when cinv is not
  const double* cinv = nullptr;      // C^-1 packed (PackSymmetric) or null; PosteriorPoint only
  const double* inv_diag = nullptr;  // n_padded: 1 / L_ii
};

// For the kBatchBlock candidates in `cand` (dims x kBatchBlock: cand[d * kBatchBlock + c]),
// writes the posterior mean k' alpha to mean[c] and k' C^-1 k = |L^-1 k|^2 to quad[c] (the
// posterior variance is kernel_scale - quad). `scratch` holds n_padded * kBatchBlock doubles;
// on return it holds L^-1 k, one row of kBatchBlock per training point.
void PosteriorBlock(const BatchModel& model, const double* cand, double* scratch, double* mean,
                    double* quad);

// The posterior mean and variance at one point x (size dims), and with dmean and dvar (size
// dims; both or neither) their gradients with respect to x (0 for categorical dimensions), for
// the acquisition's local search: kernel values vectorised over the training points, then
// C^-1 k when the model has C^-1 (packed, PackSymmetric) by blocks of 8 rows, each entry of its
// lower part read once for both products it enters (cheaper per point, but C^-1 costs n^3 / 3
// to form), else L^-1 k and L^-T L^-1 k by substitution along rows of L and L'. `work` holds
// 3 * n_padded doubles.
void PosteriorPoint(const BatchModel& model, const double* x, double* work, double* mean,
                    double* var, double* dmean, double* dvar);

// A symmetric n x n matrix in the layout PosteriorPoint reads C^-1 in: n rounded up to 8 rows,
// in blocks of 8; row i holds entries 0 .. (i / 8) * 8 + 7 (the lower triangle with the whole
// 8 x 8 diagonal blocks), the rows of block I = i / 8 each 8 (I + 1) long after the 64 I (I + 1)
// / 2 entries of the blocks before; zero in rows and columns from n on. About half the square,
// so half the memory traffic per prediction (and up to n of about 100, it fits a 48 KiB L1).
size_t PackedSymmetricSize(int n);
// Packs the matrix whose lower triangle (with the diagonal) is in `lower` (row-major, row stride
// `stride`; entries above the diagonal are not read) into `packed` (PackedSymmetricSize(n)).
void PackSymmetric(int n, const double* lower, int stride, double* packed);

// From the lower Cholesky factor L of an n x n matrix C (row-major with row stride `stride`, a
// multiple of 8, zero above the diagonal; 1 / L_ii in inv_diag), writes the n x n C^-1 to cinv
// (same layout; zero in columns n .. Pad8(n) - 1 of its rows, the rest of the buffer untouched),
// using `work` (n rows of `stride`) for X = L^-1: X by forward substitution for eight columns of
// the identity at a time, then C^-1 = X' X by rank-1 updates of blocks of 8, both vectorised
// along rows (no dot products).
void InverseFromCholesky(int n, int stride, const double* chol, const double* inv_diag,
                         double* work, double* cinv);

// The lower Cholesky factor of C = K + diagonal I for the n points x (dims x stride, d-major:
// x[d * stride + i], finite up to the stride) under the Matérn-5/2 ARD kernel into chol
// (row-major, `stride` a multiple of 8 and at least n; zero beyond the diagonal) with 1 / L_ii
// in inv_diag: C's lower triangle into chol, then L in place, right-looking by panels of 8
// columns (the trailing updates vectorised along rows); `panel` holds 8 * stride doubles of
// scratch. Returns false when C is not numerically positive definite or not finite.
bool KernelCholesky(int n, int stride, int dims, const double* x, const char* is_categorical,
                    const double* lambda, double kernel_scale, double diagonal, double* panel,
                    double* chol, double* inv_diag);

// The log marginal likelihood of gp_model.h (Matérn-5/2 ARD kernel with scale `kernel_scale`,
// noise `noise_var`) of targets y at the n points x (dims x n: x[d * n + i]), and with
// `grad_raw` (dims + 2 entries) its gradient with respect to the raw parameters
// [log lambda_d, log kernel_scale, log(noise_var - min_noise_var)]. Returns -inf when the
// covariance is not numerically positive definite or anything is not finite. Kernel matrix by
// rows, then the Cholesky factor, L^-1 and C^-1 as in KernelCholesky and InverseFromCholesky
// (vectorised, and multiversioned like PosteriorBlock). `work` holds LmlWorkSize(n, dims)
// doubles.
size_t LmlWorkSize(int n, int dims);
double LogMarginalLikelihoodKernel(int n, int dims, const double* x, const char* is_categorical,
                                   const double* y, const double* lambda, double kernel_scale,
                                   double noise_var, double min_noise_var, double* work,
                                   double* grad_raw);

// What `work` holds after a LogMarginalLikelihoodKernel call over n points that returned a finite
// value with grad_raw: the factors of its C (rows of `stride`, a multiple of 8 and at least n,
// row-major, zero above the diagonal and beyond n), which a posterior over the same points and
// kernel parameters can take instead of factorising C again.
struct LmlFactorsView {
  int stride = 0;
  const double* chol = nullptr;      // L, lower triangular
  const double* cinv = nullptr;      // C^-1's lower triangle (entries above it unspecified)
  const double* inv_diag = nullptr;  // 1 / L_ii (n entries)
  const double* alpha = nullptr;     // C^-1 y (n entries)
};
LmlFactorsView LmlFactors(int n, const double* work);

}  // namespace hpo::gp
