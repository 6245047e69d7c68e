/* optim.c — gradient clipping (SPEC §5) and the optimisers (SPEC §7).
 * Clipping is applied on the fly inside the update: the raw gradients of
 * the step stay readable in m->grads. */
#include "model.h"

#include <math.h>

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

void apply_update(rnnlab_model *m, float scale, float v) {
    const rnnlab_optimizer *o = &m->opt;
    float *p = m->params, *s1 = m->opt_m, *s2 = m->opt_v;
    const float *grad = m->grads;
    size_t n = m->n_params;
    float lr = o->lr;
    m->step += 1.0;
    switch (o->type) {
    case RNNLAB_OPT_SGD: /* θ ← θ - η g */
        for (size_t i = 0; i < n; i++) p[i] -= lr * clipped(grad[i], scale, v);
        break;
    case RNNLAB_OPT_MOMENTUM: /* v ← μ v + g;  θ ← θ - η v */
        for (size_t i = 0; i < n; i++) {
            s1[i] = o->momentum * s1[i] + clipped(grad[i], scale, v);
            p[i] -= lr * s1[i];
        }
        break;
    case RNNLAB_OPT_ADAM:
    case RNNLAB_OPT_ADAMW: {
        /* m ← β1 m + (1-β1) g;  v ← β2 v + (1-β2) g²;  θ ← θ - η m̂ / (sqrt(v̂) + ε)
         * AdamW also θ ← θ - η λ θ (with θ before the step) */
        float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
        float c1 = (float)(1.0 / (1.0 - pow(b1, m->step)));
        float c2 = (float)(1.0 / (1.0 - pow(b2, m->step)));
        float decay = o->type == RNNLAB_OPT_ADAMW ? o->weight_decay : 0.0f;
        for (size_t i = 0; i < n; i++) {
            float g = clipped(grad[i], scale, v);
            s1[i] = b1 * s1[i] + (1.0f - b1) * g;
            s2[i] = b2 * s2[i] + (1.0f - b2) * g * g;
            float mhat = s1[i] * c1, vhat = s2[i] * c2;
            p[i] -= lr * (mhat / (sqrtf(vhat) + eps) + decay * p[i]);
        }
        break;
    }
    case RNNLAB_OPT_RMSPROP: /* s ← ρ s + (1-ρ) g²;  θ ← θ - η g / (sqrt(s) + ε) */
        for (size_t i = 0; i < n; i++) {
            float g = clipped(grad[i], scale, v);
            s1[i] = o->rho * s1[i] + (1.0f - o->rho) * g * g;
            p[i] -= lr * g / (sqrtf(s1[i]) + o->eps);
        }
        break;
    }
}
