/* dropout.c — dropout while training (SPEC §12). Inverted: a kept unit is
 * scaled by 1/(1-p), a dropped one is 0.
 *   dropout            on layer l's output (l < L-1) before layer l+1 reads
 *                      it, a fresh mask per (b, t) (PyTorch)
 *   input_dropout      on layer l's x_t, one mask per sequence and gate block
 *   recurrent_dropout  on h_{t-1} where it enters gate block g: one mask per
 *                      sequence and block, the same at every step (Keras,
 *                      Gal and Ghahramani 2016)
 * Every mask element is a pure function of (seed, step count, kind, layer,
 * gate, b, t, unit) through an integer hash: the same bits in every build,
 * whatever B, the thread count or the order of drawing. */
#include "model.h"
#include "gemm.h"

#include <string.h>

/* ---------------------------------------------------------------- masks */

/* One round of a 32-bit integer hash (the finaliser of MurmurHash3) over h
 * with the word v mixed in. */
static uint32_t mix(uint32_t h, uint32_t v) {
    h ^= v * 0x9e3779b1u;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

enum { KIND_LAYER = 1, KIND_INPUT = 2, KIND_RECURRENT = 3 };

/* The key of one mask: the model's seed and step count, what it masks. */
static uint32_t mask_key(const rnnlab_model *m, int kind, int layer, int gate) {
    uint64_t step = (uint64_t)m->step;
    uint32_t h = mix(m->cfg.seed, (uint32_t)step);
    h = mix(h, (uint32_t)(step >> 32));
    return mix(h, (uint32_t)kind << 24 | (uint32_t)layer << 8 | (uint32_t)gate);
}

/* n mask values of one row: unit j is kept when its uniform u_j >= p. */
static void draw_row(float *out, int n, uint32_t row_key, float p) {
    float scale = 1.0f / (1.0f - p);
    for (int j = 0; j < n; j++) {
        float u = (float)(mix(row_key, (uint32_t)j) >> 8) * (1.0f / 16777216.0f); /* [0, 1) */
        out[j] = u >= p ? scale : 0.0f;
    }
}

int dropout_active(const rnnlab_model *m, int flags) {
    const rnnlab_config *c = &m->cfg;
    return (flags & RNNLAB_TRAINING) && (c->dropout > 0.0f || c->input_dropout > 0.0f || c->recurrent_dropout > 0.0f);
}

/* Blocks whose recurrent product the layer takes with masks: all but the
 * GRU's n block, which the cell masks itself. */
int recurrent_dropout_blocks(const rnnlab_model *m) { return m->cfg.cell == RNNLAB_CELL_GRU ? 2 : m->G; }

/* Draws every mask of this step into its buffer. */
void dropout_draw(rnnlab_model *m) {
    int B = m->B, T = m->T, H = m->H, G = m->G, Xm = m->Xm, DH = m->D * m->H;
    const rnnlab_config *c = &m->cfg;
    if (c->dropout > 0.0f)
        for (int l = 0; l + 1 < m->L; l++) {
            uint32_t key = mask_key(m, KIND_LAYER, l, 0);
            for (int t = 0; t < T; t++)
                for (int b = 0; b < B; b++)
                    draw_row(m->drop_layer + (((size_t)l * T + t) * B + b) * DH, DH,
                             mix(mix(key, (uint32_t)t), (uint32_t)b), c->dropout);
        }
    for (int l = 0; l < m->units; l++) /* l: a unit (layer x direction) from here on */
        for (int g = 0; g < G; g++)
            for (int b = 0; b < B; b++) {
                size_t row = ((size_t)l * G + g) * B + b;
                if (c->input_dropout > 0.0f) {
                    float *dst = m->drop_input + row * Xm;
                    memset(dst, 0, (size_t)Xm * sizeof(float));
                    draw_row(dst, m->lay[l].in, mix(mask_key(m, KIND_INPUT, l, g), (uint32_t)b), c->input_dropout);
                }
                if (c->recurrent_dropout > 0.0f)
                    draw_row(m->drop_rec + row * H, H, mix(mask_key(m, KIND_RECURRENT, l, g), (uint32_t)b),
                             c->recurrent_dropout);
            }
}

/* ---------------------------------------------------------------- between layers */

/* Layer l's output (T, B, D*H) as layer l+1 reads it, into dropped: out ⊙ mask. */
void dropout_layer_forward(rnnlab_model *m, int l, const float *out) {
    if (!m->dropping || m->cfg.dropout <= 0.0f) return;
    size_t n = (size_t)m->T * m->B * m->D * m->H;
    const float *mask = m->drop_layer + (size_t)l * n;
    float *dst = m->dropped + (size_t)l * n;
    for (size_t i = 0; i < n; i++) dst[i] = out[i] * mask[i];
}

/* d (T, B, D*H): dL/d(layer l's dropped output) becomes dL/d(its output). */
void dropout_layer_backward(rnnlab_model *m, int l, float *d) {
    if (!m->dropping || m->cfg.dropout <= 0.0f) return;
    size_t n = (size_t)m->T * m->B * m->D * m->H;
    const float *mask = m->drop_layer + (size_t)l * n;
    for (size_t i = 0; i < n; i++) d[i] *= mask[i];
}

/* ---------------------------------------------------------------- masked rows
 * From here on l is a unit (layer x direction, model.h) */

/* dst (T*B, n) = src (T*B, n, leading dimension ld) ⊙ the mask row of each
 * row's sequence b (mask (B, mask_ld)). */
static void mask_rows(float *dst, const float *src, int ld, const float *mask, int mask_ld, int T, int B, int n) {
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            const float *s = src + ((size_t)t * B + b) * ld, *k = mask + (size_t)b * mask_ld;
            float *d = dst + ((size_t)t * B + b) * n;
            for (int j = 0; j < n; j++) d[j] = s[j] * k[j];
        }
}

static const float *input_mask(const rnnlab_model *m, int l, int g) {
    return m->drop_input + ((size_t)l * m->G + g) * m->B * m->Xm;
}

static const float *recurrent_mask(const rnnlab_model *m, int l, int g) {
    return m->drop_rec + ((size_t)l * m->G + g) * m->B * m->H;
}

/* ---------------------------------------------------------------- input dropout */

/* gates (T*B, G*H) += (in ⊙ m_g) W_g^T, block by block */
void input_dropout_project(rnnlab_model *m, int l, const float *in, float *gates) {
    int H = m->H, GH = m->G * H, X = m->lay[l].in, TB = m->T * m->B;
    const float *W = m->params + m->lay[l].W;
    for (int g = 0; g < m->G; g++) {
        mask_rows(m->drop_scratch, in, X, input_mask(m, l, g), m->Xm, m->T, m->B, X);
        gemm(0, 1, TB, H, X, m->drop_scratch, X, W + (size_t)g * H * X, X, 1.0f, gates + (size_t)g * H, GH);
    }
}

/* dW_g += dG_gᵀ (in ⊙ m_g);  din (= or +=) (dG_g W_g) ⊙ m_g */
static void input_dropout_backward(rnnlab_model *m, int l, const float *in, float *din) {
    int H = m->H, GH = m->G * H, X = m->lay[l].in, TB = m->T * m->B;
    const float *W = m->params + m->lay[l].W;
    float *dW = m->grads + m->lay[l].W, *s = m->drop_scratch;
    for (int g = 0; g < m->G; g++) {
        const float *mask = input_mask(m, l, g);
        mask_rows(s, in, X, mask, m->Xm, m->T, m->B, X);
        gemm(1, 0, H, X, TB, m->dgates + (size_t)g * H, GH, s, X, 1.0f, dW + (size_t)g * H * X, X);
        if (!din) continue;
        gemm(0, 0, TB, X, H, m->dgates + (size_t)g * H, GH, W + (size_t)g * H * X, X, 0.0f, s, X);
        for (size_t r = 0; r < (size_t)TB; r++) {
            const float *k = mask + (r % (size_t)m->B) * m->Xm, *sr = s + r * X;
            float *d = din + r * X;
            if (g == 0) for (int j = 0; j < X; j++) d[j] = sr[j] * k[j];
            else for (int j = 0; j < X; j++) d[j] += sr[j] * k[j];
        }
    }
}

/* ---------------------------------------------------------------- recurrent dropout */

/* pre (B, G*H): block g += (h_prev ⊙ m_g) U_g^T for the blocks masked here,
 * with U_g packed once per optimiser step (pack_weights) */
void recurrent_dropout_product(rnnlab_model *m, int l, const float *h_prev, float *pre) {
    int B = m->B, H = m->H, GH = m->G * H;
    for (int g = 0; g < recurrent_dropout_blocks(m); g++) {
        const float *Ug = m->packed + m->packed_drop_fwd[l] + (size_t)g * gemm_packed_size(H, H);
        mask_rows(m->drop_scratch, h_prev, H, recurrent_mask(m, l, g), H, 1, B, H);
        gemm_packed(B, H, H, m->drop_scratch, H, Ug, 1.0f, pre + (size_t)g * H, GH);
    }
}

/* dh_prev (B, H) (= or +=) Σ_g (dpre_g U_g) ⊙ m_g over the blocks masked here */
void recurrent_dropout_backprop(rnnlab_model *m, int l, const float *dpre, float *dh_prev, int overwrite) {
    int B = m->B, H = m->H, GH = m->G * H;
    size_t BH = (size_t)B * H;
    float *s = m->drop_scratch;
    for (int g = 0; g < recurrent_dropout_blocks(m); g++) {
        const float *mask = recurrent_mask(m, l, g);
        const float *Ug = m->packed + m->packed_drop_bwd[l] + (size_t)g * gemm_packed_size(H, H);
        gemm_packed(B, H, H, dpre + (size_t)g * H, GH, Ug, 0.0f, s, H);
        if (overwrite && g == 0) for (size_t i = 0; i < BH; i++) dh_prev[i] = s[i] * mask[i];
        else for (size_t i = 0; i < BH; i++) dh_prev[i] += s[i] * mask[i];
    }
}

/* ---------------------------------------------------------------- weight gradients */

/* dU_g += D_gᵀ (hs ⊙ mask), D_g (T*B, H) at leading dimension ld; mask NULL: hs */
static void recurrent_block_gradient(rnnlab_model *m, int l, int g, const float *D, int ld,
                                     const float *hs, const float *mask) {
    int H = m->H, TB = m->T * m->B;
    if (mask) {
        mask_rows(m->drop_scratch, hs, H, mask, H, m->T, m->B, H);
        hs = m->drop_scratch;
    }
    gemm(1, 0, H, H, TB, D, ld, hs, H, 1.0f, m->grads + m->lay[l].U + (size_t)g * H * H, H);
}

/* The weight gradients of layer l and dL/d(its input) when input or
 * recurrent dropout is on (layer.c has the plain ones). */
void dropout_weight_gradients(rnnlab_model *m, int l, const float *in, float *din) {
    int H = m->H, GH = m->G * H, TB = m->T * m->B, X = m->lay[l].in;
    const layer_offsets *lo = &m->lay[l];
    const float *hs = m->hs + (size_t)l * (m->T + 1) * m->B * H, *dg = m->dgates; /* h_0 .. h_{T-1} */
    int rec = m->cfg.recurrent_dropout > 0.0f, gru = m->cfg.cell == RNNLAB_CELL_GRU;
    add_column_sums(m->grads + lo->b, dg, (size_t)TB, GH, GH);
    if (m->cfg.input_dropout > 0.0f) {
        input_dropout_backward(m, l, in, din);
    } else {
        gemm(1, 0, GH, X, TB, dg, GH, in, X, 1.0f, m->grads + lo->W, X);
        if (din) gemm(0, 0, TB, X, GH, dg, GH, m->params + lo->W, X, 0.0f, din, X);
    }
    if (!rec && !gru) /* no recurrent masks: dU = dGᵀ H_prev in one product */
        gemm(1, 0, GH, H, TB, dg, GH, hs, H, 1.0f, m->grads + lo->U, H);
    else
        for (int g = 0; g < recurrent_dropout_blocks(m); g++)
            recurrent_block_gradient(m, l, g, dg + (size_t)g * H, GH, hs, rec ? recurrent_mask(m, l, g) : NULL);
    if (!gru) return;
    const float *m_n = rec ? recurrent_mask(m, l, 2) : NULL;
    if (m->cfg.gru_reset_after) {
        recurrent_block_gradient(m, l, 2, m->daux, H, hs, m_n);
        add_column_sums(m->grads + lo->bhn, m->daux, (size_t)TB, H, H);
    } else { /* aux = r⊙h_{t-1}⊙m_n already */
        recurrent_block_gradient(m, l, 2, dg + (size_t)2 * H, GH, m->aux + (size_t)l * TB * H, NULL);
    }
}
