/* step.c — one step, in order: checks → forward → loss → backward → norms →
 * clip → update; the public entry points rnnlab_forward,
 * rnnlab_compute_gradients and rnnlab_train_step. */
#include "model.h"

#include <math.h>
#include <string.h>

/* Internal flag for run_backward, above the public RNNLAB_* bits: also
 * compute dL/dx into the dx buffer (compute_gradients does; a training step
 * skips that product, 2·G·H·X·B·T flops). */
#define RUN_INPUT_GRADS (1 << 16)

/* ---------------------------------------------------------------- checks */

static rnnlab_status check_finite(rnnlab_model *m, const float *p, size_t n, const char *name,
                                  const char *why) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            return set_error(m, RNNLAB_E_NONFINITE, "%s[%zu] is %s: expected finite numbers%s",
                             name, i, isnan(p[i]) ? "NaN" : "infinite", why);
    return RNNLAB_OK;
}

/* The inputs the forward reads: x, the initial states, the mask. */
static rnnlab_status check_batch(rnnlab_model *m, int flags) {
    size_t BT = (size_t)m->B * m->T, LBH = (size_t)m->units * m->B * m->H;
    int lstm = m->cfg.cell == RNNLAB_CELL_LSTM;
    static const char carried[] = " (RNNLAB_CARRY_STATE starts from the final state of the last "
                                  "forward: zero the hT and cT buffers, or run once without the flag)";
    rnnlab_status st = m->cfg.embedding_vocab ? embedding_check_ids(m) : check_finite(m, m->x, BT * m->X, "x", "");
    if (st) return st;
    if (flags & RNNLAB_CARRY_STATE) {
        st = check_finite(m, m->hT, LBH, "hT", carried);
        if (!st && lstm) st = check_finite(m, m->cT, LBH, "cT", carried);
    } else if (flags & RNNLAB_USE_H0) {
        st = check_finite(m, m->h0, LBH, "h0", "");
        if (!st && lstm) st = check_finite(m, m->c0, LBH, "c0", "");
    }
    if (st) return st;
    if (flags & RNNLAB_USE_MASK)
        for (size_t i = 0; i < BT; i++)
            if (m->mask[i] != 0.0f && m->mask[i] != 1.0f)
                return set_error(m, RNNLAB_E_INVALID, "mask[%zu] is %g: expected 0 or 1", i,
                                 (double)m->mask[i]);
    return RNNLAB_OK;
}

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

/* ---------------------------------------------------------------- passes */

/* Layer l's output (T, B, D*H): its h_1 .. h_T, or [h→ ; h←] (direction.c). */
static const float *layer_output(const rnnlab_model *m, int l) {
    if (m->D == 2) return bidir_output(m, l);
    return m->hs + ((size_t)l * (m->T + 1) + 1) * m->B * m->H;
}

/* Layer l's input (T, B, X_l): x, or the output of the layer below, after
 * dropout when it is on (layer_forward of l-1 put it there). */
static const float *layer_input(rnnlab_model *m, int l) {
    if (l == 0) return m->x;
    if (m->dropping && m->cfg.dropout > 0.0f) return m->dropped + (size_t)(l - 1) * m->T * m->B * m->D * m->H;
    return layer_output(m, l - 1);
}

static rnnlab_status run_forward(rnnlab_model *m, int flags, int with_loss) {
    rnnlab_status st = check_batch(m, flags);
    if (!st && m->D == 2) st = direction_check(m, flags);
    if (st) return st;
    if (m->cfg.output == RNNLAB_OUTPUT_LAST) pick_last_steps(m, flags);
    if (with_loss && (st = check_targets(m, flags))) return st;
    if (!m->packed_valid) pack_weights(m);
    if (m->cfg.embedding_vocab) embedding_forward(m);
    m->dropping = dropout_active(m, flags);
    if (m->dropping) dropout_draw(m);
    for (int l = 0; l < m->L; l++) {
        if (m->D == 2) bidir_layer_forward(m, l, layer_input(m, l), flags);
        else layer_forward(m, l, layer_input(m, l), flags);
        if (l + 1 < m->L) dropout_layer_forward(m, l, layer_output(m, l));
    }
    head_forward(m);
    if (with_loss) compute_loss(m, flags);
    return RNNLAB_OK;
}

static void run_backward(rnnlab_model *m, int flags) {
    size_t TBH = (size_t)m->T * m->B * m->D * m->H;
    memset(m->grads, 0, m->n_params * sizeof(float));
    head_backward(m);
    for (int l = m->L - 1; l >= 0; l--) {
        /* (T, B, X_l); a training step has no use for dL/dx itself, but the embedding has */
        int want_dx = (flags & RUN_INPUT_GRADS) || m->cfg.embedding_vocab;
        float *din = l > 0 ? m->dH_below : want_dx ? m->dx : NULL;
        if (m->D == 2) bidir_layer_backward(m, l, layer_input(m, l), din);
        else layer_backward(m, l, layer_input(m, l), din);
        if (l > 0) dropout_layer_backward(m, l - 1, din);
        if (l > 0) memcpy(m->D == 2 ? m->dcat : m->dH, din, TBH * sizeof(float)); /* (T, B, D*H) */
    }
    if (m->cfg.embedding_vocab) embedding_backward(m);
}

/* ---------------------------------------------------------------- steps */

static rnnlab_status need_batch(rnnlab_model *m) {
    if (!m) return set_error(NULL, RNNLAB_E_INVALID, "the model is NULL");
    if (!m->batch) return set_error(m, RNNLAB_E_STATE, "no batch: call set_batch(B, T) first");
    return RNNLAB_OK;
}

rnnlab_status rnnlab_forward(rnnlab_model *m, int flags, int with_loss) {
    rnnlab_status st = need_batch(m);
    if (st) return st;
    return run_forward(m, flags & ~RUN_INPUT_GRADS, with_loss);
}

/* Forward, backward, the global norm and the clipping statistics; *scale
 * is the norm-clipping factor. */
static rnnlab_status gradients_and_clipping(rnnlab_model *m, int flags, float *scale) {
    rnnlab_status st = need_batch(m);
    if (st) return st;
    st = run_forward(m, flags, 1);
    if (st) return st;
    run_backward(m, flags);
    double norm = grad_norm_global(m->grads, m->n_params);
    float loss = m->stats[RNNLAB_STAT_LOSS];
    m->stats[RNNLAB_STAT_GRAD_NORM] = (float)norm;
    m->stats[RNNLAB_STAT_GRAD_NORM_AFTER] = (float)norm;
    m->stats[RNNLAB_STAT_CLIPPED] = 0.0f;
    if (!isfinite(loss) || !isfinite(norm))
        return set_error(m, RNNLAB_E_NONFINITE,
                         "non-finite %s (loss %g, gradient norm %g): the weights were left unchanged",
                         isfinite(loss) ? "gradient" : "loss", (double)loss, norm);
    *scale = clip_scale(m->opt.clip_norm, norm);
    m->stats[RNNLAB_STAT_CLIPPED] = *scale < 1.0f ? 1.0f : 0.0f;
    m->stats[RNNLAB_STAT_GRAD_NORM_AFTER] =
        (float)norm_after_clipping(m->grads, m->n_params, norm, *scale, m->opt.clip_value);
    return RNNLAB_OK;
}

rnnlab_status rnnlab_compute_gradients(rnnlab_model *m, int flags) {
    float scale;
    return gradients_and_clipping(m, flags | RUN_INPUT_GRADS, &scale);
}

rnnlab_status rnnlab_train_step(rnnlab_model *m, int flags) {
    float scale;
    rnnlab_status st = gradients_and_clipping(m, (flags & ~RUN_INPUT_GRADS) | RNNLAB_TRAINING, &scale);
    if (st) return st;
    if (m->stats[RNNLAB_STAT_COUNTED] == 0.0f) return RNNLAB_OK; /* nothing to learn from */
    st = apply_update(m, scale, m->opt.clip_value);
    if (st) return st;
    m->packed_valid = 0;
    m->stats[RNNLAB_STAT_STEP] = (float)m->step;
    return RNNLAB_OK;
}
