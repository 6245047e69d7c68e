/* embedding.c — the embedding input (SPEC §13): x_t = Emb[id_t] before layer
 * 0, and dEmb[id_t] += dx_t after its backward. Nothing else of the model
 * knows that its inputs were ids. */
#include "model.h"

#include <string.h>

/* Every id must name a row of the table: E_INVALID with the first one that does not. */
rnnlab_status embedding_check_ids(rnnlab_model *m) {
    int V = m->cfg.embedding_vocab, B = m->B;
    size_t TB = (size_t)m->T * B;
    for (size_t r = 0; r < TB; r++)
        if (m->ids[r] < 0 || m->ids[r] >= V)
            return set_error(m, RNNLAB_E_INVALID,
                             "ids[%zu] (sequence %zu, step %zu) is %d: expected an id from 0 to %d",
                             r, r % (size_t)B, r / (size_t)B, m->ids[r], V - 1);
    return RNNLAB_OK;
}

/* x (T, B, X) = the table's rows of ids (T, B). */
void embedding_forward(rnnlab_model *m) {
    size_t TB = (size_t)m->T * m->B, X = (size_t)m->X;
    const float *table = m->params + m->off_emb; /* (V, X) */
    for (size_t r = 0; r < TB; r++) memcpy(m->x + r * X, table + (size_t)m->ids[r] * X, X * sizeof(float));
}

/* dEmb[id] += dx row by row: an id used at several steps sums their gradients. */
void embedding_backward(rnnlab_model *m) {
    size_t TB = (size_t)m->T * m->B, X = (size_t)m->X;
    float *dtable = m->grads + m->off_emb; /* (V, X) */
    for (size_t r = 0; r < TB; r++) {
        float *d = dtable + (size_t)m->ids[r] * X;
        const float *dx = m->dx + r * X;
        for (size_t k = 0; k < X; k++) d[k] += dx[k];
    }
}
