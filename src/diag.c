/* diag.c — diagnostics on demand: the spectral norm of each recurrent gate
 * block (SPEC §4) by power iteration on MᵀM, in double. */
#include "model.h"

#include <math.h>
#include <stdlib.h>

/* Largest singular value of the H x H block M (row-major). */
static double spectral_norm(const float *M, int H, double *v, double *u) {
    for (int j = 0; j < H; j++) v[j] = 1.0 + 0.01 * ((j * 7919) % 101); /* fixed, generic start */
    double sigma = 0.0;
    for (int it = 0; it < 500; it++) {
        double vn = 0.0;
        for (int j = 0; j < H; j++) vn += v[j] * v[j];
        vn = sqrt(vn);
        if (vn == 0.0) return 0.0;
        for (int j = 0; j < H; j++) v[j] /= vn;
        for (int i = 0; i < H; i++) { /* u = M v */
            double s = 0.0;
            for (int j = 0; j < H; j++) s += (double)M[(size_t)i * H + j] * v[j];
            u[i] = s;
        }
        double un = 0.0;
        for (int i = 0; i < H; i++) un += u[i] * u[i];
        double next = sqrt(un);
        for (int j = 0; j < H; j++) { /* v = Mᵀ u */
            double s = 0.0;
            for (int i = 0; i < H; i++) s += (double)M[(size_t)i * H + j] * u[i];
            v[j] = s;
        }
        if (it > 5 && fabs(next - sigma) <= 1e-10 * next) return next;
        sigma = next;
    }
    return sigma;
}

rnnlab_status rnnlab_spectral_norms(rnnlab_model *m, float *out, int count) {
    if (!m) return set_error(NULL, RNNLAB_E_INVALID, "spectral_norms: the model is NULL");
    if (!out) return set_error(m, RNNLAB_E_INVALID, "spectral_norms: out is NULL");
    int H = m->H;
    if (count < m->units * m->G)
        return set_error(m, RNNLAB_E_SHAPE, "spectral_norms: expected room for %d values, got %d",
                         m->units * m->G, count);
    double *work = malloc(2 * (size_t)H * sizeof(double));
    if (!work) return set_error(m, RNNLAB_E_NOMEM, "out of memory in spectral_norms");
    for (int l = 0; l < m->units; l++) /* units: layer-major, then direction */
        for (int g = 0; g < m->G; g++) {
            const float *block = m->params + m->lay[l].U + (size_t)g * H * H;
            out[l * m->G + g] = (float)spectral_norm(block, H, work, work + H);
        }
    free(work);
    return RNNLAB_OK;
}
