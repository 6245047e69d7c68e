/* model.c — creating models, their memory, and the public entry points. */
#include "model.h"
#include "gemm.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char global_err[320];

rnnlab_status set_error(rnnlab_model *m, rnnlab_status st, const char *fmt, ...) {
    char *dst = m ? m->err : global_err;
    size_t len = m ? sizeof m->err : sizeof global_err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, len, fmt, ap);
    va_end(ap);
    return st;
}

const char *rnnlab_last_error(const rnnlab_model *m) { return m ? m->err : global_err; }
const char *rnnlab_global_error(void) { return global_err; }

/* ---------------------------------------------------------------- config */

rnnlab_config rnnlab_config_default(void) {
    rnnlab_config c;
    memset(&c, 0, sizeof c);
    c.cell = RNNLAB_CELL_LSTM;
    c.activation = RNNLAB_ACT_TANH;
    c.input_size = 1;
    c.hidden_size = 32;
    c.output_size = 1;
    c.layers = 1;
    c.output = RNNLAB_OUTPUT_SEQUENCE;
    c.loss = RNNLAB_LOSS_MSE;
    c.init = RNNLAB_INIT_GLOROT;
    c.recurrent_init = RNNLAB_RECURRENT_ORTHOGONAL;
    c.recurrent_scale = 1.0f;
    c.forget_bias_one = 1;
    c.seed = 1;
    return c;
}

static int gate_count(int cell) {
    return cell == RNNLAB_CELL_LSTM ? 4 : cell == RNNLAB_CELL_GRU ? 3 : 1;
}

#define CHECK_RANGE(field, lo, hi, what)                                          \
    if (cfg->field < (lo) || cfg->field > (hi)) {                                 \
        snprintf(err, errlen, "%s: expected %s, got %ld", #field, what,            \
                 (long)cfg->field);                                               \
        return RNNLAB_E_INVALID;                                                  \
    }

rnnlab_status validate_config(const rnnlab_config *cfg, char *err, size_t errlen) {
    CHECK_RANGE(cell, 0, 2, "0 (rnn), 1 (lstm) or 2 (gru)");
    CHECK_RANGE(activation, 0, 1, "0 (tanh) or 1 (relu)");
    CHECK_RANGE(gru_reset_after, 0, 1, "0 or 1");
    CHECK_RANGE(input_size, 1, RNNLAB_MAX_SIZE, "an integer from 1 to 65536");
    CHECK_RANGE(hidden_size, 1, RNNLAB_MAX_SIZE, "an integer from 1 to 65536");
    CHECK_RANGE(output_size, 1, RNNLAB_MAX_SIZE, "an integer from 1 to 65536");
    CHECK_RANGE(layers, 1, RNNLAB_MAX_LAYERS, "an integer from 1 to 16");
    CHECK_RANGE(output, 0, 1, "0 (sequence) or 1 (last)");
    CHECK_RANGE(loss, 0, 1, "0 (mse) or 1 (cross-entropy)");
    CHECK_RANGE(init, 0, 1, "0 (glorot) or 1 (pytorch)");
    CHECK_RANGE(recurrent_init, 0, 1, "0 (orthogonal) or 1 (gaussian)");
    CHECK_RANGE(forget_bias_one, 0, 1, "0 or 1");
    if (!(cfg->recurrent_scale >= 0.0f && cfg->recurrent_scale <= 100.0f)) {
        snprintf(err, errlen, "recurrent_scale: expected a number from 0 to 100, got %g",
                 (double)cfg->recurrent_scale);
        return RNNLAB_E_INVALID;
    }
    if (cfg->loss == RNNLAB_LOSS_CROSS_ENTROPY && cfg->output_size < 2) {
        snprintf(err, errlen, "output_size: cross-entropy needs at least 2 classes, got %d",
                 cfg->output_size);
        return RNNLAB_E_INVALID;
    }
    return RNNLAB_OK;
}

/* ---------------------------------------------------------------- layout */

/* Lays out the flat parameter vector (see rnnlab.h) and returns its size,
 * or 0 if it would not fit the engine's limits. */
static size_t compute_layout(rnnlab_model *m) {
    size_t off = 0, GH = (size_t)m->G * m->H, H = (size_t)m->H;
    for (int l = 0; l < m->L; l++) {
        layer_offsets *lo = &m->lay[l];
        lo->in = l == 0 ? m->X : m->H;
        lo->W = off; off += GH * lo->in;
        lo->U = off; off += GH * H;
        lo->b = off; off += GH;
        lo->bhn = off;
        if (m->cfg.cell == RNNLAB_CELL_GRU && m->cfg.gru_reset_after) off += H;
    }
    m->off_V = off; off += (size_t)m->Y * H;
    m->off_c = off; off += (size_t)m->Y;
    return off;
}

size_t rnnlab_param_count(const rnnlab_model *m) { return m ? m->n_params : 0; }

rnnlab_status rnnlab_param_slice(const rnnlab_model *m, int layer, int kind,
                                 size_t *offset, size_t *count) {
    if (!m) return set_error(NULL, RNNLAB_E_INVALID, "param_slice: the model is NULL");
    if (!offset || !count) return set_error((rnnlab_model *)m, RNNLAB_E_INVALID, "param_slice: offset or count is NULL");
    size_t GH = (size_t)m->G * m->H;
    if (layer == m->L) {
        if (kind == 0) { *offset = m->off_V; *count = (size_t)m->Y * m->H; return RNNLAB_OK; }
        if (kind == 1) { *offset = m->off_c; *count = (size_t)m->Y; return RNNLAB_OK; }
    } else if (layer >= 0 && layer < m->L) {
        const layer_offsets *lo = &m->lay[layer];
        switch (kind) {
        case 0: *offset = lo->W; *count = GH * lo->in; return RNNLAB_OK;
        case 1: *offset = lo->U; *count = GH * m->H; return RNNLAB_OK;
        case 2: *offset = lo->b; *count = GH; return RNNLAB_OK;
        case 3:
            *offset = lo->bhn;
            *count = (m->cfg.cell == RNNLAB_CELL_GRU && m->cfg.gru_reset_after) ? (size_t)m->H : 0;
            return RNNLAB_OK;
        }
    }
    return set_error((rnnlab_model *)m, RNNLAB_E_INVALID,
                     "param_slice: no tensor of kind %d in layer %d", kind, layer);
}

/* The parameter count of a valid config, in 64 bits (SPEC §2). */
uint64_t expected_param_count(const rnnlab_config *cfg) {
    uint64_t G = (uint64_t)gate_count(cfg->cell), H = (uint64_t)cfg->hidden_size;
    uint64_t extra = cfg->cell == RNNLAB_CELL_GRU && cfg->gru_reset_after ? H : 0;
    uint64_t n = (uint64_t)cfg->output_size * (H + 1);
    for (int l = 0; l < cfg->layers; l++) {
        uint64_t in = l == 0 ? (uint64_t)cfg->input_size : H;
        n += G * H * (in + H + 1) + extra;
    }
    return n;
}

/* ---------------------------------------------------------------- create */

static size_t packed_floats(rnnlab_model *m) {
    size_t total = 0;
    int H = m->H, GH = m->G * m->H;
    for (int l = 0; l < m->L; l++) {
        if (m->cfg.cell == RNNLAB_CELL_GRU) {
            m->packed_fwd[l] = total;   total += gemm_packed_size(H, 2 * H);
            m->packed_fwd_n[l] = total; total += gemm_packed_size(H, H);
            m->packed_bwd[l] = total;   total += gemm_packed_size(2 * H, H);
            m->packed_bwd_n[l] = total; total += gemm_packed_size(H, H);
        } else {
            m->packed_fwd[l] = total;   total += gemm_packed_size(H, GH);
            m->packed_bwd[l] = total;   total += gemm_packed_size(GH, H);
            m->packed_fwd_n[l] = m->packed_bwd_n[l] = 0;
        }
    }
    return total;
}

rnnlab_status model_alloc(const rnnlab_config *cfg, rnnlab_model **out) {
    *out = NULL;
    char err[320];
    rnnlab_status st = validate_config(cfg, err, sizeof err);
    if (st) return set_error(NULL, st, "%s", err);

    rnnlab_model *m = calloc(1, sizeof *m);
    if (!m) return set_error(NULL, RNNLAB_E_NOMEM, "out of memory creating the model");
    m->cfg = *cfg;
    m->G = gate_count(cfg->cell);
    m->L = cfg->layers;
    m->X = cfg->input_size;
    m->H = cfg->hidden_size;
    m->Y = cfg->output_size;
    /* counted in 64 bits first: size_t is 32 bits in wasm */
    uint64_t need = expected_param_count(cfg);
    if (need > RNNLAB_MAX_ELEMENTS) {
        free(m);
        return set_error(NULL, RNNLAB_E_NOMEM,
                         "the model needs %.0f parameters; at most %u fit in wasm memory",
                         (double)need, RNNLAB_MAX_ELEMENTS);
    }
    m->n_params = compute_layout(m);
    size_t np = m->n_params, npacked = packed_floats(m);
    /* one block at a time: a block allocated before another fails would grow
     * wasm memory for good (it never shrinks) */
    m->params = calloc(4 * np, sizeof(float));
    if (m->params) m->packed = malloc((npacked ? npacked : 1) * sizeof(float));
    if (!m->params || !m->packed) {
        free(m->params);
        free(m);
        return set_error(NULL, RNNLAB_E_NOMEM,
                         "out of memory: the model needs %.0f MB of parameters and state",
                         (double)(4 * (uint64_t)np + npacked) * sizeof(float) / (1 << 20));
    }
    m->grads = m->params + np;
    m->opt_m = m->params + 2 * np;
    m->opt_v = m->params + 3 * np;
    m->opt = rnnlab_optimizer_default(RNNLAB_OPT_ADAM);
    m->moments_type = RNNLAB_OPT_ADAM;
    m->err[0] = '\0';
    *out = m;
    return RNNLAB_OK;
}

rnnlab_status rnnlab_create(const rnnlab_config *cfg, rnnlab_model **out) {
    if (!out) return set_error(NULL, RNNLAB_E_INVALID, "create: out is NULL");
    *out = NULL;
    if (!cfg) return set_error(NULL, RNNLAB_E_INVALID, "create: config is NULL");
    rnnlab_model *m;
    rnnlab_status st = model_alloc(cfg, &m);
    if (st) return st;
    st = init_parameters(m);
    if (st) {
        set_error(NULL, st, "%s", m->err);
        rnnlab_free(m);
        return st;
    }
    *out = m;
    return RNNLAB_OK;
}

void rnnlab_free(rnnlab_model *m) {
    if (!m) return;
    free(m->params);
    free(m->packed);
    free(m->batch);
    free(m->meta);
    free(m);
}

rnnlab_status rnnlab_set_metadata(rnnlab_model *m, const uint8_t *bytes, size_t len) {
    if (!m) return set_error(NULL, RNNLAB_E_INVALID, "set_metadata: the model is NULL");
    if (len && !bytes) return set_error(m, RNNLAB_E_INVALID, "set_metadata: bytes are NULL (length %zu)", len);
    if (len > RNNLAB_MAX_METADATA)
        return set_error(m, RNNLAB_E_INVALID, "metadata: expected at most %u bytes, got %zu",
                         RNNLAB_MAX_METADATA, len);
    uint8_t *copy = NULL;
    if (len) {
        copy = malloc(len);
        if (!copy) return set_error(m, RNNLAB_E_NOMEM, "out of memory keeping %zu bytes of metadata", len);
        memcpy(copy, bytes, len);
    }
    free(m->meta);
    m->meta = copy;
    m->meta_len = len;
    return RNNLAB_OK;
}

const uint8_t *rnnlab_metadata(const rnnlab_model *m, size_t *len) {
    if (len) *len = m && m->meta ? m->meta_len : 0;
    return m ? m->meta : NULL;
}

rnnlab_status rnnlab_get_config(const rnnlab_model *m, rnnlab_config *out) {
    if (!m) return set_error(NULL, RNNLAB_E_INVALID, "get_config: the model is NULL");
    if (!out) return set_error((rnnlab_model *)m, RNNLAB_E_INVALID, "get_config: out is NULL");
    *out = m->cfg;
    return RNNLAB_OK;
}

/* ---------------------------------------------------------------- batch */

rnnlab_status rnnlab_set_batch(rnnlab_model *m, int B, int T) {
    if (!m) return set_error(NULL, RNNLAB_E_INVALID, "set_batch: the model is NULL");
    if (B < 1 || T < 1 || B > 1000000 || T > 1000000)
        return set_error(m, RNNLAB_E_SHAPE,
                         "batch: expected 1 <= B <= 1000000 and 1 <= T <= 1000000, got B = %d, T = %d", B, T);
    /* 64-bit sizes: size_t is 32 bits in wasm and B * T * H can overflow it */
    uint64_t L = m->L, H = m->H, X = m->X, Y = m->Y, G = m->G, b = B, t = T;
    uint64_t BH = b * H, BT = b * t, XH = X > H ? X : H;
    uint64_t sizes[] = {
        BT * X, BT * Y, BT /* labels */, BT /* mask */, L * BH, L * BH, /* x y labels mask h0 c0 */
        BT * Y, L * BH, L * BH, BT * X, L * BH, L * BH,                 /* out hT cT dx dh0 dc0 */
        L * t, L * t, L * t * BH * G, L * (t + 1) * BH,                 /* flows gates hs */
        m->cfg.cell == RNNLAB_CELL_LSTM ? L * (t + 1) * BH : 0,         /* cs */
        m->cfg.cell == RNNLAB_CELL_LSTM ? L * t * BH : 0,               /* tanh_c */
        m->cfg.cell == RNNLAB_CELL_GRU ? L * t * BH : 0,                /* aux */
        BT * X, BT * Y, BT * Y, t * BH * G,                             /* xt yhat dyhat dgates */
        m->cfg.cell == RNNLAB_CELL_GRU ? t * BH : 0,                    /* daux */
        t * BH, t * b * XH, BH, BH, BH, BH, BH, b                       /* dH dH_below dh_next dc_next tmp tmp2 last_h last_t */
    };
    enum { NBUF = sizeof sizes / sizeof sizes[0] };
    uint64_t total = 0;
    for (int i = 0; i < NBUF; i++) {
        if (sizes[i] > RNNLAB_MAX_ELEMENTS)
            return set_error(m, RNNLAB_E_NOMEM,
                             "batch B = %d, T = %d needs a buffer of %.0f floats; at most %u fit",
                             B, T, (double)sizes[i], RNNLAB_MAX_ELEMENTS);
        total += (sizes[i] + 3) & ~(uint64_t)3; /* keep every buffer 16-byte aligned */
    }
    if (total > (uint64_t)RNNLAB_MAX_ELEMENTS * 2)
        return set_error(m, RNNLAB_E_NOMEM, "batch B = %d, T = %d needs %.0f MB; too large for wasm memory",
                         B, T, (double)(total * sizeof(float) >> 20));
    if (total > m->batch_cap) {
        float *nb = malloc((size_t)total * sizeof(float));
        if (!nb)
            return set_error(m, RNNLAB_E_NOMEM,
                             "out of memory: batch B = %d, T = %d needs %.0f MB", B, T,
                             (double)(total * sizeof(float) >> 20));
        free(m->batch);
        m->batch = nb;
        m->batch_cap = (size_t)total;
    }
    if (B != m->B || T != m->T) memset(m->batch, 0, (size_t)total * sizeof(float));
    float *p = m->batch;
    float **ptrs[] = {
        &m->x, &m->y, (float **)&m->labels, &m->mask, &m->h0, &m->c0,
        &m->out, &m->hT, &m->cT, &m->dx, &m->dh0, &m->dc0,
        &m->flow_h, &m->flow_c, &m->gates, &m->hs, &m->cs, &m->tanh_c, &m->aux,
        &m->xt, &m->yhat, &m->dyhat, &m->dgates, &m->daux,
        &m->dH, &m->dH_below, &m->dh_next, &m->dc_next, &m->tmp_bh, &m->tmp_bh2,
        &m->last_h, (float **)&m->last_t
    };
    _Static_assert(sizeof ptrs / sizeof ptrs[0] == NBUF, "one pointer per buffer size");
    for (int i = 0; i < NBUF; i++) {
        *ptrs[i] = sizes[i] ? p : NULL;
        p += (size_t)((sizes[i] + 3) & ~(uint64_t)3);
    }
    m->B = B;
    m->T = T;
    m->have_forward = 0;
    return RNNLAB_OK;
}

void *rnnlab_buffer(rnnlab_model *m, int id, size_t *count) {
    size_t dummy;
    if (!count) count = &dummy;
    *count = 0;
    if (!m) return NULL;
    size_t L = m->L, H = m->H, B = m->B, T = m->T, G = m->G;
    size_t BT = B * T, LBH = L * B * H;
    size_t out_rows = m->cfg.output == RNNLAB_OUTPUT_LAST ? B : BT;
    int lstm = m->cfg.cell == RNNLAB_CELL_LSTM;
    void *p = NULL;
    size_t n = 0;
    switch (id) {
    case RNNLAB_BUF_PARAMS: p = m->params; n = m->n_params; break;
    case RNNLAB_BUF_GRADS: p = m->grads; n = m->n_params; break;
    case RNNLAB_BUF_OPT_M: p = m->opt_m; n = m->n_params; break;
    case RNNLAB_BUF_OPT_V: p = m->opt_v; n = m->n_params; break;
    case RNNLAB_BUF_STATS: p = m->stats; n = RNNLAB_STAT_COUNT; break;
    default:
        if (!m->batch) return NULL;
        switch (id) {
        case RNNLAB_BUF_X: p = m->x; n = BT * m->X; break;
        case RNNLAB_BUF_Y: p = m->y; n = out_rows * m->Y; break;
        case RNNLAB_BUF_LABELS: p = m->labels; n = out_rows; break;
        case RNNLAB_BUF_MASK: p = m->mask; n = BT; break;
        case RNNLAB_BUF_H0: p = m->h0; n = LBH; break;
        case RNNLAB_BUF_C0: p = lstm ? m->c0 : NULL; n = lstm ? LBH : 0; break;
        case RNNLAB_BUF_OUT: p = m->out; n = out_rows * m->Y; break;
        case RNNLAB_BUF_HT: p = m->hT; n = LBH; break;
        case RNNLAB_BUF_CT: p = lstm ? m->cT : NULL; n = lstm ? LBH : 0; break;
        case RNNLAB_BUF_DX: p = m->dx; n = BT * m->X; break;
        case RNNLAB_BUF_DH0: p = m->dh0; n = LBH; break;
        case RNNLAB_BUF_DC0: p = lstm ? m->dc0 : NULL; n = lstm ? LBH : 0; break;
        case RNNLAB_BUF_FLOW_H: p = m->flow_h; n = L * T; break;
        case RNNLAB_BUF_FLOW_C: p = lstm ? m->flow_c : NULL; n = lstm ? L * T : 0; break;
        case RNNLAB_BUF_GATES: p = m->gates; n = L * BT * G * H; break;
        case RNNLAB_BUF_HIDDEN: p = m->hs; n = L * (T + 1) * B * H; break;
        case RNNLAB_BUF_CELLS: p = m->cs; n = lstm ? L * (T + 1) * B * H : 0; break;
        default: return NULL;
        }
    }
    *count = p ? n : 0;
    return p;
}

void rnnlab_params_changed(rnnlab_model *m) {
    if (m) m->packed_valid = 0;
}

/* ---------------------------------------------------------------- optimiser */

rnnlab_optimizer rnnlab_optimizer_default(int type) {
    rnnlab_optimizer o;
    memset(&o, 0, sizeof o);
    o.type = type;
    o.lr = type == RNNLAB_OPT_SGD || type == RNNLAB_OPT_MOMENTUM ? 0.01f : 0.001f;
    o.momentum = 0.9f;
    o.beta1 = 0.9f;
    o.beta2 = 0.999f;
    o.eps = type == RNNLAB_OPT_RMSPROP ? 1e-7f : 1e-8f;
    o.rho = 0.9f;
    o.weight_decay = type == RNNLAB_OPT_ADAMW ? 0.01f : 0.0f;
    return o;
}

#define CHECK_OPT(cond, fmt, value)                                              \
    if (!(cond)) return set_error(m, RNNLAB_E_INVALID, fmt, (double)(value));

rnnlab_status rnnlab_set_optimizer(rnnlab_model *m, const rnnlab_optimizer *o) {
    if (!m) return set_error(NULL, RNNLAB_E_INVALID, "set_optimizer: the model is NULL");
    if (!o) return set_error(m, RNNLAB_E_INVALID, "set_optimizer: the settings are NULL");
    if (o->type < 0 || o->type > RNNLAB_OPT_RMSPROP)
        return set_error(m, RNNLAB_E_INVALID,
                         "optimizer type: expected 0..4 (sgd, momentum, adam, adamw, rmsprop), got %d",
                         o->type);
    CHECK_OPT(o->lr > 0.0f && isfinite(o->lr), "lr: expected a finite number > 0, got %g", o->lr);
    CHECK_OPT(o->momentum >= 0.0f && o->momentum < 1.0f, "momentum: expected 0 <= momentum < 1, got %g", o->momentum);
    CHECK_OPT(o->beta1 >= 0.0f && o->beta1 < 1.0f, "beta1: expected 0 <= beta1 < 1, got %g", o->beta1);
    CHECK_OPT(o->beta2 >= 0.0f && o->beta2 < 1.0f, "beta2: expected 0 <= beta2 < 1, got %g", o->beta2);
    CHECK_OPT(o->eps > 0.0f && isfinite(o->eps), "eps: expected a finite number > 0, got %g", o->eps);
    CHECK_OPT(o->rho >= 0.0f && o->rho < 1.0f, "rho: expected 0 <= rho < 1, got %g", o->rho);
    CHECK_OPT(o->weight_decay >= 0.0f && isfinite(o->weight_decay), "weight_decay: expected a finite number >= 0, got %g", o->weight_decay);
    CHECK_OPT(o->clip_norm >= 0.0f && isfinite(o->clip_norm), "clip_norm: expected a finite number >= 0 (0 = off), got %g", o->clip_norm);
    CHECK_OPT(o->clip_value >= 0.0f && isfinite(o->clip_value), "clip_value: expected a finite number >= 0 (0 = off), got %g", o->clip_value);
    m->opt = *o;
    return RNNLAB_OK;
}

rnnlab_status rnnlab_get_optimizer(const rnnlab_model *m, rnnlab_optimizer *out) {
    if (!m) return set_error(NULL, RNNLAB_E_INVALID, "get_optimizer: the model is NULL");
    if (!out) return set_error((rnnlab_model *)m, RNNLAB_E_INVALID, "get_optimizer: out is NULL");
    *out = m->opt;
    return RNNLAB_OK;
}

void rnnlab_reset_optimizer(rnnlab_model *m) {
    if (!m) return;
    memset(m->opt_m, 0, 2 * m->n_params * sizeof(float));
    m->step = 0;
    m->stats[RNNLAB_STAT_STEP] = 0;
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
    return run_forward(m, flags, with_loss);
}

/* Forward, backward and the global norm; fills the stats. */
static rnnlab_status gradients_and_norm(rnnlab_model *m, int flags, double *norm) {
    rnnlab_status st = need_batch(m);
    if (st) return st;
    st = run_forward(m, flags, 1);
    if (st) return st;
    run_backward(m, flags);
    *norm = grad_norm_global(m->grads, m->n_params);
    float loss = m->stats[RNNLAB_STAT_LOSS];
    m->stats[RNNLAB_STAT_GRAD_NORM] = (float)*norm;
    m->stats[RNNLAB_STAT_GRAD_NORM_AFTER] = (float)*norm;
    m->stats[RNNLAB_STAT_CLIPPED] = 0.0f;
    if (!isfinite(loss) || !isfinite(*norm))
        return set_error(m, RNNLAB_E_NONFINITE,
                         "non-finite %s (loss %g, gradient norm %g): the weights were left unchanged",
                         isfinite(loss) ? "gradient" : "loss", (double)loss, *norm);
    return RNNLAB_OK;
}

/* The scale of norm clipping, and the norm after all clipping. */
static float clip_scale(const rnnlab_model *m, double norm) {
    float tau = m->opt.clip_norm;
    return tau > 0.0f && norm > tau ? (float)(tau / norm) : 1.0f;
}

/* Without value clipping the norm after clipping is scale · norm; only
 * clamping elements needs another pass over the gradients. */
static double norm_after_clipping(const rnnlab_model *m, double norm, float scale) {
    float v = m->opt.clip_value;
    if (v <= 0.0f) return norm * scale;
    double s = 0.0;
    for (size_t i = 0; i < m->n_params; i++) {
        float g = m->grads[i] * scale;
        g = g > v ? v : g < -v ? -v : g;
        s += (double)g * g;
    }
    return sqrt(s);
}

/* Forward, backward, clipping statistics; *scale is the norm-clipping factor. */
static rnnlab_status gradients_and_clipping(rnnlab_model *m, int flags, float *scale) {
    double norm;
    rnnlab_status st = gradients_and_norm(m, flags, &norm);
    if (st) return st;
    *scale = clip_scale(m, norm);
    m->stats[RNNLAB_STAT_CLIPPED] = *scale < 1.0f ? 1.0f : 0.0f;
    m->stats[RNNLAB_STAT_GRAD_NORM_AFTER] = (float)norm_after_clipping(m, norm, *scale);
    return RNNLAB_OK;
}

rnnlab_status rnnlab_compute_gradients(rnnlab_model *m, int flags) {
    float scale;
    return gradients_and_clipping(m, (flags & ~RUN_INPUT_GRADS) | RUN_INPUT_GRADS, &scale);
}

rnnlab_status rnnlab_train_step(rnnlab_model *m, int flags) {
    float scale;
    rnnlab_status st = gradients_and_clipping(m, flags & ~RUN_INPUT_GRADS, &scale);
    if (st) return st;
    if (m->stats[RNNLAB_STAT_COUNTED] == 0.0f) return RNNLAB_OK; /* nothing to learn from */
    st = apply_update(m, scale, m->opt.clip_value);
    if (st) return st;
    m->packed_valid = 0;
    m->stats[RNNLAB_STAT_STEP] = (float)m->step;
    return RNNLAB_OK;
}

/* ---------------------------------------------------------------- bytes */

void *rnnlab_scratch(size_t bytes) { return malloc(bytes ? bytes : 1); }
void rnnlab_bytes_free(void *p) { free(p); }
