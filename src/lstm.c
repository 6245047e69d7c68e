/* lstm.c — the LSTM cell: one step forward and one step back (formulas in
 * cells.h). */
#include "cells.h"
#include "gemm.h"
#include "vmath.h"

#include <stddef.h>

/* Accessors for the unit macros: a vector of units at j, or unit j alone. */
#define AT_V(p) vf_load((p) + j)
#define ST_V(p, v) vf_store((p) + j, (v))
#define AT_S(p) ((p)[j])
#define ST_S(p, v) ((p)[j] = (v))

/* One LSTM unit's step forward, all in one pass: the gates in place (their
 * pre-activations on entry), c, tanh c and h. Every argument is a vector of
 * units; the same arithmetic serves whole vectors and the scalar tail
 * (scalar_sigmoid and scalar_tanh run the vector code on one lane). */
#define LSTM_UNIT_FORWARD(T_, SIGMOID, TANH, at, st)                               \
    do {                                                                          \
        T_ i_ = SIGMOID(at(i)), f_ = SIGMOID(at(f));                              \
        T_ g_ = TANH(at(g)), o_ = SIGMOID(at(o));                                 \
        T_ c_ = f_ * at(cp) + i_ * g_; /* c = f⊙c' + i⊙g */                       \
        T_ tc_ = TANH(c_);                                                        \
        st(i, i_);                                                                \
        st(f, f_);                                                                \
        st(g, g_);                                                                \
        st(o, o_);                                                                \
        st(cb, c_);                                                               \
        st(tcb, tc_);                                                             \
        st(hb, o_ * tc_); /* h = o⊙tanh(c) */                                     \
    } while (0)

void lstm_forward_step(int B, int H, const float *U_fwd, const float *h_prev,
                       const float *c_prev, float *pre, float *h, float *c, float *tanh_c) {
    int GH = 4 * H;
    if (U_fwd) gemm_packed(B, GH, H, h_prev, H, U_fwd, 1.0f, pre, GH);
    for (int b = 0; b < B; b++) {
        float *i = pre + (size_t)b * GH, *f = i + H, *g = i + 2 * H, *o = i + 3 * H;
        const float *cp = c_prev + (size_t)b * H;
        float *cb = c + (size_t)b * H, *tcb = tanh_c + (size_t)b * H, *hb = h + (size_t)b * H;
        int j = 0;
        for (; j + VW <= H; j += VW) LSTM_UNIT_FORWARD(vf, sigmoid_vf, tanh_vf, AT_V, ST_V);
        for (; j < H; j++) LSTM_UNIT_FORWARD(float, scalar_sigmoid, scalar_tanh, AT_S, ST_S);
    }
}

/* One LSTM unit's step backward; every argument is a vector of units, and
 * the same arithmetic serves whole vectors and the scalar tail. */
#define LSTM_UNIT_BACKWARD(T_, ONE, at, st)                                          \
    do {                                                                            \
        T_ i_ = at(i), f_ = at(f), g_ = at(g), o_ = at(o), tc_ = at(tcb), dh_ = at(dhb); \
        T_ dc_ = at(dcb) + dh_ * o_ * (ONE - tc_ * tc_); /* through h = o⊙tanh(c) */ \
        st(dcs, dc_);                                                               \
        st(dO, dh_ * tc_ * o_ * (ONE - o_));                                        \
        st(di, dc_ * g_ * i_ * (ONE - i_));                                         \
        st(df, dc_ * at(cp) * f_ * (ONE - f_));                                     \
        st(dgg, dc_ * i_ * (ONE - g_ * g_));                                        \
        st(dcb, dc_ * f_); /* c_t = f⊙c_{t-1} + …: the additive highway */          \
    } while (0)

void lstm_backward_step(int B, int H, const float *U_bwd, const float *gates,
                        const float *c_prev, const float *tanh_c, const float *dh,
                        float *dpre, float *dh_prev, float *dc, float *dc_total) {
    int GH = 4 * H;
    for (int b = 0; b < B; b++) {
        const float *i = gates + (size_t)b * GH, *f = i + H, *g = i + 2 * H, *o = i + 3 * H;
        const float *cp = c_prev + (size_t)b * H, *tcb = tanh_c + (size_t)b * H;
        const float *dhb = dh + (size_t)b * H;
        float *di = dpre + (size_t)b * GH, *df = di + H, *dgg = di + 2 * H, *dO = di + 3 * H;
        float *dcb = dc + (size_t)b * H, *dcs = dc_total + (size_t)b * H;
        int j = 0;
        for (; j + VW <= H; j += VW) LSTM_UNIT_BACKWARD(vf, 1.0f, AT_V, ST_V);
        for (; j < H; j++) LSTM_UNIT_BACKWARD(float, 1.0f, AT_S, ST_S);
    }
    if (U_bwd) gemm_packed(B, H, GH, dpre, GH, U_bwd, 0.0f, dh_prev, H);
}
