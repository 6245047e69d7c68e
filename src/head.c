/* head.c — the linear head on the top layer and the losses (SPEC §3):
 * yhat = V h + c at every step ('sequence') or at each sequence's last
 * counted step ('last'), MSE or softmax cross-entropy, and the gradients
 * back to the top layer's h_t. */
#include "model.h"
#include "gemm.h"

#include <math.h>
#include <string.h>

/* For 'last' output: the step whose output counts for each sequence. */
void pick_last_steps(rnnlab_model *m, int flags) {
    for (int b = 0; b < m->B; b++) {
        int t = m->T - 1;
        if (flags & RNNLAB_USE_MASK)
            while (t >= 0 && m->mask[(size_t)b * m->T + t] == 0.0f) t--;
        m->last_t[b] = t;
    }
}

/* The top layer's output (T, B, W), W = D*H: h_1 .. h_T, or [h→_t ; h←_t]. */
static const float *head_input(const rnnlab_model *m) {
    if (m->D == 2) return bidir_output(m, m->L - 1);
    return m->hs + ((size_t)(m->L - 1) * (m->T + 1) + 1) * m->B * m->H;
}

/* 'last' output: row b of last_h (B, W) is the top output at t; with two
 * directions [h→ at t ; h← at step 0], PyTorch's h_n of both (SPEC §11). */
static void pick_last_rows(rnnlab_model *m, const float *top) {
    int B = m->B, H = m->H, W = m->D * H;
    for (int b = 0; b < B; b++) {
        int t = m->last_t[b] < 0 ? m->T - 1 : m->last_t[b];
        float *row = m->last_h + (size_t)b * W;
        memcpy(row, top + ((size_t)t * B + b) * W, (size_t)H * sizeof(float));
        if (m->D == 2) memcpy(row + H, top + (size_t)b * W + H, (size_t)H * sizeof(float));
    }
}

/* yhat = V h + c over the rows the head reads; out gets them batch-major. */
void head_forward(rnnlab_model *m) {
    int B = m->B, T = m->T, W = m->D * m->H, Y = m->Y;
    const float *V = m->params + m->off_V, *c = m->params + m->off_c;
    const float *top = head_input(m); /* (T, B, W) */
    if (m->cfg.output == RNNLAB_OUTPUT_SEQUENCE) {
        size_t TB = (size_t)T * B;
        for (size_t r = 0; r < TB; r++) memcpy(m->yhat + r * Y, c, (size_t)Y * sizeof(float));
        gemm(0, 1, (int)TB, Y, W, top, W, V, W, 1.0f, m->yhat, Y);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                memcpy(m->out + ((size_t)b * T + t) * Y, m->yhat + ((size_t)t * B + b) * Y,
                       (size_t)Y * sizeof(float));
    } else {
        pick_last_rows(m, top);
        for (int b = 0; b < B; b++) memcpy(m->out + (size_t)b * Y, c, (size_t)Y * sizeof(float));
        gemm(0, 1, B, Y, W, m->last_h, W, V, W, 1.0f, m->out, Y);
    }
}

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

typedef struct { double total; size_t counted, correct; } loss_sums;

/* Adds row (yh, target row) to the sums, or zeroes d when it does not count. */
static void add_row(const rnnlab_model *m, int counts, const float *yh, size_t row, float *d,
                    loss_sums *s) {
    if (!counts) {
        memset(d, 0, (size_t)m->Y * sizeof(float));
        return;
    }
    int hit = 0;
    s->total += row_loss(m, yh, row, d, &hit);
    s->counted++;
    s->correct += hit;
}

/* Mean loss over counted positions into the stats; dyhat (time-major for
 * 'sequence', (B, Y) for 'last') gets dLoss/dyhat. */
void compute_loss(rnnlab_model *m, int flags) {
    int B = m->B, T = m->T, Y = m->Y;
    int use_mask = flags & RNNLAB_USE_MASK;
    loss_sums s = {0.0, 0, 0};
    if (m->cfg.output == RNNLAB_OUTPUT_SEQUENCE) {
        for (int t = 0; t < T; t++)
            for (int b = 0; b < B; b++) {
                size_t bt = (size_t)b * T + t, tb = (size_t)t * B + b;
                add_row(m, !use_mask || m->mask[bt] != 0.0f, m->yhat + tb * Y, bt, m->dyhat + tb * Y, &s);
            }
    } else {
        for (int b = 0; b < B; b++)
            add_row(m, m->last_t[b] >= 0, m->out + (size_t)b * Y, (size_t)b, m->dyhat + (size_t)b * Y, &s);
    }
    size_t rows = m->cfg.output == RNNLAB_OUTPUT_SEQUENCE ? (size_t)T * B : (size_t)B;
    double denom = (double)s.counted * (m->cfg.loss == RNNLAB_LOSS_MSE ? Y : 1);
    float scale = s.counted ? (float)(1.0 / denom) : 0.0f;
    for (size_t i = 0; i < rows * Y; i++) m->dyhat[i] *= scale;
    m->stats[RNNLAB_STAT_LOSS] = s.counted ? (float)(s.total / denom) : 0.0f;
    m->stats[RNNLAB_STAT_COUNTED] = (float)s.counted;
    m->stats[RNNLAB_STAT_CORRECT] = (float)s.correct;
}

/* dV, dc and the gradient reaching the top layer's output, into m->dH
 * (T, B, H), or with two directions m->dcat (T, B, 2H). */
void head_backward(rnnlab_model *m) {
    int B = m->B, T = m->T, H = m->H, W = m->D * H, Y = m->Y;
    size_t TB = (size_t)T * B;
    const float *V = m->params + m->off_V;
    float *dV = m->grads + m->off_V, *dc = m->grads + m->off_c;
    const float *top = head_input(m);
    float *dtop = m->D == 2 ? m->dcat : m->dH;
    if (m->cfg.output == RNNLAB_OUTPUT_SEQUENCE) {
        gemm(1, 0, Y, W, (int)TB, m->dyhat, Y, top, W, 1.0f, dV, W);
        add_column_sums(dc, m->dyhat, TB, Y, Y);
        gemm(0, 0, (int)TB, W, Y, m->dyhat, Y, V, W, 0.0f, dtop, W);
    } else {
        gemm(1, 0, Y, W, B, m->dyhat, Y, m->last_h, W, 1.0f, dV, W);
        add_column_sums(dc, m->dyhat, (size_t)B, Y, Y);
        memset(dtop, 0, TB * W * sizeof(float));
        gemm(0, 0, B, W, Y, m->dyhat, Y, V, W, 0.0f, m->dlast_h, W);
        for (int b = 0; b < B; b++) {
            int t = m->last_t[b];
            if (t < 0) continue;
            const float *d = m->dlast_h + (size_t)b * W;
            memcpy(dtop + ((size_t)t * B + b) * W, d, (size_t)H * sizeof(float));
            if (m->D == 2) memcpy(dtop + (size_t)b * W + H, d + H, (size_t)H * sizeof(float)); /* h← at step 0 */
        }
    }
}
