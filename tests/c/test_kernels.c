/* test_kernels.c — the fast matrix and elementwise kernels against the plain
 * reference and double precision. Prints one line per failure and ends with
 * "P passed, F failed"; exits nonzero on any failure.
 *
 *   gcc -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -Isrc \
 *       tests/c/test_kernels.c src/gemm.c src/pool.c src/vmath.c -lm && ./a.out
 *   NODE_PATH=/usr/share/nodejs emcc -O3 -msimd128 -sSINGLE_FILE -Isrc \
 *       tests/c/test_kernels.c src/gemm.c src/pool.c src/vmath.c -o /tmp/tk.js && node /tmp/tk.js
 *
 * `--exhaustive` adds the accuracy check over every float (about a minute).
 *
 * Buffers are allocated to the exact extent a view needs, so reading or
 * writing past a matrix shows up under AddressSanitizer.
 */
#include "gemm.h"
#include "pool.h"
#include "vmath.h"
#include "check.h"
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

static uint32_t rng_state = 2463534242u;
static uint32_t rng_next(void) { /* xorshift32 */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}
static float rng_uniform(float lo, float hi) {
    return lo + (hi - lo) * (float)((rng_next() >> 8) * (1.0 / 16777216.0));
}
static int rng_int(int lo, int hi) { return lo + (int)(rng_next() % (uint32_t)(hi - lo + 1)); }

static uint32_t float_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}
static float bits_float(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* A rows x cols view with leading dimension ld, allocated to its exact
 * extent ((rows - 1) * ld + cols floats) and filled with values in [-1, 1]. */
static float *alloc_view(int rows, int cols, int ld) {
    size_t n = rows > 0 && cols > 0 ? (size_t)(rows - 1) * ld + cols : 1;
    float *p = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = rng_uniform(-1.0f, 1.0f);
    return p;
}
static size_t view_extent(int rows, int cols, int ld) {
    return rows > 0 && cols > 0 ? (size_t)(rows - 1) * ld + cols : 1;
}
static float *copy_floats(const float *p, size_t n) {
    float *q = malloc(n * sizeof(float));
    memcpy(q, p, n * sizeof(float));
    return q;
}

typedef struct {
    int ta, tb, M, N, K, lda, ldb, ldc;
    float beta;
} gemm_case;

static float op_a(const gemm_case *g, const float *A, int i, int k) {
    return g->ta ? A[(size_t)k * g->lda + i] : A[(size_t)i * g->lda + k];
}
static float op_b(const gemm_case *g, const float *B, int k, int j) {
    return g->tb ? B[(size_t)j * g->ldb + k] : B[(size_t)k * g->ldb + j];
}

/* Compares C from the fast kernel with the reference: both are within about
 * K eps sum|a b| (+ |C0|) of the exact value, whatever the summation order
 * (and with or without FMA), so within twice that of each other. Elements of the
 * C view's padding (columns N..ldc) must be untouched. Returns failures. */
static int compare_gemm(const gemm_case *g, const float *A, const float *B,
                        const float *C0, const float *C, const float *Cref) {
    int bad = 0;
    for (int i = 0; i < g->M; i++) {
        for (int j = 0; j < g->ldc && (size_t)i * g->ldc + j < view_extent(g->M, g->N, g->ldc); j++) {
            size_t at = (size_t)i * g->ldc + j;
            if (j >= g->N) {
                if (float_bits(C[at]) != float_bits(C0[at])) bad++;
                continue;
            }
            double mag = g->beta != 0.0f ? fabs(C0[at]) : 0.0;
            for (int k = 0; k < g->K; k++) mag += fabs((double)op_a(g, A, i, k) * op_b(g, B, k, j));
            double tol = 2.0 * (g->K + 2) * FLT_EPSILON * mag + 1e-30;
            if (!(fabs((double)C[at] - Cref[at]) <= tol)) {
                if (bad++ < 3)
                    CHECK(0, "ta=%d tb=%d M=%d N=%d K=%d ld=%d,%d,%d beta=%g: C[%d,%d]=%.9g ref %.9g",
                          g->ta, g->tb, g->M, g->N, g->K, g->lda, g->ldb, g->ldc, g->beta, i, j,
                          C[at], Cref[at]);
            }
        }
    }
    if (bad) CHECK(0, "%d bad elements (ta=%d tb=%d M=%d N=%d K=%d)", bad, g->ta, g->tb, g->M, g->N, g->K);
    return bad;
}

/* Runs one case through gemm, and through gemm_pack_b + gemm_packed when
 * ta == 0; checks both against the reference and that they agree bit for bit.
 * beta 0 cases start from a C full of NaN. */
static void check_gemm_case(const gemm_case *g) {
    int arows = g->ta ? g->K : g->M, acols = g->ta ? g->M : g->K;
    int brows = g->tb ? g->N : g->K, bcols = g->tb ? g->K : g->N;
    float *A = alloc_view(arows, acols, g->lda);
    float *B = alloc_view(brows, bcols, g->ldb);
    size_t nc = view_extent(g->M, g->N, g->ldc);
    float *C0 = alloc_view(g->M, g->N, g->ldc);
    if (g->beta == 0.0f)
        for (int i = 0; i < g->M; i++)
            for (int j = 0; j < g->N; j++) C0[(size_t)i * g->ldc + j] = NAN;
    float *C = copy_floats(C0, nc), *Cref = copy_floats(C0, nc);

    gemm(g->ta, g->tb, g->M, g->N, g->K, A, g->lda, B, g->ldb, g->beta, C, g->ldc);
    gemm_reference(g->ta, g->tb, g->M, g->N, g->K, A, g->lda, B, g->ldb, g->beta, Cref, g->ldc);
    compare_gemm(g, A, B, C0, C, Cref);

    if (!g->ta) {
        size_t np = gemm_packed_size(g->K, g->N);
        float *packed = malloc((np ? np : 1) * sizeof(float));
        float *Cp = copy_floats(C0, nc);
        gemm_pack_b(g->tb, g->K, g->N, B, g->ldb, packed);
        gemm_packed(g->M, g->N, g->K, A, g->lda, packed, g->beta, Cp, g->ldc);
        compare_gemm(g, A, B, C0, Cp, Cref);
        int differ = 0;
        for (size_t i = 0; i < nc; i++) differ += float_bits(Cp[i]) != float_bits(C[i]);
        CHECK(differ == 0, "packed and unpacked differ in %d elements (tb=%d M=%d N=%d K=%d)",
              differ, g->tb, g->M, g->N, g->K);
        free(packed);
        free(Cp);
    }
    free(A); free(B); free(C0); free(C); free(Cref);
}

static gemm_case make_case(int ta, int tb, int M, int N, int K, int pad, float beta) {
    gemm_case g = {ta, tb, M, N, K, 0, 0, 0, beta};
    g.lda = (ta ? M : K) + (pad ? rng_int(1, 5) : 0);
    g.ldb = (tb ? K : N) + (pad ? rng_int(1, 5) : 0);
    g.ldc = N + (pad ? rng_int(1, 5) : 0);
    return g;
}

/* ---- gemm tests --------------------------------------------------------- */

static void test_gemm_small_sizes(void) {
    static const int sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 23, 31, 32, 33, 40};
    int ns = (int)(sizeof sizes / sizeof sizes[0]);
    for (int t = 0; t < 4; t++)
        for (int a = 0; a < ns; a++)
            for (int b = 0; b < ns; b += 2) {
                int c = (a * 7 + b * 3 + t) % ns;
                gemm_case g = make_case(t >> 1, t & 1, sizes[a], sizes[b], sizes[c], 0, 0.0f);
                check_gemm_case(&g);
            }
}

static void test_gemm_random_sizes_beta(void) {
    for (int r = 0; r < 300; r++) {
        gemm_case g = make_case(rng_int(0, 1), rng_int(0, 1), rng_int(1, 40), rng_int(1, 40),
                                rng_int(1, 40), 0, (r & 1) ? 1.0f : 0.0f);
        check_gemm_case(&g);
    }
}

static void test_gemm_strided_views(void) {
    for (int r = 0; r < 200; r++) {
        gemm_case g = make_case(rng_int(0, 1), rng_int(0, 1), rng_int(1, 40), rng_int(1, 40),
                                rng_int(1, 40), 1, (r & 1) ? 1.0f : 0.0f);
        check_gemm_case(&g);
    }
}

/* Sizes across every blocking boundary (MC 64, NC 512, KC 256). */
static void test_gemm_large(void) {
    static const int shapes[][3] = {{33, 1000, 257}, {70, 530, 300}, {129, 17, 513}, {5, 1030, 9},
                                    {200, 3, 700}, {1, 600, 1}, {64, 512, 256},
                                    {2, 530, 600}, {600, 1, 513}};
    for (int s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++)
        for (int t = 0; t < 4; t++) {
            gemm_case g = make_case(t >> 1, t & 1, shapes[s][0], shapes[s][1], shapes[s][2], s & 1,
                                    (t + s) & 1 ? 1.0f : 0.0f);
            check_gemm_case(&g);
        }
}

/* The engine's shapes, small batch: forward projection, recurrent steps,
 * input gradient and weight gradient. */
static void test_gemm_engine_shapes(void) {
    int B = 3, T = 5, X = 7, H = 20, GH = 80;
    gemm_case cases[] = {
        make_case(0, 1, T * B, GH, X, 0, 0.0f),  /* X_all W^T        */
        make_case(0, 1, B, GH, H, 0, 1.0f),      /* h U^T, packed    */
        make_case(0, 0, B, H, GH, 0, 0.0f),      /* dG U, packed     */
        make_case(0, 0, T * B, X, GH, 0, 0.0f),  /* dG_all W         */
        make_case(1, 0, GH, X, T * B, 0, 1.0f),  /* dW += dG^T X_all */
        make_case(1, 0, GH, H, T * B, 0, 1.0f),  /* dU += dG^T H_all */
    };
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) check_gemm_case(&cases[i]);
}

static void test_gemm_empty_k(void) {
    for (int beta = 0; beta <= 1; beta++) {
        float C[6] = {NAN, 2, 3, 4, 5, 6}, P[1];
        float A[1] = {0}, B[1] = {0};
        gemm(0, 0, 2, 3, 0, A, 1, B, 3, (float)beta, C, 3);
        for (int i = 0; i < 6; i++)
            CHECK(beta ? (i == 0 ? isnan(C[i]) : C[i] == i + 1) : C[i] == 0.0f,
                  "K=0 beta=%d C[%d]=%g", beta, i, C[i]);
        CHECK(gemm_packed_size(0, 3) == 0, "packed size for K=0");
        float D[2] = {NAN, NAN};
        gemm_packed(1, 2, 0, A, 1, P, (float)beta, D, 2);
        if (!beta) CHECK(D[0] == 0.0f && D[1] == 0.0f, "packed K=0 beta=0 not zeroed");
    }
    gemm(0, 0, 0, 3, 4, NULL, 4, NULL, 3, 0.0f, NULL, 3); /* M = 0: no access */
}

/* A NaN or Inf anywhere in the inputs reaches every output it feeds. */
static void test_gemm_nonfinite(void) {
    int M = 9, N = 21, K = 300; /* K > KC: the NaN must survive the K blocks */
    for (int t = 0; t < 4; t++) {
        int ta = t >> 1, tb = t & 1;
        gemm_case g = make_case(ta, tb, M, N, K, 0, 0.0f);
        float *A = alloc_view(ta ? K : M, ta ? M : K, g.lda);
        float *B = alloc_view(tb ? N : K, tb ? K : N, g.ldb);
        float *C = malloc(sizeof(float) * M * N);
        int ni = 4, nk = 17, ij = 11, ik = 290;
        A[ta ? (size_t)nk * g.lda + ni : (size_t)ni * g.lda + nk] = NAN; /* row ni of C */
        A[ta ? (size_t)ik * g.lda + 2 : (size_t)2 * g.lda + ik] = 0.0f;
        B[tb ? (size_t)ij * g.ldb + ik : (size_t)ik * g.ldb + ij] = INFINITY; /* 0 * Inf at (2, ij) */
        B[tb ? (size_t)3 * g.ldb + 5 : (size_t)5 * g.ldb + 3] = INFINITY;
        gemm(ta, tb, M, N, K, A, g.lda, B, g.ldb, 0.0f, C, N);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float c = C[i * N + j];
                if (i == ni || (i == 2 && j == ij)) CHECK(isnan(c), "C[%d,%d]=%g not NaN (t=%d)", i, j, c, t);
                else if (j == ij || j == 3) CHECK(!isfinite(c), "C[%d,%d]=%g finite (t=%d)", i, j, c, t);
                else CHECK(isfinite(c), "C[%d,%d]=%g not finite (t=%d)", i, j, c, t);
            }
        if (!ta) {
            float *packed = malloc(sizeof(float) * gemm_packed_size(K, N));
            gemm_pack_b(tb, K, N, B, g.ldb, packed);
            for (int i = 0; i < M * N; i++) C[i] = 1.0f;
            gemm_packed(M, N, K, A, g.lda, packed, 1.0f, C, N);
            for (int j = 0; j < N; j++) CHECK(isnan(C[ni * N + j]), "packed: C[%d,%d] not NaN", ni, j);
            CHECK(isnan(C[2 * N + ij]), "packed: 0 * Inf not NaN");
            free(packed);
        }
        free(A); free(B); free(C);
    }
}

/* Same inputs at other addresses, after other calls: the same bits. */
static void test_gemm_deterministic(void) {
    int M = 37, N = 45, K = 270;
    for (int t = 0; t < 4; t++) {
        int ta = t >> 1, tb = t & 1;
        size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
        float *A = alloc_view(1, (int)na + 3, 0), *B = alloc_view(1, (int)nb + 3, 0);
        float *C1 = malloc(sizeof(float) * nc), *C2 = malloc(sizeof(float) * (nc + 3));
        int lda = ta ? M : K, ldb = tb ? K : N;
        gemm(ta, tb, M, N, K, A, lda, B, ldb, 0.0f, C1, N);
        for (int off = 1; off <= 3; off++) {
            memmove(A + off, A + off - 1, na * sizeof(float));
            memmove(B + off, B + off - 1, nb * sizeof(float));
            gemm(ta, tb, 20, 7, 30, A, ta ? 20 : 30, B, tb ? 30 : 7, 0.0f, C2, 7); /* another call first */
            gemm(ta, tb, M, N, K, A + off, lda, B + off, ldb, 0.0f, C2 + off, N);
            CHECK(memcmp(C1, C2 + off, nc * sizeof(float)) == 0, "offset %d changes bits (t=%d)", off, t);
        }
        if (!ta) { /* the packed path, with the packed buffer at an odd offset too */
            size_t np = gemm_packed_size(K, N);
            float *packed = malloc(sizeof(float) * (np + 1));
            for (int off = 0; off <= 1; off++) {
                gemm_pack_b(tb, K, N, B + 3, ldb, packed + off);
                gemm_packed(M, N, K, A + 3, lda, packed + off, 0.0f, C2, N);
                CHECK(memcmp(C1, C2, nc * sizeof(float)) == 0, "packed offset %d changes bits (tb=%d)", off, tb);
            }
            free(packed);
        }
        free(A); free(B); free(C1); free(C2);
    }
}

/* gemm_shared_a gives the bits of two gemm calls, on shapes that take its
 * shared packing and on shapes that fall back to two calls. */
static void test_gemm_shared_a(void) {
    const struct { int ta, M, K, N1, N2; } cases[] = {
        {1, 1024, 300, 64, 256}, {1, 64, 2048, 16, 64}, {0, 37, 270, 9, 23}, {1, 40, 513, 8, 8},
        {1, 48, 100, 1, 128},  /* N1 < NR: two calls */
        {1, 2, 50, 16, 16},    /* M < MR: two calls */
        {1, 64, 64, 256, 300}, /* wider than one packed panel: two calls */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int ta = cases[c].ta, M = cases[c].M, K = cases[c].K, N1 = cases[c].N1, N2 = cases[c].N2;
        int lda = ta ? M : K;
        float *A = alloc_view(ta ? K : M, ta ? M : K, lda);
        float *B1 = alloc_view(K, N1, N1), *B2 = alloc_view(K, N2, N2 + 3);
        for (int beta = 0; beta <= 1; beta++) {
            float *C1 = alloc_view(M, N1, N1), *C2 = alloc_view(M, N2, N2);
            float *D1 = malloc(sizeof(float) * M * N1), *D2 = malloc(sizeof(float) * M * N2);
            memcpy(D1, C1, sizeof(float) * M * N1);
            memcpy(D2, C2, sizeof(float) * M * N2);
            gemm(ta, 0, M, N1, K, A, lda, B1, N1, (float)beta, D1, N1);
            gemm(ta, 0, M, N2, K, A, lda, B2, N2 + 3, (float)beta, D2, N2);
            gemm_shared_a(ta, M, K, A, lda, N1, B1, N1, C1, N1, N2, B2, N2 + 3, C2, N2, (float)beta);
            CHECK(memcmp(C1, D1, sizeof(float) * M * N1) == 0 && memcmp(C2, D2, sizeof(float) * M * N2) == 0,
                  "case %zu (ta %d, M %d, K %d, N1 %d, N2 %d), beta %d: not the bits of two gemm calls",
                  c, ta, M, K, N1, N2, beta);
            free(C1); free(C2); free(D1); free(D2);
        }
        free(A); free(B1); free(B2);
    }
}

/* The threaded build cuts big products into blocks of rows or columns of C
 * (pool.h). pool_pretend(n) makes the calls plan for n threads and run the
 * blocks last to first: every product must give the bits of the unsplit one,
 * whatever n. */
static int split_differs(int threads, const gemm_case *g, const float *A, const float *B,
                         const float *packed, const float *C0, const float *want, int use_packed) {
    size_t nc = view_extent(g->M, g->N, g->ldc);
    float *C = copy_floats(C0, nc);
    pool_pretend(threads);
    if (use_packed)
        gemm_packed(g->M, g->N, g->K, A, g->lda, packed, g->beta, C, g->ldc);
    else
        gemm(g->ta, g->tb, g->M, g->N, g->K, A, g->lda, B, g->ldb, g->beta, C, g->ldc);
    pool_pretend(1);
    int differ = memcmp(C, want, nc * sizeof(float)) != 0;
    free(C);
    return differ;
}

static void check_split_case(const gemm_case *g) {
    static const int threads[] = {2, 3, 4, 7};
    float *A = alloc_view(g->ta ? g->K : g->M, g->ta ? g->M : g->K, g->lda);
    float *B = alloc_view(g->tb ? g->N : g->K, g->tb ? g->K : g->N, g->ldb);
    size_t nc = view_extent(g->M, g->N, g->ldc), np = gemm_packed_size(g->K, g->N);
    float *C0 = alloc_view(g->M, g->N, g->ldc), *want = copy_floats(C0, nc), *wantp = copy_floats(C0, nc);
    float *packed = malloc((np ? np : 1) * sizeof(float));
    gemm(g->ta, g->tb, g->M, g->N, g->K, A, g->lda, B, g->ldb, g->beta, want, g->ldc);
    gemm_pack_b(g->tb, g->K, g->N, B, g->ldb, packed);
    if (!g->ta) gemm_packed(g->M, g->N, g->K, A, g->lda, packed, g->beta, wantp, g->ldc);
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        CHECK(!split_differs(threads[t], g, A, B, packed, C0, want, 0),
              "gemm on %d threads: other bits (ta=%d tb=%d M=%d N=%d K=%d beta=%g)",
              threads[t], g->ta, g->tb, g->M, g->N, g->K, g->beta);
        if (!g->ta)
            CHECK(!split_differs(threads[t], g, A, B, packed, C0, wantp, 1),
                  "gemm_packed on %d threads: other bits (tb=%d M=%d N=%d K=%d)",
                  threads[t], g->tb, g->M, g->N, g->K);
    }
    free(A); free(B); free(C0); free(want); free(wantp); free(packed);
}

static void test_gemm_split_bits(void) {
    static const int shapes[][3] = {
        {512, 1024, 64}, {1024, 64, 512}, {256, 256, 600}, {64, 256, 900}, {32, 1024, 256},
        {16, 256, 64}, {512, 1, 300}, {1, 700, 600}, {3, 900, 513}, {131, 77, 600}, {600, 9, 700},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            for (int beta = 0; beta <= 1; beta++) {
                gemm_case g = make_case(t >> 1, t & 1, shapes[s][0], shapes[s][1], shapes[s][2], (int)s & 1, (float)beta);
                check_split_case(&g);
            }
    for (int r = 0; r < 12; r++) {
        gemm_case g = make_case(rng_int(0, 1), rng_int(0, 1), rng_int(1, 400), rng_int(1, 400), rng_int(1, 400), 1, (float)rng_int(0, 1));
        check_split_case(&g);
    }
}

/* gemm_shared_a split among threads: the bits of the unsplit call. */
static void test_gemm_shared_a_split_bits(void) {
    const struct { int ta, M, K, N1, N2; } cases[] = {{1, 256, 1024, 64, 256}, {1, 512, 300, 8, 128}, {0, 333, 517, 16, 24}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int ta = cases[c].ta, M = cases[c].M, K = cases[c].K, N1 = cases[c].N1, N2 = cases[c].N2;
        int lda = ta ? M : K;
        float *A = alloc_view(ta ? K : M, ta ? M : K, lda);
        float *B1 = alloc_view(K, N1, N1), *B2 = alloc_view(K, N2, N2);
        float *C1 = alloc_view(M, N1, N1), *C2 = alloc_view(M, N2, N2);
        float *D1 = copy_floats(C1, (size_t)M * N1), *D2 = copy_floats(C2, (size_t)M * N2);
        gemm_shared_a(ta, M, K, A, lda, N1, B1, N1, C1, N1, N2, B2, N2, C2, N2, 1.0f);
        for (int threads = 2; threads <= 5; threads += 3) {
            float *E1 = copy_floats(D1, (size_t)M * N1), *E2 = copy_floats(D2, (size_t)M * N2);
            pool_pretend(threads);
            gemm_shared_a(ta, M, K, A, lda, N1, B1, N1, E1, N1, N2, B2, N2, E2, N2, 1.0f);
            pool_pretend(1);
            CHECK(memcmp(C1, E1, sizeof(float) * M * N1) == 0 && memcmp(C2, E2, sizeof(float) * M * N2) == 0,
                  "gemm_shared_a case %zu on %d threads: other bits", c, threads);
            free(E1); free(E2);
        }
        free(A); free(B1); free(B2); free(C1); free(C2); free(D1); free(D2);
    }
}

/* pool_plan: chunks at multiples of the alignment that cover the extent,
 * and a count that shares evenly: n chunks on t threads take ceil(n / t)
 * rounds, so when an even share exists the plan must find one. Pretending,
 * a chunk is worth one flop, so `flops` caps the count. */
static void test_pool_plan_balanced(void) {
    static const struct { int threads, extent, align; double flops; int want; } cases[] = {
        {2, 32, 4, 3.0, 2},   /* worth 3 chunks of 4+ rows: 2 of 16, not 3 (16 + 16 over 12 + 12 + 8) */
        {2, 32, 4, 1e9, 8},   /* plenty of work: 4 chunks a thread */
        {3, 32, 4, 1e9, 8},   /* 8 of 4 rows (3 rounds) share as well as 3 of 12 (1 round): a tie goes to more chunks */
        {2, 256, 64, 1e9, 4}, /* 64-row chunks: 4 */
        {2, 64, 64, 1e9, 1},  /* one aligned block: nothing to share */
        {2, 32, 4, 1.5, 1},   /* worth one chunk */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        pool_pretend(cases[c].threads);
        int step = -1, n = pool_plan(cases[c].extent, cases[c].align, cases[c].flops, &step);
        pool_pretend(1);
        CHECK(n == cases[c].want, "pool_plan case %zu: %d chunks, expected %d", c, n, cases[c].want);
        CHECK(n == 1 ? step == cases[c].extent
                     : step % cases[c].align == 0 && (cases[c].extent + step - 1) / step == n,
              "pool_plan case %zu: step %d does not cut %d into %d chunks", c, step, cases[c].extent, n);
    }
}

/* ---- vmath tests -------------------------------------------------------- */

static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Inputs: a dense grid over the interesting range plus random bit patterns
 * over the whole float range (NaN patterns skipped). */
static float sample_input(int i) {
    if (i < 400000) return -25.0f + 50.0f * (float)i / 400000.0f;
    if (i < 500000) return rng_uniform(-1e-3f, 1e-3f);
    for (;;) {
        float x = bits_float(rng_next());
        if (!isnan(x)) return x;
    }
}
#define N_SAMPLES 1000000

/* The bounds stated in vmath.c (measured there over every float): absolute
 * 1e-7 for both, relative 2e-7 for tanh near 0 and for sigmoid below 0. */
static void test_vmath_accuracy(void) {
    double max_sig = 0, max_tanh = 0, max_tanh_rel = 0, max_sig_rel = 0;
    float at_sig = 0, at_tanh = 0;
    for (int i = 0; i < N_SAMPLES; i++) {
        float x = sample_input(i);
        double es = fabs(scalar_sigmoid(x) - ref_sigmoid(x));
        double et = fabs(scalar_tanh(x) - tanh((double)x));
        if (es > max_sig) max_sig = es, at_sig = x;
        if (et > max_tanh) max_tanh = et, at_tanh = x;
        if (fabs(x) < 0.6f && x != 0.0f) {
            double rel = et / fabs(tanh((double)x));
            if (rel > max_tanh_rel) max_tanh_rel = rel;
        }
        if (x < 0.0f && x > -80.0f) {
            double rel = es / ref_sigmoid(x);
            if (rel > max_sig_rel) max_sig_rel = rel;
        }
    }
    printf("     max abs error: sigmoid %.3g (x=%g), tanh %.3g (x=%g); max rel error: "
           "tanh |x|<0.6 %.3g, sigmoid x<0 %.3g\n",
           max_sig, at_sig, max_tanh, at_tanh, max_tanh_rel, max_sig_rel);
    CHECK(max_sig <= 1e-7, "sigmoid abs error %.3g", max_sig);
    CHECK(max_tanh <= 1e-7, "tanh abs error %.3g", max_tanh);
    CHECK(max_tanh_rel <= 2e-7, "tanh rel error %.3g", max_tanh_rel);
    CHECK(max_sig_rel <= 2e-7, "sigmoid rel error %.3g", max_sig_rel);
}

/* Every float (all 2^32 bit patterns, NaNs skipped), through the array forms;
 * about a minute natively, so only with --exhaustive. This measured the
 * bounds stated in vmath.c. */
static void test_vmath_exhaustive(void) {
    enum { BATCH = 4096 };
    static float x[BATCH], s[BATCH], t[BATCH];
    double max_sig = 0, max_tanh = 0, max_sig_rel = 0, max_tanh_rel = 0;
    for (uint64_t u = 0; u < (1ull << 32);) {
        for (int i = 0; i < BATCH; i++, u++) {
            x[i] = bits_float((uint32_t)u);
            if (isnan(x[i])) x[i] = 0.0f;
        }
        memcpy(s, x, sizeof s);
        memcpy(t, x, sizeof t);
        vec_sigmoid(s, BATCH);
        vec_tanh(t, BATCH);
        for (int i = 0; i < BATCH; i++) {
            double rs = ref_sigmoid(x[i]), rt = tanh((double)x[i]);
            double es = fabs(s[i] - rs), et = fabs(t[i] - rt);
            if (es > max_sig) max_sig = es;
            if (et > max_tanh) max_tanh = et;
            if (rs > FLT_MIN && es / rs > max_sig_rel) max_sig_rel = es / rs;
            if (rt != 0.0 && et / fabs(rt) > max_tanh_rel) max_tanh_rel = et / fabs(rt);
        }
    }
    printf("     every float: max abs error sigmoid %.3g, tanh %.3g; max rel error "
           "sigmoid %.3g (outputs > FLT_MIN), tanh %.3g\n",
           max_sig, max_tanh, max_sig_rel, max_tanh_rel);
    CHECK(max_sig <= 1e-7 && max_tanh <= 1e-7, "absolute error above 1e-7");
    CHECK(max_sig_rel <= 2e-7 && max_tanh_rel <= 2e-7, "relative error above 2e-7");
}

static void test_vmath_edges(void) {
    static const float big[] = {20.0f, 50.0f, 87.5f, 88.5f, 100.0f, 1e10f, FLT_MAX, INFINITY};
    for (int i = 0; i < (int)(sizeof big / sizeof big[0]); i++) {
        float x = big[i];
        CHECK(scalar_sigmoid(x) == 1.0f, "sigmoid(%g) = %.9g", x, scalar_sigmoid(x));
        CHECK(x < 88.0f || scalar_sigmoid(-x) == 0.0f, "sigmoid(-%g) = %g", x, scalar_sigmoid(-x));
        CHECK(scalar_sigmoid(-x) >= 0.0f && scalar_sigmoid(-x) < 3e-9f, "sigmoid(-%g) = %g", x, scalar_sigmoid(-x));
        CHECK(scalar_tanh(x) == 1.0f, "tanh(%g) = %.9g", x, scalar_tanh(x));
        CHECK(scalar_tanh(-x) == -1.0f, "tanh(-%g) = %.9g", x, scalar_tanh(-x));
    }
    CHECK(isnan(scalar_sigmoid(NAN)), "sigmoid(NaN)");
    CHECK(isnan(scalar_tanh(NAN)), "tanh(NaN)");
    CHECK(isnan(scalar_sigmoid(-NAN)), "sigmoid(-NaN)");
    CHECK(isnan(scalar_tanh(-NAN)), "tanh(-NaN)");
    CHECK(scalar_sigmoid(0.0f) == 0.5f, "sigmoid(0) = %.9g", scalar_sigmoid(0.0f));
    CHECK(scalar_tanh(0.0f) == 0.0f && !signbit(scalar_tanh(0.0f)), "tanh(0)");
    CHECK(scalar_tanh(-0.0f) == 0.0f && signbit(scalar_tanh(-0.0f)), "tanh(-0) keeps its sign");
    CHECK(scalar_tanh(1e-30f) == 1e-30f, "tanh(1e-30) = %g", scalar_tanh(1e-30f));
    CHECK(scalar_tanh(-1e-30f) == -1e-30f, "tanh(-1e-30)");
    for (int i = 0; i < 10000; i++) { /* odd symmetry, monotone, in range */
        float x = rng_uniform(-12.0f, 12.0f), y = nextafterf(x, 100.0f);
        CHECK(scalar_tanh(-x) == -scalar_tanh(x), "tanh not odd at %g", x);
        CHECK(scalar_tanh(y) >= scalar_tanh(x), "tanh not monotone at %g", x);
        CHECK(scalar_sigmoid(y) >= scalar_sigmoid(x), "sigmoid not monotone at %g", x);
        CHECK(scalar_sigmoid(x) >= 0.0f && scalar_sigmoid(x) <= 1.0f, "sigmoid out of range");
    }
    float v[7] = {NAN, -INFINITY, INFINITY, -2.0f, -0.0f, 0.0f, 3.5f};
    vec_relu(v, 7);
    CHECK(isnan(v[0]), "relu(NaN) must stay NaN");
    CHECK(v[1] == 0.0f && v[3] == 0.0f && v[5] == 0.0f, "relu of negatives");
    CHECK(v[2] == INFINITY && v[6] == 3.5f, "relu of positives");
}

/* The array forms equal the scalar forms bit for bit, for every length
 * (vector body and tail) and every offset. */
static void test_vmath_vector_matches_scalar(void) {
    enum { LEN = 67 };
    float in[LEN + 4], buf[LEN + 4];
    for (int n = 0; n <= LEN; n++) {
        for (int off = 0; off < 4; off++) {
            for (int i = 0; i < LEN + 4; i++) {
                float x = rng_uniform(-12.0f, 12.0f);
                if (rng_int(0, 9) == 0) x = sample_input(rng_int(0, N_SAMPLES));
                if (i == 5) x = NAN;
                in[i] = x;
            }
            for (int f = 0; f < 3; f++) {
                memcpy(buf, in, sizeof buf);
                if (f == 0) vec_sigmoid(buf + off, n);
                if (f == 1) vec_tanh(buf + off, n);
                if (f == 2) vec_relu(buf + off, n);
                for (int i = 0; i < LEN + 4; i++) {
                    float x = in[i], want = x;
                    if (i >= off && i < off + n)
                        want = f == 0 ? scalar_sigmoid(x) : f == 1 ? scalar_tanh(x) : (x < 0.0f ? 0.0f : x);
                    int same = float_bits(buf[i]) == float_bits(want) || (isnan(buf[i]) && isnan(want));
                    CHECK(same, "f=%d n=%d off=%d i=%d x=%.9g: %.9g vs %.9g", f, n, off, i, x, buf[i], want);
                }
            }
        }
    }
}

int main(int argc, char **argv) {
    run_test("gemm: all transposes, sizes 1..40, beta 0 over NaN", test_gemm_small_sizes);
    run_test("gemm: random sizes, beta 0 and 1", test_gemm_random_sizes_beta);
    run_test("gemm: leading dimensions wider than the view", test_gemm_strided_views);
    run_test("gemm: sizes across the blocking boundaries", test_gemm_large);
    run_test("gemm: engine shapes (projection, recurrent, gradients)", test_gemm_engine_shapes);
    run_test("gemm: K = 0 and M = 0", test_gemm_empty_k);
    run_test("gemm: NaN and Inf propagate", test_gemm_nonfinite);
    run_test("gemm: bits independent of alignment and history", test_gemm_deterministic);
    run_test("gemm_shared_a: the bits of two gemm calls", test_gemm_shared_a);
    run_test("gemm, gemm_packed: split among threads, the same bits", test_gemm_split_bits);
    run_test("gemm_shared_a: split among threads, the same bits", test_gemm_shared_a_split_bits);
    run_test("pool_plan: chunk counts that share evenly among the threads", test_pool_plan_balanced);
    run_test("vmath: accuracy against double", test_vmath_accuracy);
    run_test("vmath: saturation, NaN, Inf, signed zero, relu", test_vmath_edges);
    run_test("vmath: array forms equal scalar forms", test_vmath_vector_matches_scalar);
    if (argc > 1 && strcmp(argv[1], "--exhaustive") == 0)
        run_test("vmath: accuracy over every float", test_vmath_exhaustive);
    return check_summary();
}
