/* gemm.c — packed, register-blocked SGEMM (the contract is in gemm.h).
 *
 * Blocking in the style of Goto and van de Geijn. op(B) is packed into strips
 * NR columns wide, each strip k-major (NR floats per k); op(A) into strips MR
 * rows tall (MR floats per k). The micro-kernel keeps an MR x NR tile of C in
 * 2*MR vector registers; per k it loads two vectors of B, broadcasts MR values
 * of A and does 2*MR multiply-adds. Packing turns all four transpose cases into
 * the same contiguous access. A 4 x 8 tile is what V8 keeps in registers
 * (6 x 8 and 8 x 8 spill); native AVX builds get a 4 x 16 tile, plain wasm a
 * scalar kernel. Narrow products are turned around (C^T = B^T A^T) so the
 * narrow side meets the short side of the tile, and products with fewer than
 * MR rows skip packing B.
 *
 * Determinism: every path computes each element of C the same way: products
 * summed in ascending k inside a KC block, starting from zero, each block then
 * added to C (or written, for the first block when beta is 0). So the bits
 * depend on neither pointer alignment, nor tile position, nor path (packed or
 * not, turned around or not); builds without FMA (both wasm builds) even agree
 * with each other. Which path runs depends on the sizes alone.
 *
 * Threads (pool.h): a product big enough to pay for it is cut into blocks of
 * whole rows or whole columns of C — never along K — and every element is
 * computed as above whatever the thread count. Per KC block, the calling
 * thread packs the factor all blocks share once, and each thread packs its
 * own part of the other. Each thread packs into its own buffers (thread 0
 * into the static ones; no allocation here), also when a task of the pool
 * calls these functions (they then run whole on that thread).
 */
#include "gemm.h"
#include "pool.h"
#include "simd.h"

#define MR 4        /* rows of the register tile                       */
#define NR (2 * VW) /* columns of the register tile: two vectors        */
#define KC 256      /* depth of one packed block (B strip: KC*NR floats) */
#define MC 64       /* rows of A packed at a time (multiple of MR)       */
#define NC 512      /* columns of B packed at a time (multiple of NR)    */

/* Plain wasm (no SIMD128) gets its own scalar micro-kernel, see below. */
#if defined(__wasm__) && !defined(__wasm_simd128__)
#define SCALAR_KERNEL 1
#else
#define SCALAR_KERNEL 0
#endif

_Static_assert(GEMM_WORKSPACE_FLOATS == MC * KC + KC * NC, "gemm.h's workspace size");

/* Packing buffers: a (MC/MR strips, KC, MR), b (NC/NR strips, KC, NR). */
typedef struct { float *a, *b; } workspace;

static float pack_a_buf[MC * KC];
static float pack_b_buf[KC * NC];

static workspace workspace_of(int thread) {
    float *w = pool_workspace(thread);
    if (!w) return (workspace){pack_a_buf, pack_b_buf};
    return (workspace){w, w + MC * KC};
}

static inline int min_int(int a, int b) { return a < b ? a : b; }

/* ---- reference ---------------------------------------------------------- */

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

/* ---- packing ------------------------------------------------------------ */

/* Packing only moves floats, so it may take any route: four at a time in a
 * 16-byte vector wherever the source allows (MR is 4). */
typedef float f4 __attribute__((vector_size(16)));
_Static_assert(MR == 4, "pack_a moves rows of A four at a time");

static inline f4 f4_load(const float *p) {
    f4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void f4_store(float *p, f4 v) { memcpy(p, &v, sizeof v); }

/* op(A)[mc, kc] -> strips of MR rows, zero-padded: dst[strip][k][r]. */
static void pack_a(int ta, int mc, int kc, const float *A, int lda, float *dst) {
    for (int i0 = 0; i0 < mc; i0 += MR, dst += (size_t)MR * kc) {
        int mr = min_int(MR, mc - i0);
        if (ta && mr == MR) { /* op(A)[i][k] = A[k][i]: MR contiguous floats per k */
            for (int k = 0; k < kc; k++) f4_store(dst + k * MR, f4_load(A + (size_t)k * lda + i0));
        } else if (ta) {
            for (int k = 0; k < kc; k++) {
                const float *src = A + (size_t)k * lda + i0;
                for (int r = 0; r < MR; r++) dst[k * MR + r] = r < mr ? src[r] : 0.0f;
            }
        } else if (mr == MR) { /* four rows: 4 x 4 blocks turned over */
            const float *a0 = A + (size_t)i0 * lda, *a1 = a0 + lda;
            const float *a2 = a1 + lda, *a3 = a2 + lda;
            int k = 0;
            for (; k + 4 <= kc; k += 4) {
                f4 r0 = f4_load(a0 + k), r1 = f4_load(a1 + k), r2 = f4_load(a2 + k), r3 = f4_load(a3 + k);
                f4 t0 = __builtin_shufflevector(r0, r1, 0, 4, 1, 5); /* a0k a1k a0k+1 a1k+1 */
                f4 t1 = __builtin_shufflevector(r2, r3, 0, 4, 1, 5);
                f4 t2 = __builtin_shufflevector(r0, r1, 2, 6, 3, 7);
                f4 t3 = __builtin_shufflevector(r2, r3, 2, 6, 3, 7);
                f4_store(dst + k * MR, __builtin_shufflevector(t0, t1, 0, 1, 4, 5));
                f4_store(dst + (k + 1) * MR, __builtin_shufflevector(t0, t1, 2, 3, 6, 7));
                f4_store(dst + (k + 2) * MR, __builtin_shufflevector(t2, t3, 0, 1, 4, 5));
                f4_store(dst + (k + 3) * MR, __builtin_shufflevector(t2, t3, 2, 3, 6, 7));
            }
            for (; k < kc; k++) {
                dst[k * MR + 0] = a0[k];
                dst[k * MR + 1] = a1[k];
                dst[k * MR + 2] = a2[k];
                dst[k * MR + 3] = a3[k];
            }
        } else {
            for (int k = 0; k < kc; k++)
                for (int r = 0; r < MR; r++)
                    dst[k * MR + r] = r < mr ? A[(size_t)(i0 + r) * lda + k] : 0.0f;
        }
    }
}

/* op(B)[kc, nc] -> strips of NR columns, zero-padded: strip s starts at
 * dst + s * strip_stride and holds kc rows of NR floats. */
static void pack_b(int tb, int kc, int nc, const float *B, int ldb, float *dst,
                   size_t strip_stride) {
    for (int j0 = 0; j0 < nc; j0 += NR, dst += strip_stride) {
        int nr = min_int(NR, nc - j0);
        if (tb) { /* op(B)[k][j] = B[j][k]: read along k, write every NR */
            for (int c = 0; c < NR; c++) {
                if (c < nr) {
                    const float *src = B + (size_t)(j0 + c) * ldb;
                    for (int k = 0; k < kc; k++) dst[(size_t)k * NR + c] = src[k];
                } else {
                    for (int k = 0; k < kc; k++) dst[(size_t)k * NR + c] = 0.0f;
                }
            }
        } else if (nr == NR) {
            for (int k = 0; k < kc; k++) {
                const float *src = B + (size_t)k * ldb + j0;
                float *d = dst + (size_t)k * NR;
                for (int c = 0; c < NR; c += 4) f4_store(d + c, f4_load(src + c));
            }
        } else {
            for (int k = 0; k < kc; k++) {
                const float *src = B + (size_t)k * ldb + j0;
                float *d = dst + (size_t)k * NR;
                for (int c = 0; c < NR; c++) d[c] = c < nr ? src[c] : 0.0f;
            }
        }
    }
}

/* ---- micro-kernel ------------------------------------------------------- */

#if !SCALAR_KERNEL

static inline void store_row(float *c, vf lo, vf hi, int accumulate) {
    if (accumulate) { /* C + acc, the same order as every other path */
        lo = vf_load(c) + lo;
        hi = vf_load(c + VW) + hi;
    }
    vf_store(c, lo);
    vf_store(c + VW, hi);
}

/* C[MR, NR] (=|+=) pa[kc, MR]^T-strip x pb[kc, NR]-strip. The old C is never
 * read unless accumulating, so NaN garbage in it cannot leak through. */
static void micro_kernel(int kc, const float *pa, const float *pb, float *c,
                         int ldc, int accumulate) {
    vf c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0};
    vf c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
    for (int k = 0; k < kc; k++, pa += MR, pb += NR) {
        vf b0 = vf_load(pb), b1 = vf_load(pb + VW), a;
        a = vf_splat(pa[0]); c00 += a * b0; c01 += a * b1;
        a = vf_splat(pa[1]); c10 += a * b0; c11 += a * b1;
        a = vf_splat(pa[2]); c20 += a * b0; c21 += a * b1;
        a = vf_splat(pa[3]); c30 += a * b0; c31 += a * b1;
    }
    store_row(c, c00, c01, accumulate);
    store_row(c + ldc, c10, c11, accumulate);
    store_row(c + 2 * (size_t)ldc, c20, c21, accumulate);
    store_row(c + 3 * (size_t)ldc, c30, c31, accumulate);
}

#else /* SCALAR_KERNEL */
/* Plain wasm: clang would split the vector kernel into 32 scalar accumulators
 * and V8 would spill them. Sweep the same tile in 4 x 2 pieces instead (8
 * accumulators; 4 x 1, 2 x 4, 4 x 4 and 1 x 8 measured slower). Each element
 * still sums in ascending k, so the results equal the SIMD build's. */
static void micro_kernel(int kc, const float *pa, const float *pb, float *c,
                         int ldc, int accumulate) {
    for (int j0 = 0; j0 < NR; j0 += 2) {
        float c00 = 0, c01 = 0, c10 = 0, c11 = 0, c20 = 0, c21 = 0, c30 = 0, c31 = 0;
        const float *a = pa, *b = pb + j0;
        for (int k = 0; k < kc; k++, a += MR, b += NR) {
            float b0 = b[0], b1 = b[1];
            c00 += a[0] * b0; c01 += a[0] * b1;
            c10 += a[1] * b0; c11 += a[1] * b1;
            c20 += a[2] * b0; c21 += a[2] * b1;
            c30 += a[3] * b0; c31 += a[3] * b1;
        }
        float tile[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < 2; j++) {
                float *d = c + (size_t)i * ldc + j0 + j;
                *d = accumulate ? *d + tile[i][j] : tile[i][j];
            }
    }
}
#endif /* SCALAR_KERNEL */

/* An edge tile (mr < MR or nr < NR), or a C with column stride cs != 1:
 * the same kernel into a local tile, then copied. */
static void edge_kernel(int mr, int nr, int kc, const float *pa, const float *pb,
                        float *c, size_t rs, size_t cs, int accumulate) {
    float tile[MR * NR];
    micro_kernel(kc, pa, pb, tile, NR, 0);
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            float *d = c + i * rs + j * cs;
            *d = accumulate ? *d + tile[i * NR + j] : tile[i * NR + j];
        }
}

/* C[mc, nc] (=|+=) packed A block x packed B strips (strip stride in floats).
 * C element (i, j) is at C[i * rs + j * cs]. */
static void macro_kernel(int mc, int nc, int kc, const float *pa, const float *pb,
                         size_t strip_stride, float *C, size_t rs, size_t cs,
                         int accumulate) {
    for (int j0 = 0; j0 < nc; j0 += NR, pb += strip_stride) {
        int nr = min_int(NR, nc - j0);
        for (int i0 = 0; i0 < mc; i0 += MR) {
            int mr = min_int(MR, mc - i0);
            const float *a = pa + (size_t)i0 * kc;
            float *c = C + i0 * rs + j0 * cs;
            if (mr == MR && nr == NR && cs == 1)
                micro_kernel(kc, a, pb, c, (int)rs, accumulate);
            else
                edge_kernel(mr, nr, kc, a, pb, c, rs, cs, accumulate);
        }
    }
}

/* K == 0: the product is empty, C = beta * C. */
static void scale_empty(int M, int N, float beta, float *C, int ldc) {
    if (beta != 0.0f) return;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = 0.0f;
}

/* The blocked loops of gemm, C element (i, j) at C[i * rs + j * cs]. */
static void gemm_blocked(workspace ws, int ta, int tb, int M, int N, int K, const float *A,
                         int lda, const float *B, int ldb, float beta, float *C, size_t rs,
                         size_t cs) {
    for (int jc = 0; jc < N; jc += NC) {
        int nc = min_int(NC, N - jc);
        for (int pc = 0; pc < K; pc += KC) {
            int kc = min_int(KC, K - pc);
            const float *b = tb ? B + (size_t)jc * ldb + pc : B + (size_t)pc * ldb + jc;
            pack_b(tb, kc, nc, b, ldb, ws.b, (size_t)kc * NR);
            int accumulate = pc > 0 || beta != 0.0f;
            for (int ic = 0; ic < M; ic += MC) {
                int mc = min_int(MC, M - ic);
                const float *a = ta ? A + (size_t)pc * lda + ic : A + (size_t)ic * lda + pc;
                pack_a(ta, mc, kc, a, lda, ws.a);
                macro_kernel(mc, nc, kc, ws.a, ws.b, (size_t)kc * NR,
                             C + ic * rs + jc * cs, rs, cs, accumulate);
            }
        }
    }
}

/* ---- skinny products ---------------------------------------------------- */

/* acc[0..NR) = sum over k < kc of a[k * a_step] * b[k * ldb + j], j < nr,
 * in ascending k: one row of a micro-kernel tile. Short strips are padded
 * through a local row so that they run the very same vector arithmetic
 * (a scalar loop could be contracted to FMA differently in native builds). */
static void skinny_strip(int kc, const float *a, size_t a_step, const float *b,
                         int ldb, int nr, float *acc) {
    vf acc0 = {0}, acc1 = {0};
    if (nr == NR) {
        for (int k = 0; k < kc; k++) {
            vf ak = vf_splat(a[k * a_step]);
            const float *bk = b + (size_t)k * ldb;
            acc0 += ak * vf_load(bk);
            acc1 += ak * vf_load(bk + VW);
        }
    } else {
        float row[NR] = {0};
        for (int k = 0; k < kc; k++) {
            vf ak = vf_splat(a[k * a_step]);
            memcpy(row, b + (size_t)k * ldb, sizeof(float) * nr);
            acc0 += ak * vf_load(row);
            acc1 += ak * vf_load(row + VW);
        }
    }
    vf_store(acc, acc0);
    vf_store(acc + VW, acc1);
}

/* C (=|+=) op(A)[M, K] x B[K, N] for M < MR with B row-major (tb == 0), such
 * as a one-output head's dV = dY^T H: each element of B is used fewer than MR
 * times, so packing it would cost more than it saves. The sums run in the same
 * order as in the blocked path (k ascending inside each KC block, the blocks
 * added to C in turn), so the bits are the same as there. */
static void gemm_skinny(int ta, int M, int N, int K, const float *A, int lda,
                        const float *B, int ldb, float beta, float *C, size_t rs,
                        size_t cs) {
    for (int pc = 0; pc < K; pc += KC) {
        int kc = min_int(KC, K - pc);
        int accumulate = pc > 0 || beta != 0.0f;
        for (int i = 0; i < M; i++) {
            const float *a = ta ? A + (size_t)pc * lda + i : A + (size_t)i * lda + pc;
            size_t a_step = ta ? (size_t)lda : 1;
            for (int j0 = 0; j0 < N; j0 += NR) {
                int nr = min_int(NR, N - j0);
                float acc[NR];
                skinny_strip(kc, a, a_step, B + (size_t)pc * ldb + j0, ldb, nr, acc);
                float *c = C + i * rs + j0 * cs;
                for (int j = 0; j < nr; j++) {
                    float *d = c + j * cs;
                    *d = accumulate ? *d + acc[j] : acc[j];
                }
            }
        }
    }
}

static size_t round_up(int n, int r) { return (size_t)(n + r - 1) / r * r; }

/* ---- serial products, on one thread's buffers ---------------------------- */

static void gemm_serial(workspace ws, int ta, int tb, int M, int N, int K, const float *A,
                        int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { scale_empty(M, N, beta, C, ldc); return; }
    /* A narrow C (N = 1 for a one-feature input) wastes most of an NR-wide
     * tile; computing C^T = op(B)^T op(A)^T puts the narrow side on the
     * MR-tall one. Each element's sum is the same either way (a*b == b*a),
     * so the choice, made from the sizes alone, never changes the bits. */
    size_t rs = (size_t)ldc, cs = 1;
    if (round_up(N, MR) * round_up(M, NR) < round_up(M, MR) * round_up(N, NR)) {
        int t = ta; ta = !tb; tb = !t;
        t = M; M = N; N = t;
        const float *p = A; A = B; B = p;
        t = lda; lda = ldb; ldb = t;
        rs = 1; cs = (size_t)ldc;
    }
    if (M < MR && !tb)
        gemm_skinny(ta, M, N, K, A, lda, B, ldb, beta, C, rs, cs);
    else
        gemm_blocked(ws, ta, tb, M, N, K, A, lda, B, ldb, beta, C, rs, cs);
}

/* Does gemm_shared_a take the two plain products instead of its own loop? */
static int shared_a_apart(int M, int K, int N1, int N2) {
    size_t strips = round_up(N1, NR) / NR + round_up(N2, NR) / NR;
    return M < MR || N1 < NR || N2 < NR || strips * NR > NC || K <= 0;
}

/* A short K (an input of a few features: X = 1 in the LONG workloads): a
 * tile of the micro-kernel would be little but its set-up, packing and
 * stores, so each row of A runs along the packed strips directly, summing
 * as micro_kernel does (from zero, k ascending, then added to C). */
#define THIN_K 8

static void packed_thin(int M, int N, int K, const float *A, int lda, const float *packed,
                        size_t strip_stride, int accumulate, float *C, int ldc) {
    for (int i = 0; i < M; i++) {
        const float *a = A + (size_t)i * lda, *pb = packed;
        float *c = C + (size_t)i * ldc;
        for (int j0 = 0; j0 < N; j0 += NR, pb += strip_stride) {
            vf lo = {0}, hi = {0};
            for (int k = 0; k < K; k++) {
                vf ak = vf_splat(a[k]);
                lo += ak * vf_load(pb + k * NR);
                hi += ak * vf_load(pb + k * NR + VW);
            }
            int nr = min_int(NR, N - j0);
#if !SCALAR_KERNEL
            if (nr == NR) {
                store_row(c + j0, lo, hi, accumulate);
                continue;
            }
#endif
            float tile[NR];
            vf_store(tile, lo);
            vf_store(tile + VW, hi);
            for (int j = 0; j < nr; j++) c[j0 + j] = accumulate ? c[j0 + j] + tile[j] : tile[j];
        }
    }
}

static void packed_serial(workspace ws, int M, int N, int K, const float *A, int lda,
                          const float *packed, size_t strip_stride, float beta, float *C,
                          int ldc) {
    if (K <= THIN_K) {
        packed_thin(M, N, K, A, lda, packed, strip_stride, beta != 0.0f, C, ldc);
        return;
    }
    for (int pc = 0; pc < K; pc += KC) {
        int kc = min_int(KC, K - pc);
        int accumulate = pc > 0 || beta != 0.0f;
        for (int ic = 0; ic < M; ic += MC) {
            int mc = min_int(MC, M - ic);
            pack_a(0, mc, kc, A + (size_t)ic * lda + pc, lda, ws.a);
            macro_kernel(mc, N, kc, ws.a, packed + (size_t)pc * NR, strip_stride,
                         C + (size_t)ic * ldc, (size_t)ldc, 1, accumulate);
        }
    }
}

/* ---- the split among threads ---------------------------------------------- */

/* The split products pack their shared factor once per KC block, on the
 * calling thread, into its own buffer (workspace_of(pool_self())), which the
 * chunks then only read: a block of rows of C needs all of op(B)'s block, a
 * block of columns all of op(A)'s. Each chunk packs its own part of the
 * other factor into its thread's other buffer. */

/* Rows: one packing of a block of op(A)'s rows serves one or two products
 * (gemm_shared_a's C1 and C2; a plain gemm has N2 = 0). */
typedef struct {
    int ta, M, lda, kc, step, accumulate, N1, N2, ldc1, ldc2;
    const float *A;                 /* at op(A)[0][pc] */
    const float *packed1, *packed2; /* the B blocks, packed by the calling thread */
    float *C1, *C2;
} rows_job;

/* Rows [at, at + step) of C1 (and C2) += their block of op(A) x the packed blocks. */
static void rows_chunk(void *job, int chunk, int thread) {
    const rows_job *j = job;
    workspace ws = workspace_of(thread);
    size_t stride = (size_t)j->kc * NR;
    int end = min_int(j->M, (chunk + 1) * j->step);
    for (int ic = chunk * j->step; ic < end; ic += MC) {
        int mc = min_int(MC, end - ic);
        pack_a(j->ta, mc, j->kc, j->ta ? j->A + ic : j->A + (size_t)ic * j->lda, j->lda, ws.a);
        macro_kernel(mc, j->N1, j->kc, ws.a, j->packed1, stride, j->C1 + (size_t)ic * j->ldc1,
                     (size_t)j->ldc1, 1, j->accumulate);
        if (j->N2 > 0)
            macro_kernel(mc, j->N2, j->kc, ws.a, j->packed2, stride, j->C2 + (size_t)ic * j->ldc2,
                         (size_t)j->ldc2, 1, j->accumulate);
    }
}

/* Columns: the packed block of op(A) (at most MC rows) x each chunk's block of op(B). */
typedef struct {
    int tb, M, N, ldb, kc, step, accumulate;
    const float *B;      /* at op(B)[pc][0] */
    const float *packed; /* op(A)'s block, packed by the calling thread */
    float *C;
    int ldc;
} cols_job;

/* Columns [at, at + step) of C += the packed block of op(A) x their block of op(B). */
static void cols_chunk(void *job, int chunk, int thread) {
    const cols_job *j = job;
    workspace ws = workspace_of(thread);
    int end = min_int(j->N, (chunk + 1) * j->step);
    for (int jc = chunk * j->step; jc < end; jc += NC) {
        int nc = min_int(NC, end - jc);
        pack_b(j->tb, j->kc, nc, j->tb ? j->B + (size_t)jc * j->ldb : j->B + jc, j->ldb, ws.b,
               (size_t)j->kc * NR);
        macro_kernel(j->M, nc, j->kc, j->packed, ws.b, (size_t)j->kc * NR, j->C + jc,
                     (size_t)j->ldc, 1, j->accumulate);
    }
}

/* C (=|+=) op(A) op(B) in `chunks` blocks of `step` rows (by_rows) or
 * columns. By rows, op(B) is packed NC columns at a time (a chunk of rows
 * covers every column); by columns, op(A) has at most MC rows. */
static void gemm_split(int by_rows, int chunks, int step, int ta, int tb, int M, int N, int K,
                       const float *A, int lda, const float *B, int ldb, float beta, float *C,
                       int ldc) {
    workspace own = workspace_of(pool_self());
    for (int jc = 0; jc < (by_rows ? N : 1); jc += NC) {
        int nc = by_rows ? min_int(NC, N - jc) : N;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = min_int(KC, K - pc), accumulate = pc > 0 || beta != 0.0f;
            const float *a = ta ? A + (size_t)pc * lda : A + pc, *b = tb ? B + pc : B + (size_t)pc * ldb;
            if (by_rows) {
                pack_b(tb, kc, nc, tb ? b + (size_t)jc * ldb : b + jc, ldb, own.b, (size_t)kc * NR);
                rows_job j = {ta, M, lda, kc, step, accumulate, nc, 0, ldc, 0, a, own.b, NULL, C + jc, NULL};
                pool_run(chunks, rows_chunk, &j, 2.0 * M * nc * kc);
            } else {
                pack_a(ta, M, kc, a, lda, own.a);
                cols_job j = {tb, M, N, ldb, kc, step, accumulate, b, own.a, C, ldc};
                pool_run(chunks, cols_chunk, &j, 2.0 * M * N * kc);
            }
        }
    }
}

/* The other splits: each chunk is the serial product of its rows or columns
 * of C, packing all of the shared factor itself. */
typedef struct {
    int ta, tb, M, N, K, lda, ldb, ldc, by_rows, step;
    const float *A, *B;
    float beta;
    float *C;
} gemm_job;

static void gemm_chunk(void *job, int chunk, int thread) {
    const gemm_job *j = job;
    int at = chunk * j->step;
    if (j->by_rows) {
        const float *a = j->ta ? j->A + at : j->A + (size_t)at * j->lda;
        gemm_serial(workspace_of(thread), j->ta, j->tb, min_int(j->step, j->M - at), j->N, j->K,
                    a, j->lda, j->B, j->ldb, j->beta, j->C + (size_t)at * j->ldc, j->ldc);
    } else {
        const float *b = j->tb ? j->B + (size_t)at * j->ldb : j->B + at;
        gemm_serial(workspace_of(thread), j->ta, j->tb, j->M, min_int(j->step, j->N - at), j->K,
                    j->A, j->lda, b, j->ldb, j->beta, j->C + at, j->ldc);
    }
}

typedef struct {
    int M, N, K, lda, ldc, step;
    const float *A, *packed;
    float beta;
    float *C;
} packed_job;

/* Columns [at, at + step) of C: whole strips of the packed matrix. */
static void packed_chunk(void *job, int chunk, int thread) {
    const packed_job *j = job;
    int at = chunk * j->step;
    size_t stride = (size_t)j->K * NR;
    packed_serial(workspace_of(thread), j->M, min_int(j->step, j->N - at), j->K, j->A, j->lda,
                  j->packed + (size_t)(at / NR) * stride, stride, j->beta, j->C + at, j->ldc);
}

/* The narrowest chunk of a split: one packed block of A's rows (MC), and
 * whole strips of B. */
#define SPLIT_MIN 64
_Static_assert(SPLIT_MIN % MC == 0 && SPLIT_MIN % NR == 0, "chunks of whole packed blocks");

/* ---- public ------------------------------------------------------------- */

/* Split along the longer side of C: the factor all chunks share, packed
 * once, is then the smaller one. */
void gemm(int ta, int tb, int M, int N, int K, const float *A, int lda,
          const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    int by_rows = M >= N, step = 0;
    int chunks = K > 0 ? pool_plan(by_rows ? M : N, SPLIT_MIN, 2.0 * M * N * K, &step) : 1;
    if (chunks <= 1) {
        gemm_serial(workspace_of(pool_self()), ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
    } else if (by_rows ? N >= NR : M >= MR && M <= MC) {
        gemm_split(by_rows, chunks, step, ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc);
    } else { /* a C narrower than a tile (the serial code turns it around), or
              * by columns, fewer than MR rows (taken without packing) or more
              * than one packed block of A holds */
        gemm_job j = {ta, tb, M, N, K, lda, ldb, ldc, by_rows, step, A, B, beta, C};
        pool_run(chunks, gemm_chunk, &j, 2.0 * M * N * K);
    }
}

void gemm_shared_a(int ta, int M, int K, const float *A, int lda,
                   int N1, const float *B1, int ldb1, float *C1, int ldc1,
                   int N2, const float *B2, int ldb2, float *C2, int ldc2, float beta) {
    if (shared_a_apart(M, K, N1, N2)) {
        gemm(ta, 0, M, N1, K, A, lda, B1, ldb1, beta, C1, ldc1);
        gemm(ta, 0, M, N2, K, A, lda, B2, ldb2, beta, C2, ldc2);
        return;
    }
    /* one chunk on one thread is the serial loop: the same packing, in order */
    int step = 0, chunks = pool_plan(M, SPLIT_MIN, 2.0 * M * K * (N1 + N2), &step);
    float *own = workspace_of(pool_self()).b;
    size_t strips1 = round_up(N1, NR) / NR;
    for (int pc = 0; pc < K; pc += KC) {
        int kc = min_int(KC, K - pc);
        size_t stride = (size_t)kc * NR;
        rows_job j = {ta, M, lda, kc, step, pc > 0 || beta != 0.0f, N1, N2, ldc1, ldc2,
                      ta ? A + (size_t)pc * lda : A + pc, own, own + strips1 * stride, C1, C2};
        pack_b(0, kc, N1, B1 + (size_t)pc * ldb1, ldb1, own, stride);
        pack_b(0, kc, N2, B2 + (size_t)pc * ldb2, ldb2, own + strips1 * stride, stride);
        if (chunks > 1)
            pool_run(chunks, rows_chunk, &j, 2.0 * M * kc * (N1 + N2));
        else
            rows_chunk(&j, 0, pool_self());
    }
}

size_t gemm_packed_size(int K, int N) {
    if (K <= 0 || N <= 0) return 0;
    return (size_t)K * (size_t)((N + NR - 1) / NR * NR);
}

/* Layout: strips of NR columns, strip s at packed + s * K * NR, each K rows of
 * NR floats; the last strip is zero-padded. */
void gemm_pack_b(int tb, int K, int N, const float *B, int ldb, float *packed) {
    if (K <= 0 || N <= 0) return;
    pack_b(tb, K, N, B, ldb, packed, (size_t)K * NR);
}

void gemm_packed(int M, int N, int K, const float *A, int lda,
                 const float *packed, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { scale_empty(M, N, beta, C, ldc); return; }
    packed_job j = {M, N, K, lda, ldc, 0, A, packed, beta, C};
    int chunks = pool_plan(N, SPLIT_MIN, 2.0 * M * N * K, &j.step);
    if (chunks > 1)
        pool_run(chunks, packed_chunk, &j, 2.0 * M * N * K);
    else
        packed_serial(workspace_of(pool_self()), M, N, K, A, lda, packed, (size_t)K * NR, beta, C, ldc);
}
