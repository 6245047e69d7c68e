/* forward.c — the forward pass: checks on the batch, the three cells over
 * all time steps, the linear head and the losses (SPEC §1, §3). */
#include "model.h"
#include "gemm.h"
#include "vmath.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- checks */

static rnnlab_status check_finite(rnnlab_model *m, const float *p, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            return set_error(m, RNNLAB_E_NONFINITE, "%s[%zu] is %s: expected finite numbers",
                             name, i, isnan(p[i]) ? "NaN" : "infinite");
    return RNNLAB_OK;
}

static rnnlab_status check_batch(rnnlab_model *m, int flags) {
    size_t BT = (size_t)m->B * m->T, LBH = (size_t)m->L * m->B * m->H;
    rnnlab_status st = check_finite(m, m->x, BT * m->X, "x");
    if (!st && (flags & RNNLAB_USE_H0)) st = check_finite(m, m->h0, LBH, "h0");
    if (!st && (flags & RNNLAB_USE_H0) && m->cfg.cell == RNNLAB_CELL_LSTM)
        st = check_finite(m, m->c0, LBH, "c0");
    if (st) return st;
    if (flags & RNNLAB_USE_MASK)
        for (size_t i = 0; i < BT; i++)
            if (m->mask[i] != 0.0f && m->mask[i] != 1.0f)
                return set_error(m, RNNLAB_E_INVALID, "mask[%zu] is %g: expected 0 or 1", i,
                                 (double)m->mask[i]);
    return RNNLAB_OK;
}

static void pick_last_steps(rnnlab_model *m, int flags);

/* Whether the target row of position (b, t) counts (t = -1: 'last' output). */
static int row_counts(const rnnlab_model *m, int flags, int b, int t) {
    if (m->cfg.output == RNNLAB_OUTPUT_LAST) return m->last_t[b] >= 0;
    return !(flags & RNNLAB_USE_MASK) || m->mask[(size_t)b * m->T + t] != 0.0f;
}

/* Targets are checked where they count: padding may hold anything. */
static rnnlab_status check_targets(rnnlab_model *m, int flags) {
    int last = m->cfg.output == RNNLAB_OUTPUT_LAST, Tr = last ? 1 : m->T, Y = m->Y;
    for (int b = 0; b < m->B; b++)
        for (int t = 0; t < Tr; t++) {
            if (!row_counts(m, flags, b, t)) continue;
            size_t row = (size_t)b * Tr + t;
            if (m->cfg.loss == RNNLAB_LOSS_MSE) {
                for (int k = 0; k < Y; k++)
                    if (!isfinite(m->y[row * Y + k]))
                        return set_error(m, RNNLAB_E_NONFINITE,
                                         "y[%zu] is %s: expected finite numbers", row * Y + k,
                                         isnan(m->y[row * Y + k]) ? "NaN" : "infinite");
            } else if (m->labels[row] < 0 || m->labels[row] >= Y) {
                return set_error(m, RNNLAB_E_INVALID,
                                 "labels[%zu] is %d: expected a class index from 0 to %d", row,
                                 m->labels[row], Y - 1);
            }
        }
    return RNNLAB_OK;
}

/* ---------------------------------------------------------------- packing */

/* Packs U once per optimiser step: h U^T for the forward loop and dG U for
 * the backward loop (the GRU keeps its r,z blocks apart from the n block). */
static void pack_recurrent(rnnlab_model *m) {
    int H = m->H, GH = m->G * m->H;
    for (int l = 0; l < m->L; l++) {
        const float *U = m->params + m->lay[l].U;
        if (m->cfg.cell == RNNLAB_CELL_GRU) {
            const float *Un = U + (size_t)2 * H * H;
            gemm_pack_b(1, H, 2 * H, U, H, m->packed + m->packed_fwd[l]);
            gemm_pack_b(1, H, H, Un, H, m->packed + m->packed_fwd_n[l]);
            gemm_pack_b(0, 2 * H, H, U, H, m->packed + m->packed_bwd[l]);
            gemm_pack_b(0, H, H, Un, H, m->packed + m->packed_bwd_n[l]);
        } else {
            gemm_pack_b(1, H, GH, U, H, m->packed + m->packed_fwd[l]);
            gemm_pack_b(0, GH, H, U, H, m->packed + m->packed_bwd[l]);
        }
    }
    m->packed_valid = 1;
}

/* ---------------------------------------------------------------- cells */

/* Every cell step receives pre = W x_t + b (B rows of G*H) and h_prev. */

/* h_t = tanh(W x_t + U h_{t-1} + b)   (or relu) */
static void rnn_step(rnnlab_model *m, int l, float *pre, const float *h_prev, float *h) {
    int B = m->B, H = m->H;
    gemm_packed(B, H, H, h_prev, H, m->packed + m->packed_fwd[l], 1.0f, pre, H);
    if (m->cfg.activation == RNNLAB_ACT_RELU) vec_relu(pre, B * H);
    else vec_tanh(pre, B * H);
    memcpy(h, pre, (size_t)B * H * sizeof(float));
}

static void lstm_step(rnnlab_model *m, int l, float *pre, const float *h_prev,
                      const float *c_prev, float *h, float *c, float *tc) {
    int B = m->B, H = m->H, GH = 4 * H;
    gemm_packed(B, GH, H, h_prev, H, m->packed + m->packed_fwd[l], 1.0f, pre, GH);
    for (int b = 0; b < B; b++) {
        float *a = pre + (size_t)b * GH;
        vec_sigmoid(a, 2 * H);      /* i = σ(.), f = σ(.) */
        vec_tanh(a + 2 * H, H);     /* g = tanh(.)        */
        vec_sigmoid(a + 3 * H, H);  /* o = σ(.)           */
        const float *i = a, *f = a + H, *g = a + 2 * H;
        const float *cp = c_prev + (size_t)b * H;
        float *cb = c + (size_t)b * H, *tcb = tc + (size_t)b * H;
        for (int j = 0; j < H; j++) cb[j] = f[j] * cp[j] + i[j] * g[j]; /* c = f⊙c' + i⊙g */
        memcpy(tcb, cb, (size_t)H * sizeof(float));
        vec_tanh(tcb, H);
        const float *o = a + 3 * H;
        float *hb = h + (size_t)b * H;
        for (int j = 0; j < H; j++) hb[j] = o[j] * tcb[j]; /* h = o⊙tanh(c) */
    }
}

static void gru_step(rnnlab_model *m, int l, float *pre, const float *h_prev, float *h, float *aux) {
    int B = m->B, H = m->H, GH = 3 * H;
    gemm_packed(B, 2 * H, H, h_prev, H, m->packed + m->packed_fwd[l], 1.0f, pre, GH);
    for (int b = 0; b < B; b++) vec_sigmoid(pre + (size_t)b * GH, 2 * H); /* r, z */
    if (m->cfg.gru_reset_after) {
        /* aux = U_n h_{t-1} + b_hn;  n = tanh(W_n x + b_n + r⊙aux) */
        const float *bhn = m->params + m->lay[l].bhn;
        for (int b = 0; b < B; b++) memcpy(aux + (size_t)b * H, bhn, (size_t)H * sizeof(float));
        gemm_packed(B, H, H, h_prev, H, m->packed + m->packed_fwd_n[l], 1.0f, aux, H);
        for (int b = 0; b < B; b++) {
            float *a = pre + (size_t)b * GH;
            const float *hn = aux + (size_t)b * H;
            for (int j = 0; j < H; j++) a[2 * H + j] += a[j] * hn[j];
        }
    } else {
        /* aux = r⊙h_{t-1};  n = tanh(W_n x + b_n + U_n aux) */
        for (int b = 0; b < B; b++) {
            const float *r = pre + (size_t)b * GH, *hp = h_prev + (size_t)b * H;
            float *rh = aux + (size_t)b * H;
            for (int j = 0; j < H; j++) rh[j] = r[j] * hp[j];
        }
        gemm_packed(B, H, H, aux, H, m->packed + m->packed_fwd_n[l], 1.0f, pre + 2 * H, GH);
    }
    for (int b = 0; b < B; b++) {
        float *a = pre + (size_t)b * GH;
        vec_tanh(a + 2 * H, H);
        const float *z = a + H, *n = a + 2 * H, *hp = h_prev + (size_t)b * H;
        float *hb = h + (size_t)b * H;
        for (int j = 0; j < H; j++) hb[j] = (1.0f - z[j]) * hp[j] + z[j] * n[j]; /* h = (1-z)h' + z n */
    }
}

/* One layer over all T steps. in: (T, B, X_l) time-major. */
static void layer_forward(rnnlab_model *m, int l, const float *in, int flags) {
    int B = m->B, T = m->T, H = m->H, GH = m->G * m->H;
    size_t BH = (size_t)B * H, TB = (size_t)T * B;
    const layer_offsets *lo = &m->lay[l];
    float *gates = m->gates + (size_t)l * TB * GH;
    float *hs = m->hs + (size_t)l * (T + 1) * BH;
    int lstm = m->cfg.cell == RNNLAB_CELL_LSTM, gru = m->cfg.cell == RNNLAB_CELL_GRU;
    float *cs = lstm ? m->cs + (size_t)l * (T + 1) * BH : NULL;
    float *tc = lstm ? m->tanh_c + (size_t)l * TB * H : NULL;
    float *aux = gru ? m->aux + (size_t)l * TB * H : NULL;

    /* the input projection of all steps at once: gates = b + X_all W^T */
    const float *bias = m->params + lo->b;
    for (size_t r = 0; r < TB; r++) memcpy(gates + r * GH, bias, (size_t)GH * sizeof(float));
    gemm(0, 1, (int)TB, GH, lo->in, in, lo->in, m->params + lo->W, lo->in, 1.0f, gates, GH);

    if (flags & RNNLAB_USE_H0) memcpy(hs, m->h0 + (size_t)l * BH, BH * sizeof(float));
    else memset(hs, 0, BH * sizeof(float));
    if (lstm) {
        if (flags & RNNLAB_USE_H0) memcpy(cs, m->c0 + (size_t)l * BH, BH * sizeof(float));
        else memset(cs, 0, BH * sizeof(float));
    }
    for (int t = 0; t < T; t++) {
        float *pre = gates + (size_t)t * B * GH;
        const float *h_prev = hs + (size_t)t * BH;
        float *h = hs + (size_t)(t + 1) * BH;
        if (lstm)
            lstm_step(m, l, pre, h_prev, cs + (size_t)t * BH, h, cs + (size_t)(t + 1) * BH, tc + (size_t)t * BH);
        else if (gru)
            gru_step(m, l, pre, h_prev, h, aux + (size_t)t * BH);
        else
            rnn_step(m, l, pre, h_prev, h);
    }
    memcpy(m->hT + (size_t)l * BH, hs + (size_t)T * BH, BH * sizeof(float));
    if (lstm) memcpy(m->cT + (size_t)l * BH, cs + (size_t)T * BH, BH * sizeof(float));
}

/* ---------------------------------------------------------------- head */

/* For 'last' output: the step whose output counts for each sequence. */
static void pick_last_steps(rnnlab_model *m, int flags) {
    for (int b = 0; b < m->B; b++) {
        int t = m->T - 1;
        if (flags & RNNLAB_USE_MASK)
            while (t >= 0 && m->mask[(size_t)b * m->T + t] == 0.0f) t--;
        m->last_t[b] = t;
    }
}

/* yhat = V h + c over the rows the head reads; out gets them batch-major. */
static void head_forward(rnnlab_model *m) {
    int B = m->B, T = m->T, H = m->H, Y = m->Y;
    const float *V = m->params + m->off_V, *c = m->params + m->off_c;
    const float *top = m->hs + (size_t)(m->L - 1) * (T + 1) * B * H;
    if (m->cfg.output == RNNLAB_OUTPUT_SEQUENCE) {
        size_t TB = (size_t)T * B;
        for (size_t r = 0; r < TB; r++) memcpy(m->yhat + r * Y, c, (size_t)Y * sizeof(float));
        gemm(0, 1, (int)TB, Y, H, top + (size_t)B * H, H, V, H, 1.0f, m->yhat, Y);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                memcpy(m->out + ((size_t)b * T + t) * Y, m->yhat + ((size_t)t * B + b) * Y,
                       (size_t)Y * sizeof(float));
    } else {
        for (int b = 0; b < B; b++) {
            int t = m->last_t[b] < 0 ? T - 1 : m->last_t[b];
            memcpy(m->last_h + (size_t)b * H, top + ((size_t)(t + 1) * B + b) * H, (size_t)H * sizeof(float));
            memcpy(m->out + (size_t)b * Y, c, (size_t)Y * sizeof(float));
        }
        gemm(0, 1, B, Y, H, m->last_h, H, V, H, 1.0f, m->out, Y);
    }
}

/* ---------------------------------------------------------------- losses */

/* Loss of one output row; writes its gradient (before the 1/count scaling)
 * into d. Returns the loss contribution; *hit says whether argmax == label. */
static double row_loss(const rnnlab_model *m, const float *yh, size_t row, float *d, int *hit) {
    int Y = m->Y;
    if (m->cfg.loss == RNNLAB_LOSS_MSE) {
        const float *y = m->y + row * Y;
        double s = 0.0;
        for (int k = 0; k < Y; k++) {
            float e = yh[k] - y[k];
            d[k] = 2.0f * e;
            s += (double)e * e;
        }
        return s;
    }
    int label = m->labels[row], best = 0;
    float mx = yh[0];
    for (int k = 1; k < Y; k++)
        if (yh[k] > mx) { mx = yh[k]; best = k; }
    double z = 0.0;
    for (int k = 0; k < Y; k++) z += exp((double)yh[k] - mx);
    for (int k = 0; k < Y; k++) d[k] = (float)(exp((double)yh[k] - mx) / z);
    d[label] -= 1.0f;
    *hit = best == label;
    return log(z) - ((double)yh[label] - mx); /* -log softmax(yh)[label] */
}

/* Mean loss over counted positions; dyhat (time-major for 'sequence',
 * (B, Y) for 'last') gets dLoss/dyhat. */
static void compute_loss(rnnlab_model *m, int flags) {
    int B = m->B, T = m->T, Y = m->Y;
    int use_mask = flags & RNNLAB_USE_MASK;
    double total = 0.0;
    size_t counted = 0, correct = 0;
    if (m->cfg.output == RNNLAB_OUTPUT_SEQUENCE) {
        for (int t = 0; t < T; t++)
            for (int b = 0; b < B; b++) {
                size_t bt = (size_t)b * T + t, tb = (size_t)t * B + b;
                float *d = m->dyhat + tb * Y;
                if (use_mask && m->mask[bt] == 0.0f) {
                    memset(d, 0, (size_t)Y * sizeof(float));
                    continue;
                }
                int hit = 0;
                total += row_loss(m, m->yhat + tb * Y, bt, d, &hit);
                counted++;
                correct += hit;
            }
    } else {
        for (int b = 0; b < B; b++) {
            float *d = m->dyhat + (size_t)b * Y;
            if (m->last_t[b] < 0) {
                memset(d, 0, (size_t)Y * sizeof(float));
                continue;
            }
            int hit = 0;
            total += row_loss(m, m->out + (size_t)b * Y, (size_t)b, d, &hit);
            counted++;
            correct += hit;
        }
    }
    size_t rows = m->cfg.output == RNNLAB_OUTPUT_SEQUENCE ? (size_t)T * B : (size_t)B;
    double denom = (double)counted * (m->cfg.loss == RNNLAB_LOSS_MSE ? Y : 1);
    float scale = counted ? (float)(1.0 / denom) : 0.0f;
    for (size_t i = 0; i < rows * Y; i++) m->dyhat[i] *= scale;
    m->stats[RNNLAB_STAT_LOSS] = counted ? (float)(total / denom) : 0.0f;
    m->stats[RNNLAB_STAT_COUNTED] = (float)counted;
    m->stats[RNNLAB_STAT_CORRECT] = (float)correct;
}

/* ---------------------------------------------------------------- forward */

rnnlab_status run_forward(rnnlab_model *m, int flags, int with_loss) {
    rnnlab_status st = check_batch(m, flags);
    if (st) return st;
    if (m->cfg.output == RNNLAB_OUTPUT_LAST) pick_last_steps(m, flags);
    if (with_loss && (st = check_targets(m, flags))) return st;
    if (!m->packed_valid) pack_recurrent(m);
    int B = m->B, T = m->T, X = m->X, H = m->H;
    for (int b = 0; b < B; b++) /* batch-major x to time-major xt */
        for (int t = 0; t < T; t++)
            memcpy(m->xt + ((size_t)t * B + b) * X, m->x + ((size_t)b * T + t) * X, (size_t)X * sizeof(float));
    for (int l = 0; l < m->L; l++) {
        const float *in = l == 0 ? m->xt : m->hs + ((size_t)(l - 1) * (T + 1) + 1) * B * H;
        layer_forward(m, l, in, flags);
    }
    head_forward(m);
    if (with_loss) compute_loss(m, flags);
    m->have_forward = 1;
    return RNNLAB_OK;
}
