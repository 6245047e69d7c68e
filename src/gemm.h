/* gemm.h — the matrix kernels the engine is built on.
 *
 * All matrices are row-major floats. op(A) is A or A^T, op(B) likewise:
 *   C[M,N] = beta * C + op(A)[M,K] * op(B)[K,N]
 * where op(A) = A (M x K, leading dimension lda) when ta == 0, or A^T with A
 * stored K x M when ta == 1; the same for B (K x N, or N x K when tb == 1).
 * beta is 0 (C is overwritten, its old contents may be NaN) or 1 (accumulate).
 * No function here allocates; none keeps a pointer after returning.
 * gemm, gemm_shared_a and gemm_packed share big products among the threads of
 * pool.h; the bits are the same for any thread count.
 */
#ifndef RNNLAB_GEMM_H
#define RNNLAB_GEMM_H

#include <stddef.h>

/* Floats of one thread's packing buffers (pool.h gives each worker its own). */
#define GEMM_WORKSPACE_FLOATS (64 * 256 + 256 * 512)

void gemm(int ta, int tb, int M, int N, int K, const float *A, int lda,
          const float *B, int ldb, float beta, float *C, int ldc);

/* Two products with one left factor, C1 (+)= op(A) B1 and C2 (+)= op(A) B2
 * (B1 is K x N1, B2 is K x N2, both row-major): each block of op(A) is packed
 * once for both. The same bits as the two gemm calls. */
void gemm_shared_a(int ta, int M, int K, const float *A, int lda,
                   int N1, const float *B1, int ldb1, float *C1, int ldc1,
                   int N2, const float *B2, int ldb2, float *C2, int ldc2, float beta);

/* Plain triple loop, the reference the fast kernels are tested against. */
void gemm_reference(int ta, int tb, int M, int N, int K, const float *A, int lda,
                    const float *B, int ldb, float beta, float *C, int ldc);

/* A right-hand matrix packed once and multiplied many times (the recurrent
 * weights inside the time loop). gemm_packed_size gives the floats needed. */
size_t gemm_packed_size(int K, int N);
void gemm_pack_b(int tb, int K, int N, const float *B, int ldb, float *packed);
void gemm_packed(int M, int N, int K, const float *A, int lda,
                 const float *packed, float beta, float *C, int ldc);

#endif
