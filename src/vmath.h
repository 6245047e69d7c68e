/* vmath.h — sigmoid and tanh, branch-free, no libm: one vector at a time
 * (static inline here, for loops that fuse them with other elementwise work,
 * lstm.c and gru.c) and over float arrays in place (vmath.c).
 *
 * exp(y), y in [-87, 88]: y = n ln2 + r with n = round(y / ln2) and
 * |r| <= ln2/2 (ln2 split in two parts so n*VM_LN2_HI is exact), then
 * e^r = 1 + r + r^2 q(r), q of degree 4 fitted to relative error 3e-9, and
 * 2^n built directly in the exponent bits (n stays in [-126, 127]).
 *
 *   sigmoid(x) = 1 / (1 + exp(-x)), exactly 0 below -88, and 1 once the
 *                float result rounds there (x > ~17); the limits are selected
 *                outside [-88, 87].
 *   tanh(x)    = x + x^3 p(x^2)                        for |x| < 0.55
 *                (p of degree 3, relative error 4e-8), else
 *              = sign(x) (1 - 2 / (exp(2|x|) + 1)),   and exactly ±1 from
 *                |x| = 9 on (the true value rounds to ±1 above 9.01).
 *
 * Error against double precision, measured over every float input (all
 * 2^32 bit patterns; the builds without FMA, wasm included, and -march=native
 * with FMA):
 *   absolute: sigmoid 8.9e-8, tanh 8.7e-8  (below one float ulp at 1, 1.19e-7)
 *   relative: sigmoid 1.5e-7 (outputs above FLT_MIN), tanh 1.8e-7 (x != 0).
 * tests/c/test_kernels.c enforces 1e-7 absolute and 2e-7 relative on a sample.
 * NaN in gives NaN out; ±Inf give the limits; tanh keeps the sign of zero.
 *
 * Every form runs the same vector code, lane by lane: the array forms (a
 * padded vector for the tail), the scalar forms (a broadcast value, lane 0)
 * and the fused loops agree bit for bit in every build.
 */
#ifndef RNNLAB_VMATH_H
#define RNNLAB_VMATH_H

#include "simd.h"

#define VM_LOG2E 1.44269504088896341f
#define VM_LN2_HI 0.693145751953125f      /* 15 significant bits */
#define VM_LN2_LO 1.42860682030941723e-6f /* ln2 - VM_LN2_HI */
#define VM_ROUND_MAGIC 12582912.0f        /* 1.5 * 2^23: adding it rounds to an integer */

/* e^y for y in [-87, 88]; NaN gives NaN, anything else outside gives garbage
 * (the callers select their limits there instead: cheaper than clamping, which
 * would sit on the critical path). */
static inline vf vm_exp_core(vf y) {
    vf shifted = y * VM_LOG2E + VM_ROUND_MAGIC; /* low mantissa bits now hold n */
    vf n = shifted - VM_ROUND_MAGIC;
    vf r = y - n * VM_LN2_HI;
    r = r - n * VM_LN2_LO;
    vf r2 = r * r; /* Estrin's scheme: shorter dependency chains than Horner */
    vf q01 = r * 1.66665206809e-1f + 4.99999934508e-1f;
    vf q23 = r * 8.36871065607e-3f + 4.16683875440e-2f;
    vf q = (r2 * 1.38146045195e-3f + q23) * r2 + q01;
    vf p = r2 * q + r + 1.0f;
    /* 2^n: the bits of VM_ROUND_MAGIC shifted left by 23 are all zero, so
     * shifting the bits of `shifted` leaves n << 23 (mod 2^32). */
    vu scale = ((vu)shifted << 23) + (vu)vi_splat(127 << 23);
    return p * (vf)scale;
}

static inline vf sigmoid_vf(vf x) {
    vf e = vm_exp_core(-x);
    vf s = 1.0f / (1.0f + e);
    s = vf_select(x > vf_splat(87.0f), vf_splat(1.0f), s); /* 1 - 1.6e-38 rounds to 1 */
    return vf_select(x < vf_splat(-88.0f), vf_splat(0.0f), s); /* NaN passes both */
}

static inline vf tanh_vf(vf x) {
    vi sign = (vi)x & vi_splat(INT32_MIN);
    vf a = (vf)((vi)x ^ sign);

    vf a2 = a * a; /* small |x|: odd polynomial, accurate relative to x */
    vf p = vf_splat(1.64376040689e-2f);
    p = p * a2 - 5.26718275895e-2f;
    p = p * a2 + 1.33207253216e-1f;
    p = p * a2 - 3.33329466513e-1f;
    vf small = a + a * a2 * p;

    vf e = vm_exp_core(a + a); /* large |x| */
    vf large = 1.0f - 2.0f / (e + 1.0f);

    vf t = vf_select(a < vf_splat(0.55f), small, large);
    t = vf_select(a > vf_splat(9.0f), vf_splat(1.0f), t); /* 1 - 3e-8 at 9 */
    return (vf)((vi)t | sign); /* tanh is odd: sign(x) tanh|x| */
}

/* x < 0 ? 0 : x, so that NaN stays NaN. */
static inline vf relu_vf(vf x) { return vf_pmax(x, vf_splat(0.0f)); }

void vec_sigmoid(float *x, int n); /* x <- 1 / (1 + exp(-x)) */
void vec_tanh(float *x, int n);    /* x <- tanh(x)           */
void vec_relu(float *x, int n);    /* x <- max(x, 0)         */
/* The same sigmoid/tanh as the vector forms, one value at a time. */
float scalar_sigmoid(float x);
float scalar_tanh(float x);

#endif
