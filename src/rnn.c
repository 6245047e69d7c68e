/* rnn.c — the vanilla RNN cell: one step forward and one step back
 * (formulas in cells.h). */
#include "cells.h"
#include "gemm.h"
#include "vmath.h"

#include <stddef.h>
#include <string.h>

/* h = pre = act(pre) over n floats in one pass: whole vectors, then the
 * tail through a padded vector (the same arithmetic as vec_tanh/vec_relu). */
#define ACTIVATE(act, pre, h, n)                                         \
    do {                                                                 \
        size_t i_ = 0;                                                   \
        for (; i_ + VW <= (n); i_ += VW) {                               \
            vf a_ = act(vf_load((pre) + i_));                            \
            vf_store((pre) + i_, a_);                                    \
            vf_store((h) + i_, a_);                                      \
        }                                                                \
        if (i_ < (n)) {                                                  \
            float tail_[VW] = {0};                                       \
            memcpy(tail_, (pre) + i_, sizeof(float) * ((n) - i_));       \
            vf_store(tail_, act(vf_load(tail_)));                        \
            memcpy((pre) + i_, tail_, sizeof(float) * ((n) - i_));       \
            memcpy((h) + i_, tail_, sizeof(float) * ((n) - i_));         \
        }                                                                \
    } while (0)

void rnn_forward_step(int B, int H, int relu, const float *U_fwd, const float *h_prev,
                      float *pre, float *h) {
    size_t n = (size_t)B * H;
    if (U_fwd) gemm_packed(B, H, H, h_prev, H, U_fwd, 1.0f, pre, H);
    if (relu) ACTIVATE(relu_vf, pre, h, n);
    else ACTIVATE(tanh_vf, pre, h, n);
}

void rnn_backward_step(int B, int H, int relu, const float *U_bwd, const float *h,
                       const float *dh, float *dpre, float *dh_prev) {
    size_t n = (size_t)B * H;
    if (relu)
        for (size_t i = 0; i < n; i++) dpre[i] = h[i] > 0.0f ? dh[i] : 0.0f;
    else
        for (size_t i = 0; i < n; i++) dpre[i] = dh[i] * (1.0f - h[i] * h[i]); /* tanh' = 1 - h² */
    if (U_bwd) gemm_packed(B, H, H, dpre, H, U_bwd, 0.0f, dh_prev, H);
}
