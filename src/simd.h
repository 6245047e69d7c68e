/* simd.h — one float vector type for every build, via GCC/Clang vector
 * extensions. clang lowers it to WebAssembly SIMD128 under -msimd128, gcc to
 * SSE, or to AVX when the target has it (native -march=native builds).
 * Without SIMD (plain wasm) clang splits each operation into scalar ones.
 *
 * VW is the number of floats per vector. Loads and stores go through memcpy,
 * so any float-aligned address works and no code path depends on alignment.
 */
#ifndef RNNLAB_SIMD_H
#define RNNLAB_SIMD_H

#include <stdint.h>
#include <string.h>
#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#elif defined(__SSE__)
#include <immintrin.h>
#endif

#if defined(__AVX__)
#define VW 8
#else
#define VW 4
#endif

typedef float vf __attribute__((vector_size(VW * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(VW * sizeof(int32_t))));
typedef uint32_t vu __attribute__((vector_size(VW * sizeof(uint32_t))));

static inline vf vf_load(const float *p) {
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void vf_store(float *p, vf v) { memcpy(p, &v, sizeof v); }

/* A broadcast that does no arithmetic (0 + x would turn -0 into +0). */
static inline vf vf_splat(float x) {
#if VW == 8
    return (vf){x, x, x, x, x, x, x, x};
#else
    return (vf){x, x, x, x};
#endif
}

static inline vi vi_splat(int32_t x) {
#if VW == 8
    return (vi){x, x, x, x, x, x, x, x};
#else
    return (vi){x, x, x, x};
#endif
}

/* Lanes where mask is all ones take a, the others b. */
static inline vf vf_select(vi mask, vf a, vf b) {
    return (vf)(((vi)a & mask) | ((vi)b & ~mask));
}

/* b < a ? b : a and a < b ? b : a, lane by lane, so a NaN in a passes
 * through. On wasm these are f32x4.pmin/pmax (one instruction in V8), which
 * clang does not pick by itself: its f32x4.min/max take several. */
static inline vf vf_pmin(vf a, vf b) {
#if defined(__wasm_simd128__)
    return (vf)wasm_f32x4_pmin((v128_t)a, (v128_t)b);
#else
    return vf_select(b < a, b, a);
#endif
}

static inline vf vf_pmax(vf a, vf b) {
#if defined(__wasm_simd128__)
    return (vf)wasm_f32x4_pmax((v128_t)a, (v128_t)b);
#else
    return vf_select(a < b, b, a);
#endif
}

/* Square root lane by lane, correctly rounded as sqrtf. */
static inline vf vf_sqrt(vf x) {
#if defined(__wasm_simd128__)
    return (vf)wasm_f32x4_sqrt((v128_t)x);
#elif VW == 8 && defined(__AVX__)
    return (vf)_mm256_sqrt_ps((__m256)x);
#elif defined(__SSE__)
    return (vf)_mm_sqrt_ps((__m128)x);
#else
    vf r;
    for (int i = 0; i < VW; i++) r[i] = __builtin_sqrtf(x[i]);
    return r;
#endif
}

/* All ones in the lanes of x that are infinite or NaN. */
static inline vi vf_nonfinite(vf x) {
    return ((vi)x & vi_splat(0x7f800000)) == vi_splat(0x7f800000);
}

/* Whether any lane of a mask is set. */
static inline int vi_any(vi mask) {
    int32_t lanes[VW];
    memcpy(lanes, &mask, sizeof lanes);
    int32_t any = 0;
    for (int i = 0; i < VW; i++) any |= lanes[i];
    return any != 0;
}

#endif
