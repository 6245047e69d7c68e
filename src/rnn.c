/* rnn.c — the vanilla RNN cell: one step forward and one step back
 * (formulas in cells.h). */
#include "cells.h"
#include "gemm.h"
#include "vmath.h"

#include <stddef.h>
#include <string.h>

void rnn_forward_step(int B, int H, int relu, const float *U_fwd, const float *h_prev,
                      float *pre, float *h) {
    if (U_fwd) gemm_packed(B, H, H, h_prev, H, U_fwd, 1.0f, pre, H);
    if (relu) vec_relu(pre, B * H);
    else vec_tanh(pre, B * H);
    memcpy(h, pre, (size_t)B * H * sizeof(float));
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
