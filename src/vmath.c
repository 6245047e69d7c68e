/* vmath.c — the array and scalar forms of vmath.h's sigmoid, tanh and
 * relu. */
#include "vmath.h"

/* Applies f over x[0..n): whole vectors, then the tail through a padded
 * vector, so every element sees the same arithmetic. */
#define APPLY_VF(f, x, n)                                    \
    do {                                                     \
        int i_ = 0;                                          \
        for (; i_ + VW <= (n); i_ += VW)                     \
            vf_store((x) + i_, f(vf_load((x) + i_)));        \
        if (i_ < (n)) {                                      \
            float tail_[VW] = {0};                           \
            memcpy(tail_, (x) + i_, sizeof(float) * ((n) - i_)); \
            vf_store(tail_, f(vf_load(tail_)));              \
            memcpy((x) + i_, tail_, sizeof(float) * ((n) - i_)); \
        }                                                    \
    } while (0)

void vec_sigmoid(float *x, int n) { APPLY_VF(sigmoid_vf, x, n); }
void vec_tanh(float *x, int n) { APPLY_VF(tanh_vf, x, n); }

void vec_relu(float *x, int n) { APPLY_VF(relu_vf, x, n); }

float scalar_sigmoid(float x) { return sigmoid_vf(vf_splat(x))[0]; }
float scalar_tanh(float x) { return tanh_vf(vf_splat(x))[0]; }
