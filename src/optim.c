/* optim.c — gradient clipping (SPEC §5) and the optimisers (SPEC §7).
 * Clipping is applied on the fly inside the update: the raw gradients of
 * the step stay readable in m->grads. */
#include "model.h"

#include <math.h>
#include <string.h>

double grad_norm_global(const float *g, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    return sqrt(s);
}

/* g <- clamp(scale * g, -v, v): norm clipping first, then by value. */
static inline float clipped(float g, float scale, float v) {
    g *= scale;
    if (v > 0.0f) g = g > v ? v : g < -v ? -v : g;
    return g;
}

/* One element's update. Writes the new parameter and optimiser state. */
typedef struct { float lr, mu, b1, b2, eps, rho, decay, c1, c2; int type; } update_rule;

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
    default: /* Adam: m ← β1 m + (1-β1) g;  v ← β2 v + (1-β2) g²;
              * θ ← θ - η (m̂ / (sqrt(v̂) + ε) + λ θ), λ = 0 unless AdamW */
        *ns1 = u->b1 * s1 + (1.0f - u->b1) * g;
        *ns2 = u->b2 * s2 + (1.0f - u->b2) * g * g;
        *np = p - u->lr * (*ns1 * u->c1 / (sqrtf(*ns2 * u->c2) + u->eps) + u->decay * p);
        return;
    }
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
    for (size_t i = 0; i < n; i++) {
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
    for (size_t i = 0; i < n; i++)
        update_one(&u, clipped(grad[i], scale, v), p[i], s1[i], s2[i], &p[i], &s1[i], &s2[i]);
    m->step = step;
    return RNNLAB_OK;
}
