/* gemm.c — matrix kernels (plain version; see gemm.h for the contract). */
#include "gemm.h"
#include <string.h>

void gemm_reference(int ta, int tb, int M, int N, int K, const float *A, int lda,
                    const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++) {
                float a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = beta != 0.0f ? *c + s : s;
        }
    }
}

void gemm(int ta, int tb, int M, int N, int K, const float *A, int lda,
          const float *B, int ldb, float beta, float *C, int ldc) {
    gemm_reference(ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
}

size_t gemm_packed_size(int K, int N) { return (size_t)K * N; }

void gemm_pack_b(int tb, int K, int N, const float *B, int ldb, float *packed) {
    for (int k = 0; k < K; k++)
        for (int j = 0; j < N; j++)
            packed[(size_t)k * N + j] = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
}

void gemm_packed(int M, int N, int K, const float *A, int lda,
                 const float *packed, float beta, float *C, int ldc) {
    gemm_reference(0, 0, M, N, K, A, lda, packed, N, beta, C, ldc);
}
