/* init.c — seeded initialisation (SPEC §6). Every draw comes from one
 * xoshiro128** stream seeded from the model's seed, in a fixed order:
 * layer by layer W, U, b (, b_hn), then the head V, c. */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct { uint32_t s[4]; } rng_state;

static uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }

static uint32_t rng_next(rng_state *r) {
    uint32_t *s = r->s;
    uint32_t result = rotl(s[1] * 5, 7) * 9;
    uint32_t t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
}

/* splitmix32 expands the 32-bit seed into the 128-bit state. */
static void rng_seed(rng_state *r, uint32_t seed) {
    uint32_t z = seed;
    for (int i = 0; i < 4; i++) {
        z += 0x9e3779b9u;
        uint32_t x = z;
        x = (x ^ (x >> 16)) * 0x85ebca6bu;
        x = (x ^ (x >> 13)) * 0xc2b2ae35u;
        r->s[i] = x ^ (x >> 16);
    }
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(rng_state *r) {
    uint64_t hi = rng_next(r) >> 5, lo = rng_next(r) >> 6;
    return (double)(hi * 67108864.0 + lo) / 9007199254740992.0;
}

static double rng_gaussian(rng_state *r) {
    double u1 = 1.0 - rng_uniform(r); /* (0, 1] */
    double u2 = rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void fill_uniform(rng_state *r, float *p, size_t n, double bound) {
    for (size_t i = 0; i < n; i++) p[i] = (float)((2.0 * rng_uniform(r) - 1.0) * bound);
}

/* An H x H orthogonal matrix times scale: modified Gram-Schmidt on the rows of
 * a Gaussian matrix, in double. work holds H*H doubles. */
static void fill_orthogonal(rng_state *r, float *p, int H, double scale, double *work) {
    for (int i = 0; i < H * H; i++) work[i] = rng_gaussian(r);
    for (int i = 0; i < H; i++) {
        double *row = work + (size_t)i * H;
        for (int pass = 0; pass < 2; pass++) { /* twice: orthogonal to rounding */
            for (int j = 0; j < i; j++) {
                const double *q = work + (size_t)j * H;
                double dot = 0.0;
                for (int k = 0; k < H; k++) dot += row[k] * q[k];
                for (int k = 0; k < H; k++) row[k] -= dot * q[k];
            }
        }
        double norm = 0.0;
        for (int k = 0; k < H; k++) norm += row[k] * row[k];
        norm = sqrt(norm);
        if (norm < 1e-12) { /* degenerate draw: fall back to a unit vector */
            memset(row, 0, (size_t)H * sizeof(double));
            row[i] = 1.0;
            norm = 1.0;
        }
        for (int k = 0; k < H; k++) row[k] /= norm;
    }
    for (int i = 0; i < H * H; i++) p[i] = (float)(work[i] * scale);
}

static void fill_gaussian(rng_state *r, float *p, size_t n, double std) {
    for (size_t i = 0; i < n; i++) p[i] = (float)(rng_gaussian(r) * std);
}

rnnlab_status init_parameters(rnnlab_model *m) {
    rng_state r;
    rng_seed(&r, m->cfg.seed);
    int H = m->H, G = m->G;
    size_t HH = (size_t)H * H;
    double *work = malloc(HH * sizeof(double));
    if (!work) return set_error(m, RNNLAB_E_NOMEM, "out of memory initialising %d x %d recurrent blocks", H, H);
    int pytorch = m->cfg.init == RNNLAB_INIT_PYTORCH;
    double kbound = 1.0 / sqrt((double)H);
    memset(m->params, 0, m->n_params * sizeof(float));
    for (int u = 0; u < m->units; u++) {
        const layer_offsets *lo = &m->lay[u];
        float *W = m->params + lo->W, *U = m->params + lo->U, *b = m->params + lo->b;
        size_t wblock = (size_t)H * lo->in;
        double glorot = sqrt(6.0 / (lo->in + H));
        for (int g = 0; g < G; g++) fill_uniform(&r, W + g * wblock, wblock, pytorch ? kbound : glorot);
        for (int g = 0; g < G; g++) {
            float *Ug = U + g * HH;
            if (pytorch)
                fill_uniform(&r, Ug, HH, kbound);
            else if (m->cfg.recurrent_init == RNNLAB_RECURRENT_GAUSSIAN)
                fill_gaussian(&r, Ug, HH, m->cfg.recurrent_scale / sqrt((double)H));
            else
                fill_orthogonal(&r, Ug, H, m->cfg.recurrent_scale, work);
        }
        if (pytorch) {
            fill_uniform(&r, b, (size_t)G * H, kbound);
            if (m->cfg.cell == RNNLAB_CELL_GRU && m->cfg.gru_reset_after)
                fill_uniform(&r, m->params + lo->bhn, (size_t)H, kbound);
        } else if (m->cfg.cell == RNNLAB_CELL_LSTM && m->cfg.forget_bias_one) {
            for (int j = 0; j < H; j++) b[H + j] = 1.0f; /* forget block */
        }
    }
    float *V = m->params + m->off_V, *c = m->params + m->off_c;
    int DH = m->D * H; /* the head reads [h→ ; h←] of a bidirectional top layer */
    fill_uniform(&r, V, (size_t)m->Y * DH, pytorch ? kbound : sqrt(6.0 / (DH + m->Y)));
    if (pytorch) fill_uniform(&r, c, (size_t)m->Y, kbound);
    /* the embedding table last, N(0, 1) as PyTorch's nn.Embedding: the draws
     * of every other tensor stay as without one */
    fill_gaussian(&r, m->params + m->off_emb, (size_t)m->cfg.embedding_vocab * m->X, 1.0);
    free(work);
    m->packed_valid = 0;
    return RNNLAB_OK;
}
