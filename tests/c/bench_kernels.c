/* bench_kernels.c — GFLOP/s of the matrix kernels on the shapes the engine
 * uses, and billions of elements per second of the nonlinearities.
 *
 *   gcc -O3 -march=native -Isrc tests/c/bench_kernels.c src/gemm.c src/pool.c src/vmath.c \
 *       -lm -o /tmp/bk && /tmp/bk [--json]
 *   NODE_PATH=/usr/share/nodejs emcc -O3 -msimd128 -sSINGLE_FILE -sALLOW_MEMORY_GROWTH \
 *       -Isrc tests/c/bench_kernels.c src/gemm.c src/pool.c src/vmath.c -o /tmp/bk.js && node /tmp/bk.js
 *   (and the same without -msimd128 for the scalar fallback)
 *
 * Each figure is the median of REPS timed repetitions, each running the
 * kernel for about REP_SECONDS, after warm-up calls (V8 compiles wasm lazily
 * in two tiers and has no on-stack replacement). `--json` prints one object.
 * The machine is shared: a whole run takes about 2 s per build.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c11 */
#include "gemm.h"
#include "vmath.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPS 5
#define REP_SECONDS 0.03
#define WARMUP_SECONDS 0.05

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef enum { OP_GEMM, OP_PACKED, OP_SIGMOID, OP_TANH } op_kind;

typedef struct {
    const char *key;   /* name in the JSON output */
    const char *shape; /* what is multiplied, for people */
    op_kind op;
    int ta, tb, M, N, K; /* for vmath ops: n = M */
} bench_case;

/* LSTM (G = 4) shapes: M workload (X 64, H 256, B 32, T 64), S workload
 * (X 16, H 64, B 16, T 32) and LONG (X 1, H 128, B 32, T 512). */
static const bench_case cases[] = {
    {"M.recurrent_fwd", "packed 32x1024x256", OP_PACKED, 0, 1, 32, 1024, 256},
    {"M.recurrent_bwd", "packed 32x256x1024", OP_PACKED, 0, 0, 32, 256, 1024},
    {"M.input_proj", "gemm NT 2048x1024x64", OP_GEMM, 0, 1, 2048, 1024, 64},
    {"M.input_grad", "gemm NN 2048x64x1024", OP_GEMM, 0, 0, 2048, 64, 1024},
    {"M.dU", "gemm TN 1024x256x2048", OP_GEMM, 1, 0, 1024, 256, 2048},
    {"M.dW", "gemm TN 1024x64x2048", OP_GEMM, 1, 0, 1024, 64, 2048},
    {"M.head_fwd", "gemm NT 2048x64x256", OP_GEMM, 0, 1, 2048, 64, 256},
    {"M.head_dV", "gemm TN 64x256x2048", OP_GEMM, 1, 0, 64, 256, 2048},
    {"M.head_dH", "gemm NN 2048x256x64", OP_GEMM, 0, 0, 2048, 256, 64},
    {"S.recurrent_fwd", "packed 16x256x64", OP_PACKED, 0, 1, 16, 256, 64},
    {"S.dW", "gemm TN 256x16x512", OP_GEMM, 1, 0, 256, 16, 512},
    {"LONG.recurrent_fwd", "packed 32x512x128", OP_PACKED, 0, 1, 32, 512, 128},
    {"LONG.dW", "gemm TN 512x1x16384", OP_GEMM, 1, 0, 512, 1, 16384},
    {"sigmoid", "n = 32768", OP_SIGMOID, 0, 0, 32768, 0, 0},
    {"tanh", "n = 32768", OP_TANH, 0, 0, 32768, 0, 0},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

typedef struct {
    float *A, *B, *C, *packed, *v;
} buffers;

static void run_once(const bench_case *c, buffers *b) {
    int lda = c->ta ? c->M : c->K, ldb = c->tb ? c->K : c->N;
    switch (c->op) {
    case OP_GEMM:
        gemm(c->ta, c->tb, c->M, c->N, c->K, b->A, lda, b->B, ldb, 0.0f, b->C, c->N);
        break;
    case OP_PACKED:
        gemm_packed(c->M, c->N, c->K, b->A, c->K, b->packed, 0.0f, b->C, c->N);
        break;
    case OP_SIGMOID: /* in place, again and again: the code has no branches, */
        vec_sigmoid(b->v, c->M); /* so the drifting values cost the same */
        break;
    case OP_TANH:
        vec_tanh(b->v, c->M);
        break;
    }
}

static double work_of(const bench_case *c) {
    if (c->op == OP_SIGMOID || c->op == OP_TANH) return c->M;
    return 2.0 * c->M * c->N * c->K;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Runs the case in timed chunks; returns the median rate in G(FLOP|elem)/s. */
static double measure(const bench_case *c, buffers *b) {
    double t0 = now_seconds();
    while (now_seconds() - t0 < WARMUP_SECONDS) run_once(c, b);
    double rates[REPS];
    for (int r = 0; r < REPS; r++) {
        int calls = 0;
        double start = now_seconds(), elapsed;
        do {
            run_once(c, b);
            calls++;
            elapsed = now_seconds() - start;
        } while (elapsed < REP_SECONDS);
        rates[r] = work_of(c) * calls / elapsed * 1e-9;
    }
    qsort(rates, REPS, sizeof rates[0], compare_double);
    return rates[REPS / 2];
}

static float *random_floats(size_t n, unsigned *state) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        *state = *state * 1664525u + 1013904223u;
        p[i] = (float)((*state >> 8) * (1.0 / 16777216.0)) * 8.0f - 4.0f;
    }
    return p;
}

static const char *build_name(void) {
#if defined(__wasm_simd128__)
    return "wasm-simd128";
#elif defined(__wasm__) || defined(__EMSCRIPTEN__)
    return "wasm-scalar";
#elif defined(__AVX__)
    return "native-avx";
#else
    return "native";
#endif
}

int main(int argc, char **argv) {
    int json = argc > 1 && strcmp(argv[1], "--json") == 0;
    unsigned seed = 12345;
    double results[NCASES];
    for (int i = 0; i < NCASES; i++) {
        const bench_case *c = &cases[i];
        buffers b = {0};
        size_t na = (size_t)c->M * c->K, nb = (size_t)c->K * c->N;
        b.A = random_floats(na, &seed);
        b.B = random_floats(nb, &seed);
        b.C = random_floats((size_t)c->M * c->N, &seed);
        b.v = random_floats(c->op >= OP_SIGMOID ? (size_t)c->M : 0, &seed);
        if (c->op == OP_PACKED) {
            b.packed = malloc(sizeof(float) * gemm_packed_size(c->K, c->N));
            gemm_pack_b(c->tb, c->K, c->N, b.B, c->tb ? c->K : c->N, b.packed);
        }
        results[i] = measure(c, &b);
        if (!json)
            printf("%-20s %-22s %8.2f %s\n", c->key, c->shape, results[i],
                   c->op >= OP_SIGMOID ? "Gelem/s" : "GFLOP/s");
        free(b.A); free(b.B); free(b.C); free(b.v); free(b.packed);
    }
    if (json) { /* {"build":..., "gflops":{key: GFLOP/s}, "gelem_per_s":{key: Gelem/s}} */
        printf("{\"build\":\"%s\",\"gflops\":{", build_name());
        for (int i = 0, first = 1; i < NCASES; i++)
            if (cases[i].op < OP_SIGMOID)
                printf("%s\"%s\":%.3f", first ? "" : ",", cases[i].key, results[i]), first = 0;
        printf("},\"gelem_per_s\":{");
        for (int i = 0, first = 1; i < NCASES; i++)
            if (cases[i].op >= OP_SIGMOID)
                printf("%s\"%s\":%.3f", first ? "" : ",", cases[i].key, results[i]), first = 0;
        printf("}}\n");
    }
    return 0;
}
