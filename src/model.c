/* model.c — the model's lifecycle: errors, config defaults and checks, the
 * parameter layout, creating and freeing, metadata. */
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
    CHECK_RANGE(embedding_vocab, 0, RNNLAB_MAX_SIZE, "0 (no embedding) or a vocabulary size up to 65536");
    if (!(cfg->recurrent_scale >= 0.0f && cfg->recurrent_scale <= 100.0f)) {
        snprintf(err, errlen, "recurrent_scale: expected a number from 0 to 100, got %g",
                 (double)cfg->recurrent_scale);
        return RNNLAB_E_INVALID;
    }
    const float p[3] = {cfg->dropout, cfg->input_dropout, cfg->recurrent_dropout};
    static const char *const p_name[3] = {"dropout", "input_dropout", "recurrent_dropout"};
    for (int k = 0; k < 3; k++)
        if (!(p[k] >= 0.0f && p[k] < 1.0f) || signbit(p[k])) { /* -0 too: a saved file keeps the bits */
            snprintf(err, errlen, "%s: expected a probability from 0 up to (not including) 1, got %g", p_name[k],
                     (double)p[k]);
            return RNNLAB_E_INVALID;
        }
    CHECK_RANGE(bidirectional, 0, 1, "0 or 1");
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
    for (int u = 0; u < m->units; u++) { /* layer u / D, direction u % D */
        layer_offsets *lo = &m->lay[u];
        lo->in = u < m->D ? m->X : m->D * m->H;
        lo->W = off; off += GH * lo->in;
        lo->U = off; off += GH * H;
        lo->b = off; off += GH;
        lo->bhn = off;
        if (m->cfg.cell == RNNLAB_CELL_GRU && m->cfg.gru_reset_after) off += H;
    }
    m->off_V = off; off += (size_t)m->Y * m->D * H;
    m->off_c = off; off += (size_t)m->Y;
    m->off_emb = off; off += (size_t)m->cfg.embedding_vocab * m->X;
    return off;
}

size_t rnnlab_param_count(const rnnlab_model *m) { return m ? m->n_params : 0; }

rnnlab_status rnnlab_param_slice(const rnnlab_model *m, int layer, int kind,
                                 size_t *offset, size_t *count) {
    if (!m) return set_error(NULL, RNNLAB_E_INVALID, "param_slice: the model is NULL");
    if (!offset || !count) return set_error((rnnlab_model *)m, RNNLAB_E_INVALID, "param_slice: offset or count is NULL");
    size_t GH = (size_t)m->G * m->H;
    if (layer == -1 && kind == 0 && m->cfg.embedding_vocab > 0) {
        *offset = m->off_emb;
        *count = (size_t)m->cfg.embedding_vocab * m->X;
        return RNNLAB_OK;
    }
    if (layer == m->L) {
        if (kind == 0) { *offset = m->off_V; *count = (size_t)m->Y * m->D * m->H; return RNNLAB_OK; }
        if (kind == 1) { *offset = m->off_c; *count = (size_t)m->Y; return RNNLAB_OK; }
    } else if (layer >= 0 && layer < m->L && kind >= 0 && kind < 4 * m->D) {
        const layer_offsets *lo = &m->lay[layer * m->D + kind / 4]; /* kinds 4..7: the reverse direction */
        switch (kind % 4) {
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
    uint64_t D = cfg->bidirectional ? 2 : 1;
    uint64_t n = (uint64_t)cfg->output_size * (D * H + 1) + (uint64_t)cfg->embedding_vocab * cfg->input_size;
    for (int l = 0; l < cfg->layers; l++) {
        uint64_t in = l == 0 ? (uint64_t)cfg->input_size : D * H;
        n += D * (G * H * (in + H + 1) + extra);
    }
    return n;
}

/* ---------------------------------------------------------------- create */

static size_t packed_floats(rnnlab_model *m) {
    size_t total = 0;
    int H = m->H, GH = m->G * m->H;
    for (int l = 0; l < m->units; l++) {
        m->packed_in[l] = total;
        total += gemm_packed_size(m->lay[l].in, GH);
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
        if (m->cfg.recurrent_dropout > 0.0f) {
            size_t blocks = (size_t)m->G * gemm_packed_size(H, H);
            m->packed_drop_fwd[l] = total; total += blocks;
            m->packed_drop_bwd[l] = total; total += blocks;
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
    m->D = cfg->bidirectional ? 2 : 1;
    m->units = m->L * m->D;
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
    m->Xm = m->X;
    for (int u = 1; u < m->units; u++) m->Xm = m->lay[u].in > m->Xm ? m->lay[u].in : m->Xm;
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
    buffer_table_refresh(m);
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
    free(m->state);
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

void rnnlab_params_changed(rnnlab_model *m) {
    if (m) m->packed_valid = 0;
}

/* ---------------------------------------------------------------- bytes */

void *rnnlab_scratch(size_t bytes) { return malloc(bytes ? bytes : 1); }
void rnnlab_bytes_free(void *p) { free(p); }
