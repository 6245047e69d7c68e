/* batch.c — the memory of a batch: set_batch carves the batch block (every
 * buffer sized by B and T) and the state block (h0, c0, hT, cT, sized by B
 * alone: it survives a change of T), and fills the buffer table that
 * rnnlab_buffer and rnnlab_buffer_table read. */
#include "model.h"

#include <stdlib.h>
#include <string.h>

#define ALIGNED(n) (((n) + 3) & ~(uint64_t)3) /* keep every buffer 16-byte aligned */

/* The batch block's buffers, in carving order: their sizes (64-bit: size_t
 * is 32 bits in wasm and B * T * H can overflow it) and where they go. */
enum { N_BATCH = 39 };
static void batch_layout(rnnlab_model *m, int B, int T, uint64_t *sizes, float ***ptrs) {
    /* U: units (layers x directions, SPEC §11); DBH: a layer's output row block */
    uint64_t L = m->L, U = m->units, H = m->H, X = m->X, Y = m->Y, G = m->G, b = B, t = T;
    uint64_t BH = b * H, BT = b * t, DBH = m->D * BH;
    int lstm = m->cfg.cell == RNNLAB_CELL_LSTM, gru = m->cfg.cell == RNNLAB_CELL_GRU;
    int emb = m->cfg.embedding_vocab > 0, drop_between = m->cfg.dropout > 0.0f && L > 1;
    int drop_in = m->cfg.input_dropout > 0.0f, drop_rec = m->cfg.recurrent_dropout > 0.0f, bi = m->D == 2;
    uint64_t Xm = m->Xm;
    const uint64_t s[N_BATCH] = {
        BT * X, BT * Y, BT /* labels */, BT /* mask */, BT * Y, BT * X, U * BH, lstm ? U * BH : 0, /* x .. dh0 dc0 */
        U * t, lstm ? U * t : 0, U * t * BH * G, U * (t + 1) * BH,                                /* flows gates hs */
        lstm ? U * (t + 1) * BH : 0, lstm ? U * t * BH : 0, gru ? U * t * BH : 0,      /* cs tanh_c aux */
        BT * Y, BT * Y, t * BH * G, gru ? t * BH : 0, t * BH, L > 1 ? t * DBH : 0,     /* yhat dyhat dgates daux dH dH_below */
        BH, lstm ? BH : 0, lstm ? BH : 0, gru ? BH : 0, DBH, DBH, b, emb ? BT : 0, /* dh_next .. last_t ids */
        drop_between ? (L - 1) * t * DBH : 0, drop_in ? U * G * b * Xm : 0,         /* drop_layer drop_input */
        drop_rec ? U * G * BH : 0, drop_between ? (L - 1) * t * DBH : 0,            /* drop_rec dropped */
        drop_in || drop_rec ? BT * (Xm > H ? Xm : H) : 0,                          /* drop_scratch */
        bi ? L * t * DBH : 0, bi ? BT * Xm : 0, bi ? BT * Xm : 0, bi ? t * DBH : 0, bi ? b : 0, /* cat .. lengths */
    };
    float **p[N_BATCH] = {
        &m->x, &m->y, (float **)&m->labels, &m->mask, &m->out, &m->dx, &m->dh0, &m->dc0,
        &m->flow_h, &m->flow_c, &m->gates, &m->hs, &m->cs, &m->tanh_c, &m->aux,
        &m->yhat, &m->dyhat, &m->dgates, &m->daux, &m->dH, &m->dH_below,
        &m->dh_next, &m->dc_next, &m->dc_total, &m->drh, &m->last_h, &m->dlast_h,
        (float **)&m->last_t, (float **)&m->ids,
        &m->drop_layer, &m->drop_input, &m->drop_rec, &m->dropped, &m->drop_scratch,
        &m->cat, &m->rev_in, &m->rev_d, &m->dcat, (float **)&m->lengths,
    };
    memcpy(sizes, s, sizeof s);
    memcpy(ptrs, p, sizeof p);
}

/* The state block: h0, hT and for the LSTM c0, cT, each (L, B, H). */
static uint64_t state_floats(const rnnlab_model *m, int B) {
    uint64_t LBH = ALIGNED((uint64_t)m->units * B * m->H);
    return (m->cfg.cell == RNNLAB_CELL_LSTM ? 4 : 2) * LBH;
}

static void carve(float *p, const uint64_t *sizes, float ***ptrs, int n) {
    for (int i = 0; i < n; i++) {
        *ptrs[i] = sizes[i] ? p : NULL;
        p += (size_t)ALIGNED(sizes[i]);
    }
}

/* Total floats of the batch block, or 0 with the error set when it would
 * not fit. */
static uint64_t batch_floats(rnnlab_model *m, int B, int T, const uint64_t *sizes) {
    uint64_t total = 0;
    for (int i = 0; i < N_BATCH; i++) {
        if (sizes[i] > RNNLAB_MAX_ELEMENTS) {
            set_error(m, RNNLAB_E_NOMEM, "batch B = %d, T = %d needs a buffer of %.0f floats; at most %u fit",
                      B, T, (double)sizes[i], RNNLAB_MAX_ELEMENTS);
            return 0;
        }
        total += ALIGNED(sizes[i]);
    }
    if (total > (uint64_t)RNNLAB_MAX_ELEMENTS * 2) {
        set_error(m, RNNLAB_E_NOMEM, "batch B = %d, T = %d needs %.0f MB; too large for wasm memory",
                  B, T, (double)(total * sizeof(float) >> 20));
        return 0;
    }
    return total;
}

/* Grows the two blocks as needed; on failure nothing changes. */
static rnnlab_status grow_blocks(rnnlab_model *m, int B, int T, uint64_t total, uint64_t state) {
    float *nb = NULL, *ns = NULL;
    if (total > m->batch_cap && !(nb = malloc((size_t)total * sizeof(float))))
        return set_error(m, RNNLAB_E_NOMEM, "out of memory: batch B = %d, T = %d needs %.0f MB", B, T,
                         (double)(total * sizeof(float) >> 20));
    if (state > m->state_cap && !(ns = malloc((size_t)state * sizeof(float)))) {
        free(nb);
        return set_error(m, RNNLAB_E_NOMEM, "out of memory: the states of B = %d need %.0f MB", B,
                         (double)(state * sizeof(float) >> 20));
    }
    if (nb) { free(m->batch); m->batch = nb; m->batch_cap = (size_t)total; }
    if (ns) { free(m->state); m->state = ns; m->state_cap = (size_t)state; }
    return RNNLAB_OK;
}

rnnlab_status rnnlab_set_batch(rnnlab_model *m, int B, int T) {
    if (!m) return set_error(NULL, RNNLAB_E_INVALID, "set_batch: the model is NULL");
    if (B < 1 || T < 1 || B > 1000000 || T > 1000000)
        return set_error(m, RNNLAB_E_SHAPE,
                         "batch: expected 1 <= B <= 1000000 and 1 <= T <= 1000000, got B = %d, T = %d", B, T);
    uint64_t sizes[N_BATCH];
    float **ptrs[N_BATCH];
    batch_layout(m, B, T, sizes, ptrs);
    uint64_t total = batch_floats(m, B, T, sizes), state = state_floats(m, B);
    if (!total) return RNNLAB_E_NOMEM;
    rnnlab_status st = grow_blocks(m, B, T, total, state);
    if (st) return st;
    if (B != m->B || T != m->T) memset(m->batch, 0, (size_t)total * sizeof(float));
    if (B != m->state_B) memset(m->state, 0, (size_t)state * sizeof(float));
    carve(m->batch, sizes, ptrs, N_BATCH);
    size_t LBH = (size_t)ALIGNED((uint64_t)m->units * B * m->H);
    int lstm = m->cfg.cell == RNNLAB_CELL_LSTM;
    m->h0 = m->state;
    m->hT = m->state + LBH;
    m->c0 = lstm ? m->state + 2 * LBH : NULL;
    m->cT = lstm ? m->state + 3 * LBH : NULL;
    m->B = m->state_B = B;
    m->T = T;
    buffer_table_refresh(m);
    return RNNLAB_OK;
}

/* ---------------------------------------------------------------- the table */

/* Every buffer's pointer and length in elements (rnnlab.h); the batch and
 * state buffers are NULL/0 until the first set_batch. */
void buffer_table_refresh(rnnlab_model *m) {
    rnnlab_buffer_info *tb = m->table;
    memset(tb, 0, sizeof m->table);
#define SET(id, ptr, n) (tb[id].data = (ptr), tb[id].count = (ptr) ? (n) : 0)
    SET(RNNLAB_BUF_PARAMS, m->params, m->n_params);
    SET(RNNLAB_BUF_GRADS, m->grads, m->n_params);
    SET(RNNLAB_BUF_OPT_M, m->opt_m, m->n_params);
    SET(RNNLAB_BUF_OPT_V, m->opt_v, m->n_params);
    SET(RNNLAB_BUF_STATS, m->stats, RNNLAB_STAT_COUNT);
    if (!m->batch) return;
    size_t L = m->units, H = m->H, B = m->B, T = m->T, G = m->G; /* L: units (layers x directions) */
    size_t BT = B * T, LBH = L * B * H, rows = m->cfg.output == RNNLAB_OUTPUT_LAST ? B : BT;
    SET(RNNLAB_BUF_X, m->x, BT * m->X);
    SET(RNNLAB_BUF_Y, m->y, rows * m->Y);
    SET(RNNLAB_BUF_LABELS, m->labels, rows);
    SET(RNNLAB_BUF_MASK, m->mask, BT);
    SET(RNNLAB_BUF_H0, m->h0, LBH);
    SET(RNNLAB_BUF_C0, m->c0, LBH);
    SET(RNNLAB_BUF_OUT, m->out, rows * m->Y);
    SET(RNNLAB_BUF_HT, m->hT, LBH);
    SET(RNNLAB_BUF_CT, m->cT, LBH);
    SET(RNNLAB_BUF_DX, m->dx, BT * m->X);
    SET(RNNLAB_BUF_DH0, m->dh0, LBH);
    SET(RNNLAB_BUF_DC0, m->dc0, LBH);
    SET(RNNLAB_BUF_FLOW_H, m->flow_h, L * T);
    SET(RNNLAB_BUF_FLOW_C, m->flow_c, L * T);
    SET(RNNLAB_BUF_GATES, m->gates, L * BT * G * H);
    SET(RNNLAB_BUF_HIDDEN, m->hs, L * (T + 1) * B * H);
    SET(RNNLAB_BUF_CELLS, m->cs, L * (T + 1) * B * H);
    SET(RNNLAB_BUF_IDS, m->ids, BT);
    SET(RNNLAB_BUF_DROP_LAYER, m->drop_layer, (size_t)(m->L - 1) * BT * m->D * H);
    SET(RNNLAB_BUF_DROP_INPUT, m->drop_input, L * G * B * m->Xm);
    SET(RNNLAB_BUF_DROP_RECURRENT, m->drop_rec, L * G * B * H);
#undef SET
}

const rnnlab_buffer_info *rnnlab_buffer_table(rnnlab_model *m) { return m ? m->table : NULL; }

void *rnnlab_buffer(rnnlab_model *m, int id, size_t *count) {
    size_t dummy;
    if (!count) count = &dummy;
    *count = 0;
    if (!m || id < 0 || id >= RNNLAB_BUF_COUNT) return NULL;
    *count = m->table[id].count;
    return m->table[id].data;
}
