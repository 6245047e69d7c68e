/* layer.c — one recurrent layer over all T steps (SPEC §1, §4): the time
 * loop, taking the input projection a few steps at a time and calling the
 * cell at each step, and after the backward loop the weight gradients as big
 * products over all T*B rows at once. Gradients accumulate (+=) into
 * m->grads. */
#include "model.h"
#include "cells.h"
#include "gemm.h"
#include "pool.h"

#include <string.h>

/* ‖p‖, for the flow curves */
static float l2_norm(const float *p, size_t n) { return (float)grad_norm_global(p, n); }

/* db += column sums of D (rows x cols, leading dimension ld) */
void add_column_sums(float *db, const float *D, size_t rows, int cols, int ld) {
    for (size_t r = 0; r < rows; r++) {
        const float *d = D + r * ld;
        for (int j = 0; j < cols; j++) db[j] += d[j];
    }
}

/* Packs the weights once per optimiser step: x W^T and h U^T for the
 * forward loop, dG U for the backward loop (the GRU keeps its r,z blocks
 * apart from the n block). */
void pack_weights(rnnlab_model *m) {
    int H = m->H, GH = m->G * m->H;
    for (int l = 0; l < m->units; l++) {
        const float *U = m->params + m->lay[l].U;
        int X = m->lay[l].in;
        gemm_pack_b(1, X, GH, m->params + m->lay[l].W, X, m->packed + m->packed_in[l]);
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
        if (m->cfg.recurrent_dropout > 0.0f) /* each block alone: its h_{t-1} has its own mask */
            for (int g = 0; g < m->G; g++) {
                size_t at = (size_t)g * gemm_packed_size(H, H);
                gemm_pack_b(1, H, H, U + (size_t)g * H * H, H, m->packed + m->packed_drop_fwd[l] + at);
                gemm_pack_b(0, H, H, U + (size_t)g * H * H, H, m->packed + m->packed_drop_bwd[l] + at);
            }
    }
    m->packed_valid = 1;
}

/* dst (B, H) = the layer's initial state: carried from the last forward,
 * the caller's, or zeros. */
static void initial_state(float *dst, const float *carried, const float *given, int flags, size_t BH) {
    const float *src = flags & RNNLAB_CARRY_STATE ? carried : flags & RNNLAB_USE_H0 ? given : NULL;
    if (src) memcpy(dst, src, BH * sizeof(float));
    else memset(dst, 0, BH * sizeof(float));
}

/* Each of the rows of gates (rows, G*H) = layer l's bias b. */
static void bias_rows(const rnnlab_model *m, int l, float *gates, size_t rows) {
    size_t GH = (size_t)m->G * m->H;
    const float *bias = m->params + m->lay[l].b;
    for (size_t r = 0; r < rows; r++) memcpy(gates + r * GH, bias, GH * sizeof(float));
}

/* The input part of the pre-activations of `rows` rows (whole steps, or
 * rows of one step): pre (rows, G*H) = b + x W^T (x: (rows, X_l)), with W
 * packed once per optimiser step. */
static void input_projection(const rnnlab_model *m, int l, const float *x, float *pre, int rows) {
    int GH = m->G * m->H, X = m->lay[l].in;
    bias_rows(m, l, pre, (size_t)rows);
    gemm_packed(rows, GH, X, x, X, m->packed + m->packed_in[l], 1.0f, pre, GH);
}

/* Steps whose input part is taken at once: as many as fit in PROJECTION_FLOATS
 * of gates, so that they are still in cache when the time loop reaches them,
 * and at least one. */
#define PROJECTION_FLOATS 32768 /* 128 KB */
static int projection_steps(const rnnlab_model *m) {
    size_t per_step = (size_t)m->B * m->G * m->H;
    return per_step >= PROJECTION_FLOATS ? 1 : (int)(PROJECTION_FLOATS / per_step);
}

/* Rows [r0, r0 + rows) of one step of layer l's cell on pre (B, G*H), the
 * step's pre-activations; writes step t+1 of hs, cs. With recurrent dropout
 * the layer takes the masked recurrent products (dropout.c) and the cell
 * gets NULL for them (cells.h); then the step runs whole (r0 0, rows B). */
static void cell_forward(rnnlab_model *m, int l, int t, int r0, int rows, float *pre,
                         float *hs, float *cs, float *tc, float *aux) {
    int H = m->H;
    size_t BH = (size_t)m->B * H, at = (size_t)t * BH + (size_t)r0 * H, next = at + BH;
    int rec = m->dropping && m->cfg.recurrent_dropout > 0.0f;
    const float *fwd = rec ? NULL : m->packed + m->packed_fwd[l];
    pre += (size_t)r0 * m->G * H;
    if (rec) recurrent_dropout_product(m, l, hs + at, pre);
    if (m->cfg.cell == RNNLAB_CELL_LSTM)
        lstm_forward_step(rows, H, fwd, hs + at, cs + at, pre, hs + next, cs + next, tc + at);
    else if (m->cfg.cell == RNNLAB_CELL_GRU)
        gru_forward_step(rows, H, m->cfg.gru_reset_after, fwd, m->packed + m->packed_fwd_n[l],
                         m->params + m->lay[l].bhn,
                         rec ? m->drop_rec + ((size_t)l * 3 + 2) * BH + (size_t)r0 * H : NULL,
                         hs + at, pre, hs + next, aux + at);
    else
        rnn_forward_step(rows, H, m->cfg.activation == RNNLAB_ACT_RELU, fwd, hs + at, pre, hs + next);
}

/* One time step shared among the threads by rows of the batch (pool.h):
 * every row of a cell step is computed on its own, so the split changes no
 * bits. Steps too small to pay for it, and steps with recurrent dropout,
 * run whole. */
typedef struct {
    rnnlab_model *m;
    int l, t, step;
    double flops; /* a step's recurrent product */
    float *pre, *hs, *cs, *tc, *aux;
    const float *x; /* the step's input rows when its projection is taken here, or NULL */
} step_job;

static int step_chunks(const rnnlab_model *m, step_job *j) {
    j->flops = 2.0 * m->B * m->G * m->H * m->H;
    if (m->dropping && m->cfg.recurrent_dropout > 0.0f) {
        j->step = m->B;
        return 1;
    }
    return pool_plan(m->B, 4, j->flops, &j->step);
}

/* The first row of a chunk; *rows: how many (the last chunk may be short). */
static int chunk_rows(const step_job *j, int chunk, int *rows) {
    int r0 = chunk * j->step;
    *rows = j->m->B - r0 < j->step ? j->m->B - r0 : j->step;
    return r0;
}

/* A chunk of rows: their input projection (when the step takes its own),
 * then the cell. */
static void forward_rows(void *job, int chunk, int thread) {
    const step_job *j = job;
    int rows, r0 = chunk_rows(j, chunk, &rows);
    if (j->x) {
        int X = j->m->lay[j->l].in;
        input_projection(j->m, j->l, j->x + (size_t)r0 * X, j->pre + (size_t)r0 * j->m->G * j->m->H, rows);
    }
    cell_forward(j->m, j->l, j->t, r0, rows, j->pre, j->hs, j->cs, j->tc, j->aux);
}

/* Step j->t of layer j->l in `chunks` chunks of rows (planned once per
 * layer by step_chunks); j->x: the step's input (B, X_l) when its projection
 * is still to be taken, or NULL. */
static void forward_step(step_job *j, int chunks) {
    if (chunks > 1) {
        pool_run(chunks, forward_rows, j, j->flops);
        return;
    }
    if (j->x) input_projection(j->m, j->l, j->x, j->pre, j->m->B);
    cell_forward(j->m, j->l, j->t, 0, j->m->B, j->pre, j->hs, j->cs, j->tc, j->aux);
}

void layer_forward(rnnlab_model *m, int l, const float *in, int flags) {
    int B = m->B, T = m->T, GH = m->G * m->H;
    size_t BH = (size_t)B * m->H, TB = (size_t)T * B;
    const layer_offsets *lo = &m->lay[l];
    int lstm = m->cfg.cell == RNNLAB_CELL_LSTM, gru = m->cfg.cell == RNNLAB_CELL_GRU;
    float *gates = m->gates + (size_t)l * TB * GH;                         /* (T, B, G*H) */
    float *hs = m->hs + (size_t)l * (T + 1) * BH;                          /* (T+1, B, H) */
    float *cs = lstm ? m->cs + (size_t)l * (T + 1) * BH : NULL;            /* (T+1, B, H) */
    float *tc = lstm ? m->tanh_c + (size_t)l * TB * m->H : NULL;           /* (T, B, H)   */
    float *aux = gru ? m->aux + (size_t)l * TB * m->H : NULL;              /* (T, B, H)   */

    /* The input part, gates = b + x W^T: inside the loop, a few steps at a
     * time while their rows are in cache; with input dropout for all steps at
     * once first (dropout.c). Each element sums the same products in the same
     * order either way (gemm.c). */
    int masked_in = m->dropping && m->cfg.input_dropout > 0.0f, chunk = projection_steps(m);
    if (masked_in) {
        bias_rows(m, l, gates, TB);
        input_dropout_project(m, l, in, gates);
    }

    /* hT/cT of layer l are read here before this layer overwrites them */
    initial_state(hs, m->hT + (size_t)l * BH, m->h0 + (size_t)l * BH, flags, BH);
    if (lstm) initial_state(cs, m->cT + (size_t)l * BH, m->c0 + (size_t)l * BH, flags, BH);
    step_job j = {m, l, 0, 0, 0.0, NULL, hs, cs, tc, aux, NULL};
    int chunks = step_chunks(m, &j);
    for (int t = 0; t < T; t++) {
        float *pre = gates + (size_t)t * B * GH;
        const float *x = masked_in ? NULL : in + (size_t)t * B * lo->in;
        if (x && chunk > 1) { /* several steps at once, then none inside the step */
            if (t % chunk == 0) input_projection(m, l, x, pre, (t + chunk <= T ? chunk : T - t) * B);
            x = NULL;
        }
        j.t = t;
        j.pre = pre;
        j.x = x;
        forward_step(&j, chunks);
    }
    memcpy(m->hT + (size_t)l * BH, hs + (size_t)T * BH, BH * sizeof(float));
    if (lstm) memcpy(m->cT + (size_t)l * BH, cs + (size_t)T * BH, BH * sizeof(float));
}

/* Rows [r0, r0 + rows) of the backward step t of layer l's cell: from
 * m->dH's step t (the total dL/dh_t) and dh_next/dc_next (in: from step t+1;
 * out: to step t-1), into m->dgates' step t. */
static void cell_backward(rnnlab_model *m, int l, int t, int r0, int rows) {
    int B = m->B, T = m->T, H = m->H, GH = m->G * m->H;
    size_t BH = (size_t)B * H, TB = (size_t)T * B, at = (size_t)t * BH + (size_t)r0 * H, row = (size_t)r0 * H;
    int rec = m->dropping && m->cfg.recurrent_dropout > 0.0f;
    const float *a = m->gates + (size_t)l * TB * GH + ((size_t)t * B + r0) * GH;
    const float *hs = m->hs + (size_t)l * (T + 1) * BH, *bwd = rec ? NULL : m->packed + m->packed_bwd[l];
    float *dht = m->dH + at, *dgt = m->dgates + ((size_t)t * B + r0) * GH;
    if (m->cfg.cell == RNNLAB_CELL_LSTM) {
        lstm_backward_step(rows, H, bwd, a, m->cs + (size_t)l * (T + 1) * BH + at,
                           m->tanh_c + (size_t)l * TB * H + at, dht, dgt, m->dh_next + row,
                           m->dc_next + row, m->dc_total + row);
    } else if (m->cfg.cell == RNNLAB_CELL_GRU) {
        const float *m_n = rec ? m->drop_rec + ((size_t)l * 3 + 2) * BH + row : NULL;
        gru_backward_step(rows, H, m->cfg.gru_reset_after, bwd, m->packed + m->packed_bwd_n[l], m_n, a,
                          hs + at, m->aux + (size_t)l * TB * H + at, dht, dgt, m->daux + at,
                          m->drh + row, m->dh_next + row);
    } else {
        rnn_backward_step(rows, H, m->cfg.activation == RNNLAB_ACT_RELU, bwd, hs + at + BH, dht, dgt,
                          m->dh_next + row);
    }
}

static void backward_rows(void *job, int chunk, int thread) {
    const step_job *j = job;
    int rows, r0 = chunk_rows(j, chunk, &rows);
    cell_backward(j->m, j->l, j->t, r0, rows);
}

/* The backward time loop of layer l: dH (T, B, H) holds the gradient
 * reaching each h_t from above; fills dgates (T, B, G*H), the flow curves,
 * dh0 and dc0. The norms of the flow curves sum over the whole batch, in
 * one order, on the owning thread. */
static void backward_through_time(rnnlab_model *m, int l) {
    int B = m->B, T = m->T;
    size_t BH = (size_t)B * m->H;
    int lstm = m->cfg.cell == RNNLAB_CELL_LSTM;
    int rec = m->dropping && m->cfg.recurrent_dropout > 0.0f;
    float *dh_next = m->dh_next, *dc_next = m->dc_next;
    memset(dh_next, 0, BH * sizeof(float));
    if (lstm) memset(dc_next, 0, BH * sizeof(float));
    step_job j = {m, l, 0, 0, 0.0, NULL, NULL, NULL, NULL, NULL, NULL};
    int chunks = step_chunks(m, &j);
    for (int t = T - 1; t >= 0; t--) {
        float *dht = m->dH + (size_t)t * BH; /* becomes the total dL/dh_t */
        for (size_t i = 0; i < BH; i++) dht[i] += dh_next[i];
        m->flow_h[(size_t)l * T + t] = l2_norm(dht, BH);
        j.t = t;
        if (chunks > 1)
            pool_run(chunks, backward_rows, &j, j.flops);
        else
            cell_backward(m, l, t, 0, B);
        if (lstm) m->flow_c[(size_t)l * T + t] = l2_norm(m->dc_total, BH);
        if (rec) /* the cell left these blocks */
            recurrent_dropout_backprop(m, l, m->dgates + (size_t)t * B * m->G * m->H, dh_next,
                                       m->cfg.cell != RNNLAB_CELL_GRU);
    }
    memcpy(m->dh0 + (size_t)l * BH, dh_next, BH * sizeof(float));
    if (lstm) memcpy(m->dc0 + (size_t)l * BH, dc_next, BH * sizeof(float));
}

/* The weight gradients of layer l over all T*B rows at once, from dgates. */
static void weight_gradients(rnnlab_model *m, int l, const float *in) {
    int T = m->T, H = m->H, GH = m->G * m->H;
    size_t TB = (size_t)T * m->B;
    const layer_offsets *lo = &m->lay[l];
    const float *hs = m->hs + (size_t)l * (T + 1) * m->B * H, *dg = m->dgates; /* hs: h_0 .. h_{T-1} */
    float *dW = m->grads + lo->W, *dU = m->grads + lo->U, *db = m->grads + lo->b;
    add_column_sums(db, dg, TB, GH, GH);
    if (m->cfg.cell != RNNLAB_CELL_GRU) { /* dW = dGᵀ X and dU = dGᵀ H_prev, dG packed once */
        gemm_shared_a(1, GH, (int)TB, dg, GH, lo->in, in, lo->in, dW, lo->in, H, hs, H, dU, H, 1.0f);
        return;
    }
    /* The r,z rows of dW and dU from one packing of dG_rz; with reset before
     * the n rows too, from dG_n: dU_n = dG_nᵀ (r⊙h_{t-1}) */
    int X = lo->in;
    float *dUn = dU + (size_t)2 * H * H, *dWn = dW + (size_t)2 * H * X;
    gemm_shared_a(1, 2 * H, (int)TB, dg, GH, X, in, X, dW, X, H, hs, H, dU, H, 1.0f);
    if (m->cfg.gru_reset_after) {
        gemm(1, 0, H, X, (int)TB, dg + 2 * H, GH, in, X, 1.0f, dWn, X);
        gemm(1, 0, H, H, (int)TB, m->daux, H, hs, H, 1.0f, dUn, H);
        add_column_sums(m->grads + lo->bhn, m->daux, TB, H, H);
    } else {
        const float *aux = m->aux + (size_t)l * TB * H;
        gemm_shared_a(1, H, (int)TB, dg + 2 * H, GH, X, in, X, dWn, X, H, aux, H, dUn, H, 1.0f);
    }
}

void layer_backward(rnnlab_model *m, int l, const float *in, float *din) {
    backward_through_time(m, l);
    if (m->dropping && (m->cfg.input_dropout > 0.0f || m->cfg.recurrent_dropout > 0.0f)) {
        dropout_weight_gradients(m, l, in, din);
        return;
    }
    weight_gradients(m, l, in);
    /* dL/d(input) = dG W */
    const layer_offsets *lo = &m->lay[l];
    int GH = m->G * m->H;
    if (din)
        gemm(0, 0, m->T * m->B, lo->in, GH, m->dgates, GH, m->params + lo->W, lo->in, 0.0f, din, lo->in);
}
