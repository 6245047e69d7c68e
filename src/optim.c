/* optim.c — the global gradient norm and clipping (SPEC §5), the
 * optimisers (SPEC §7): their settings and their update. Clipping is
 * applied on the fly inside the update: the raw gradients of the step stay
 * readable in m->grads. */
#include "model.h"
#include "pool.h"
#include "simd.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- settings */

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

/* ---------------------------------------------------------------- norms and clipping */

/* ‖g‖ in double, with four running sums so the additions need not wait for
 * each other. */
double grad_norm_global(const float *g, size_t n) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += (double)g[i] * g[i];
        s1 += (double)g[i + 1] * g[i + 1];
        s2 += (double)g[i + 2] * g[i + 2];
        s3 += (double)g[i + 3] * g[i + 3];
    }
    for (; i < n; i++) s0 += (double)g[i] * g[i];
    return sqrt((s0 + s1) + (s2 + s3));
}

/* The scale of norm clipping to tau (0 = off) for a global norm. */
float clip_scale(float tau, double norm) {
    return tau > 0.0f && norm > tau ? (float)(tau / norm) : 1.0f;
}

/* The global norm after all clipping of g (n floats). Without value
 * clipping (v = 0) it is scale · norm; only clamping elements needs another
 * pass over the gradients. */
double norm_after_clipping(const float *g, size_t n, double norm, float scale, float v) {
    if (v <= 0.0f) return norm * scale;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        float c = g[i] * scale;
        c = c > v ? v : c < -v ? -v : c;
        s += (double)c * c;
    }
    return sqrt(s);
}

/* ---------------------------------------------------------------- update */

/* g <- clamp(scale * g, -v, v): norm clipping first, then by value. */
static inline float clipped(float g, float scale, float v) {
    g *= scale;
    if (v > 0.0f) g = g > v ? v : g < -v ? -v : g;
    return g;
}

/* One element's update. Writes the new parameter and optimiser state. */
typedef struct { float lr, mu, b1, b2, eps, rho, decay, c1, c2; int type; } update_rule;

/* Adam: m ← β1 m + (1-β1) g;  v ← β2 v + (1-β2) g²;
 * θ ← θ - η (m̂ / (sqrt(v̂) + ε) + λ θ), λ = 0 unless AdamW.
 * For floats and for vectors of floats alike (the rule's scalars broadcast),
 * so update_one and adam_vectors do the same arithmetic in the same order. */
#define ADAM_RULE(u, SQRT, g, p, s1, s2, ns1, ns2, np)                                  \
    do {                                                                            \
        (ns1) = (u)->b1 * (s1) + (1.0f - (u)->b1) * (g);                             \
        (ns2) = (u)->b2 * (s2) + (1.0f - (u)->b2) * (g) * (g);                       \
        (np) = (p) - (u)->lr * ((ns1) * (u)->c1 / (SQRT((ns2) * (u)->c2) + (u)->eps) \
                                + (u)->decay * (p));                                \
    } while (0)

static inline void update_one(const update_rule *u, float g, float p, float s1, float s2,
                              float *np, float *ns1, float *ns2) {
    switch (u->type) {
    case RNNLAB_OPT_SGD: /* θ ← θ - η g */
        *np = p - u->lr * g; *ns1 = s1; *ns2 = s2;
        return;
    case RNNLAB_OPT_MOMENTUM: /* v ← μ v + g;  θ ← θ - η v */
        *ns1 = u->mu * s1 + g;
        *np = p - u->lr * *ns1; *ns2 = s2;
        return;
    case RNNLAB_OPT_RMSPROP: /* s ← ρ s + (1-ρ) g²;  θ ← θ - η g / (sqrt(s) + ε) */
        *ns1 = u->rho * s1 + (1.0f - u->rho) * g * g;
        *np = p - u->lr * g / (sqrtf(*ns1) + u->eps); *ns2 = s2;
        return;
    default: /* Adam, AdamW */
        ADAM_RULE(u, sqrtf, g, p, s1, s2, *ns1, *ns2, *np);
        return;
    }
}

/* Adam and AdamW (the default) on whole vectors: the arithmetic of
 * update_one and clipped, lane by lane and in the same order, so every build
 * computes the same values. Elements [0, n - n % VW) only; the caller does
 * the rest one at a time. With write unset nothing is stored, and the result
 * is the first element whose new values are not all finite, or n. */
static size_t adam_vectors(const update_rule *u, size_t n, const float *grad, float scale,
                           float v, float *p, float *s1, float *s2, int fresh, int write) {
    vf sc = vf_splat(scale), hi = vf_splat(v), lo = vf_splat(-v), zero = vf_splat(0.0f);
    size_t end = n - n % VW;
    for (size_t i = 0; i < end; i += VW) {
        vf g = vf_load(grad + i) * sc;
        if (v > 0.0f) g = vf_select(g > hi, hi, vf_select(g < lo, lo, g));
        vf pv = vf_load(p + i);
        vf m1 = fresh ? zero : vf_load(s1 + i), m2 = fresh ? zero : vf_load(s2 + i);
        vf ns1, ns2, np;
        ADAM_RULE(u, vf_sqrt, g, pv, m1, m2, ns1, ns2, np);
        if (write) {
            vf_store(p + i, np);
            vf_store(s1 + i, ns1);
            vf_store(s2 + i, ns2);
        } else if (vi_any(vf_nonfinite(np) | vf_nonfinite(ns1) | vf_nonfinite(ns2))) {
            for (size_t k = i;; k++) { /* which lane */
                float a, b, c;
                update_one(u, clipped(grad[k], scale, v), p[k], fresh ? 0.0f : s1[k],
                           fresh ? 0.0f : s2[k], &a, &b, &c);
                if (!isfinite(a) || !isfinite(b) || !isfinite(c)) return k;
            }
        }
    }
    return n;
}

/* adam_vectors shared among the threads (pool.h) by ranges of whole vectors:
 * every element's arithmetic is its own, so the split changes no bits. The
 * checking pass reports the first bad element of all: each chunk finds its
 * own first, and the smallest wins. */
typedef struct {
    const update_rule *u;
    size_t n, step, bad[POOL_MAX_CHUNKS];
    const float *grad;
    float scale, v, *p, *s1, *s2;
    int fresh, write;
} adam_job;

static void adam_chunk(void *job, int chunk, int thread) {
    adam_job *j = job;
    size_t at = (size_t)chunk * j->step, len = j->n - at < j->step ? j->n - at : j->step;
    size_t bad = adam_vectors(j->u, len, j->grad + at, j->scale, j->v, j->p + at, j->s1 + at,
                              j->s2 + at, j->fresh, j->write);
    j->bad[chunk] = bad < len ? at + bad : j->n;
}

static size_t adam_all(const update_rule *u, size_t n, const float *grad, float scale, float v,
                       float *p, float *s1, float *s2, int fresh, int write) {
    size_t end = n - n % VW;
    int step = 0, chunks = end > (size_t)1 << 30 ? 1 : pool_plan((int)(end / VW), 1, 12.0 * (double)end, &step);
    if (chunks == 1) return adam_vectors(u, n, grad, scale, v, p, s1, s2, fresh, write);
    adam_job j = {u, end, (size_t)step * VW, {0}, grad, scale, v, p, s1, s2, fresh, write};
    pool_run(chunks, adam_chunk, &j, 12.0 * (double)end);
    size_t bad = n;
    for (int c = 0; c < chunks; c++) bad = j.bad[c] < end && j.bad[c] < bad ? j.bad[c] : bad;
    return bad;
}

/* Two passes: the first only checks that every new value is finite (a finite
 * gradient can still overflow lr·g or g²), the second writes. A step that
 * would leave anything non-finite changes nothing. The check costs one
 * O(parameters) pass, small next to the O(T·B·parameters) of the step. */
rnnlab_status apply_update(rnnlab_model *m, float scale, float v) {
    const rnnlab_optimizer *o = &m->opt;
    float *p = m->params, *s1 = m->opt_m, *s2 = m->opt_v;
    const float *grad = m->grads;
    size_t n = m->n_params;
    /* A new optimiser type starts from zero moments, at its first successful
     * update: settings changed before a failed step cost nothing. */
    int fresh = m->moments_type != o->type;
    double step = fresh ? 1.0 : m->step + 1.0;
    update_rule u = {
        .lr = o->lr, .mu = o->momentum, .b1 = o->beta1, .b2 = o->beta2, .eps = o->eps,
        .rho = o->rho, .decay = o->type == RNNLAB_OPT_ADAMW ? o->weight_decay : 0.0f,
        .c1 = (float)(1.0 / (1.0 - pow(o->beta1, step))),
        .c2 = (float)(1.0 / (1.0 - pow(o->beta2, step))),
        .type = o->type,
    };
    float np, ns1, ns2;
    int adam = o->type == RNNLAB_OPT_ADAM || o->type == RNNLAB_OPT_ADAMW;
    size_t first = 0; /* elements before it were checked as vectors */
    if (adam) {
        size_t bad = adam_all(&u, n, grad, scale, v, p, s1, s2, fresh, 0);
        if (bad < n)
            return set_error(m, RNNLAB_E_NONFINITE,
                             "the update would make parameter %zu non-finite (the learning rate "
                             "times the gradient overflows): the weights were left unchanged", bad);
        first = n - n % VW;
    }
    for (size_t i = first; i < n; i++) {
        float m1 = fresh ? 0.0f : s1[i], m2 = fresh ? 0.0f : s2[i];
        update_one(&u, clipped(grad[i], scale, v), p[i], m1, m2, &np, &ns1, &ns2);
        if (!isfinite(np) || !isfinite(ns1) || !isfinite(ns2))
            return set_error(m, RNNLAB_E_NONFINITE,
                             "the update would make parameter %zu non-finite (the learning rate "
                             "times the gradient overflows): the weights were left unchanged", i);
    }
    if (fresh) {
        memset(s1, 0, n * sizeof(float));
        memset(s2, 0, n * sizeof(float));
        m->moments_type = o->type;
    }
    if (adam) adam_all(&u, n, grad, scale, v, p, s1, s2, 0, 1);
    for (size_t i = first; i < n; i++)
        update_one(&u, clipped(grad[i], scale, v), p[i], s1[i], s2[i], &p[i], &s1[i], &s2[i]);
    m->step = step;
    return RNNLAB_OK;
}
