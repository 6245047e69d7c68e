/* backward.c — backpropagation through time (SPEC §4).
 *
 * Per layer, top down: the loop over t runs backwards and does only what is
 * sequential (the pre-activation gradients dG_t and dh_{t-1} = dG_t U);
 * the weight gradients are then big products over all T*B rows at once.
 * Gradients accumulate (+=) into m->grads, zeroed once per step. */
#include "model.h"
#include "gemm.h"
#include "simd.h"

#include <math.h>
#include <string.h>

/* ‖p‖, for the flow curves */
static float l2_norm(const float *p, size_t n) { return (float)grad_norm_global(p, n); }

/* db += column sums of D (rows x cols, leading dimension ld) */
static void add_column_sums(float *db, const float *D, size_t rows, int cols, int ld) {
    for (size_t r = 0; r < rows; r++) {
        const float *d = D + r * ld;
        for (int j = 0; j < cols; j++) db[j] += d[j];
    }
}

/* ---------------------------------------------------------------- cells */

/* dh: total dL/dh_t (B, H). Writes dG_t, and dh_next = dL/dh_{t-1}. */
static void rnn_step_backward(rnnlab_model *m, int l, const float *h, const float *dh,
                              float *dg, float *dh_next) {
    int B = m->B, H = m->H;
    size_t n = (size_t)B * H;
    if (m->cfg.activation == RNNLAB_ACT_RELU)
        for (size_t i = 0; i < n; i++) dg[i] = h[i] > 0.0f ? dh[i] : 0.0f;
    else
        for (size_t i = 0; i < n; i++) dg[i] = dh[i] * (1.0f - h[i] * h[i]); /* tanh' = 1 - h² */
    gemm_packed(B, H, H, dg, H, m->packed + m->packed_bwd[l], 0.0f, dh_next, H);
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
#define AT_V(p) vf_load((p) + j)
#define ST_V(p, v) vf_store((p) + j, (v))
#define AT_S(p) ((p)[j])
#define ST_S(p, v) ((p)[j] = (v))

/* dc_next holds dL/dc_t from step t+1 on entry and dL/dc_{t-1} on exit;
 * returns ‖dL/dc_t‖ (total) for the flow curve. */
static float lstm_step_backward(rnnlab_model *m, int l, const float *a, const float *c_prev,
                                const float *tc, const float *dh, float *dg,
                                float *dh_next, float *dc_next) {
    int B = m->B, H = m->H, GH = 4 * H;
    float *dc_all = m->tmp_bh; /* (B, H): the total dL/dc_t, for its norm */
    for (int b = 0; b < B; b++) {
        const float *i = a + (size_t)b * GH, *f = i + H, *g = i + 2 * H, *o = i + 3 * H;
        const float *cp = c_prev + (size_t)b * H, *tcb = tc + (size_t)b * H, *dhb = dh + (size_t)b * H;
        float *di = dg + (size_t)b * GH, *df = di + H, *dgg = di + 2 * H, *dO = di + 3 * H;
        float *dcb = dc_next + (size_t)b * H, *dcs = dc_all + (size_t)b * H;
        int j = 0;
        for (; j + VW <= H; j += VW) LSTM_UNIT_BACKWARD(vf, 1.0f, AT_V, ST_V);
        for (; j < H; j++) LSTM_UNIT_BACKWARD(float, 1.0f, AT_S, ST_S);
    }
    gemm_packed(B, H, GH, dg, GH, m->packed + m->packed_bwd[l], 0.0f, dh_next, H);
    return l2_norm(dc_all, (size_t)B * H);
}

/* GRU: h = (1-z)⊙h' + z⊙n. aux is r⊙h' (reset before) or U_n h' + b_hn
 * (reset after); daux receives dL/d(U_n h' + b_hn) for reset after. */
static void gru_step_backward(rnnlab_model *m, int l, const float *a, const float *h_prev,
                              const float *aux, const float *dh, float *dg, float *daux,
                              float *dh_next) {
    int B = m->B, H = m->H, GH = 3 * H;
    int after = m->cfg.gru_reset_after;
    float *dtmp = m->tmp_bh;
    for (int b = 0; b < B; b++) { /* dn and dz first: they need nothing recurrent */
        const float *z = a + (size_t)b * GH + H, *n = z + H, *hp = h_prev + (size_t)b * H;
        const float *dhb = dh + (size_t)b * H;
        float *dz = dg + (size_t)b * GH + H, *dn = dz + H, *dnext = dh_next + (size_t)b * H;
        for (int j = 0; j < H; j++) {
            dn[j] = dhb[j] * z[j] * (1.0f - n[j] * n[j]);
            dz[j] = dhb[j] * (n[j] - hp[j]) * z[j] * (1.0f - z[j]);
            dnext[j] = dhb[j] * (1.0f - z[j]);
        }
    }
    if (after) {
        for (int b = 0; b < B; b++) { /* n = tanh(... + r⊙aux) */
            const float *r = a + (size_t)b * GH, *hn = aux + (size_t)b * H;
            float *dr = dg + (size_t)b * GH, *dn = dr + 2 * H, *dhn = daux + (size_t)b * H;
            for (int j = 0; j < H; j++) {
                dhn[j] = dn[j] * r[j];
                dr[j] = dn[j] * hn[j] * r[j] * (1.0f - r[j]);
            }
        }
        gemm_packed(B, H, H, daux, H, m->packed + m->packed_bwd_n[l], 1.0f, dh_next, H);
    } else {
        /* n = tanh(... + U_n (r⊙h')): dtmp = dL/d(r⊙h') = dn U_n */
        gemm_packed(B, H, H, dg + 2 * H, GH, m->packed + m->packed_bwd_n[l], 0.0f, dtmp, H);
        for (int b = 0; b < B; b++) {
            const float *r = a + (size_t)b * GH, *hp = h_prev + (size_t)b * H, *d = dtmp + (size_t)b * H;
            float *dr = dg + (size_t)b * GH, *dnext = dh_next + (size_t)b * H;
            for (int j = 0; j < H; j++) {
                dr[j] = d[j] * hp[j] * r[j] * (1.0f - r[j]);
                dnext[j] += d[j] * r[j];
            }
        }
    }
    gemm_packed(B, H, 2 * H, dg, GH, m->packed + m->packed_bwd[l], 1.0f, dh_next, H);
}

/* ---------------------------------------------------------------- layer */

/* dH (T, B, H) holds the gradient reaching each h_t from above (head or the
 * next layer). Produces the layer's parameter gradients, dL/d(input) into
 * din (T, B, X_l), and dh0/dc0. */
static void layer_backward(rnnlab_model *m, int l, const float *in, float *din) { /* din may be NULL */
    int B = m->B, T = m->T, H = m->H, G = m->G, GH = G * H;
    size_t BH = (size_t)B * H, TB = (size_t)T * B;
    const layer_offsets *lo = &m->lay[l];
    int lstm = m->cfg.cell == RNNLAB_CELL_LSTM, gru = m->cfg.cell == RNNLAB_CELL_GRU;
    const float *gates = m->gates + (size_t)l * TB * GH;
    const float *hs = m->hs + (size_t)l * (T + 1) * BH;
    const float *cs = lstm ? m->cs + (size_t)l * (T + 1) * BH : NULL;
    const float *tc = lstm ? m->tanh_c + (size_t)l * TB * H : NULL;
    const float *aux = gru ? m->aux + (size_t)l * TB * H : NULL;
    float *dh = m->dH, *dg = m->dgates;
    float *dh_next = m->dh_next, *dc_next = m->dc_next;
    memset(dh_next, 0, BH * sizeof(float));
    if (lstm) memset(dc_next, 0, BH * sizeof(float));

    for (int t = T - 1; t >= 0; t--) {
        float *dht = dh + (size_t)t * BH; /* becomes the total dL/dh_t */
        for (size_t i = 0; i < BH; i++) dht[i] += dh_next[i];
        m->flow_h[(size_t)l * T + t] = l2_norm(dht, BH);
        const float *a = gates + (size_t)t * B * GH;
        float *dgt = dg + (size_t)t * B * GH;
        if (lstm)
            m->flow_c[(size_t)l * T + t] = lstm_step_backward(
                m, l, a, cs + (size_t)t * BH, tc + (size_t)t * BH, dht, dgt, dh_next, dc_next);
        else if (gru)
            gru_step_backward(m, l, a, hs + (size_t)t * BH, aux + (size_t)t * BH, dht, dgt,
                              m->daux + (size_t)t * BH, dh_next);
        else
            rnn_step_backward(m, l, hs + (size_t)(t + 1) * BH, dht, dgt, dh_next);
    }
    memcpy(m->dh0 + (size_t)l * BH, dh_next, BH * sizeof(float));
    if (lstm) memcpy(m->dc0 + (size_t)l * BH, dc_next, BH * sizeof(float));

    /* weight gradients over all T*B rows at once */
    float *dW = m->grads + lo->W, *dU = m->grads + lo->U, *db = m->grads + lo->b;
    add_column_sums(db, dg, TB, GH, GH);
    if (!gru) { /* dW = dGᵀ X and dU = dGᵀ H_prev, dG packed once */
        gemm_shared_a(1, GH, (int)TB, dg, GH, lo->in, in, lo->in, dW, lo->in, H, hs, H, dU, H, 1.0f);
    } else {
        float *dUn = dU + (size_t)2 * H * H;
        gemm(1, 0, GH, lo->in, (int)TB, dg, GH, in, lo->in, 1.0f, dW, lo->in);
        gemm(1, 0, 2 * H, H, (int)TB, dg, GH, hs, H, 1.0f, dU, H);
        if (m->cfg.gru_reset_after) {
            gemm(1, 0, H, H, (int)TB, m->daux, H, hs, H, 1.0f, dUn, H);
            add_column_sums(m->grads + lo->bhn, m->daux, TB, H, H);
        } else {
            gemm(1, 0, H, H, (int)TB, dg + 2 * H, GH, aux, H, 1.0f, dUn, H);
        }
    }
    /* dL/d(input) = dG W */
    if (din) gemm(0, 0, (int)TB, lo->in, GH, dg, GH, m->params + lo->W, lo->in, 0.0f, din, lo->in);
}

/* ---------------------------------------------------------------- head */

/* dV, dc and the gradient reaching the top layer's h_t, into m->dH. */
static void head_backward(rnnlab_model *m) {
    int B = m->B, T = m->T, H = m->H, Y = m->Y;
    size_t BH = (size_t)B * H, TB = (size_t)T * B;
    const float *V = m->params + m->off_V;
    float *dV = m->grads + m->off_V, *dc = m->grads + m->off_c;
    const float *top = m->hs + (size_t)(m->L - 1) * (T + 1) * BH;
    if (m->cfg.output == RNNLAB_OUTPUT_SEQUENCE) {
        gemm(1, 0, Y, H, (int)TB, m->dyhat, Y, top + BH, H, 1.0f, dV, H);
        add_column_sums(dc, m->dyhat, TB, Y, Y);
        gemm(0, 0, (int)TB, H, Y, m->dyhat, Y, V, H, 0.0f, m->dH, H);
    } else {
        gemm(1, 0, Y, H, B, m->dyhat, Y, m->last_h, H, 1.0f, dV, H);
        add_column_sums(dc, m->dyhat, (size_t)B, Y, Y);
        memset(m->dH, 0, TB * H * sizeof(float));
        gemm(0, 0, B, H, Y, m->dyhat, Y, V, H, 0.0f, m->tmp_bh2, H);
        for (int b = 0; b < B; b++) {
            int t = m->last_t[b];
            if (t >= 0)
                memcpy(m->dH + ((size_t)t * B + b) * H, m->tmp_bh2 + (size_t)b * H, (size_t)H * sizeof(float));
        }
    }
}

void run_backward(rnnlab_model *m, int flags) {
    int B = m->B, T = m->T, H = m->H, X = m->X;
    int input_grads = flags & RUN_INPUT_GRADS;
    memset(m->grads, 0, m->n_params * sizeof(float));
    head_backward(m);
    for (int l = m->L - 1; l >= 0; l--) {
        const float *in = l == 0 ? m->xt : m->hs + ((size_t)(l - 1) * (T + 1) + 1) * B * H;
        /* (T, B, X_l); a training step has no use for dL/dx itself */
        float *din = l > 0 || input_grads ? m->dH_below : NULL;
        layer_backward(m, l, in, din);
        if (l > 0) memcpy(m->dH, din, (size_t)T * B * H * sizeof(float));
    }
    if (!input_grads) return;
    for (int b = 0; b < B; b++) /* time-major dL/dx back to batch-major */
        for (int t = 0; t < T; t++)
            memcpy(m->dx + ((size_t)b * T + t) * X, m->dH_below + ((size_t)t * B + b) * X,
                   (size_t)X * sizeof(float));
}
