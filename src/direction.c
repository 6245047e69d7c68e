/* direction.c — bidirectional layers (SPEC §11). Layer l has two units:
 * u = 2l runs t = 0 … T-1 as any layer; u = 2l+1 runs each sequence b
 * backwards from its own last valid step T_b - 1 to 0. The second is an
 * ordinary forward layer over the input with each sequence's first T_b steps
 * reversed (padding after them zeroed): step s of it is time T_b - 1 - s, so
 * padding never enters either direction, as with PyTorch's packed sequences.
 * The layer's output is [h→_t ; h←_t] (2H), zero for h← past T_b. */
#include "model.h"

#include <string.h>

/* The lengths T_b from a prefix mask (every T without one); bidirectional
 * models refuse other masks and carried states. */
rnnlab_status direction_check(rnnlab_model *m, int flags) {
    int B = m->B, T = m->T;
    if (flags & RNNLAB_CARRY_STATE)
        return set_error(m, RNNLAB_E_INVALID,
                         "RNNLAB_CARRY_STATE (truncated BPTT, carried state): a bidirectional model reads each "
                         "sequence whole, from its end too; expected whole sequences without carried state");
    for (int b = 0; b < B; b++) {
        int n = T;
        if (flags & RNNLAB_USE_MASK) {
            const float *row = m->mask + (size_t)b * T;
            n = 0;
            while (n < T && row[n] != 0.0f) n++;
            for (int t = n; t < T; t++)
                if (row[t] != 0.0f)
                    return set_error(m, RNNLAB_E_INVALID,
                                     "mask of sequence %d: a bidirectional model needs a prefix mask (1 … 1 0 … 0, "
                                     "lengths with right padding), got 0 at step %d and 1 at step %d", b, n, t);
        }
        m->lengths[b] = n;
    }
    return RNNLAB_OK;
}

/* Layer l's output (T, B, 2H). */
const float *bidir_output(const rnnlab_model *m, int l) {
    return m->cat + (size_t)l * m->T * m->B * 2 * m->H;
}

/* dst (T, B, n) = src (T, B, n) with each sequence's first T_b steps in
 * reverse order and its padding zeroed; it is its own inverse on them. */
static void reverse_valid(const rnnlab_model *m, float *dst, const float *src, int n) {
    int B = m->B, T = m->T;
    for (int b = 0; b < B; b++) {
        int len = m->lengths[b];
        for (int t = 0; t < T; t++) {
            float *d = dst + ((size_t)t * B + b) * n;
            if (t < len) memcpy(d, src + ((size_t)(len - 1 - t) * B + b) * n, (size_t)n * sizeof(float));
            else memset(d, 0, (size_t)n * sizeof(float));
        }
    }
}

/* hT (and cT) of unit u: each sequence's state after its own T_b steps. */
static void final_states(rnnlab_model *m, int u) {
    int B = m->B, H = m->H, T = m->T;
    size_t BH = (size_t)B * H;
    for (int b = 0; b < B; b++) {
        size_t at = ((size_t)u * (T + 1) + m->lengths[b]) * BH + (size_t)b * H;
        memcpy(m->hT + (size_t)u * BH + (size_t)b * H, m->hs + at, (size_t)H * sizeof(float));
        if (m->cT) memcpy(m->cT + (size_t)u * BH + (size_t)b * H, m->cs + at, (size_t)H * sizeof(float));
    }
}

void bidir_layer_forward(rnnlab_model *m, int l, const float *in, int flags) {
    int B = m->B, T = m->T, H = m->H, X = m->lay[2 * l].in;
    size_t BH = (size_t)B * H;
    layer_forward(m, 2 * l, in, flags);
    reverse_valid(m, m->rev_in, in, X);
    layer_forward(m, 2 * l + 1, m->rev_in, flags);
    const float *fwd = m->hs + ((size_t)2 * l * (T + 1) + 1) * BH;      /* h→_1 …: (T, B, H) */
    const float *bwd = m->hs + ((size_t)(2 * l + 1) * (T + 1) + 1) * BH; /* in its own order */
    float *cat = (float *)bidir_output(m, l);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            float *row = cat + ((size_t)t * B + b) * 2 * H;
            int len = m->lengths[b], s = len - 1 - t; /* h← of time t is step s of the reverse unit */
            memcpy(row, fwd + ((size_t)t * B + b) * H, (size_t)H * sizeof(float));
            if (t < len) memcpy(row + H, bwd + ((size_t)s * B + b) * H, (size_t)H * sizeof(float));
            else memset(row + H, 0, (size_t)H * sizeof(float));
        }
    final_states(m, 2 * l);
    final_states(m, 2 * l + 1);
}

/* dcat (T, B, 2H) holds dL/d(layer l's output); din (T, B, X_l) receives
 * dL/d(its input) (NULL: not wanted). */
void bidir_layer_backward(rnnlab_model *m, int l, const float *in, float *din) {
    int B = m->B, T = m->T, H = m->H, X = m->lay[2 * l].in;
    size_t TB = (size_t)T * B;
    for (size_t r = 0; r < TB; r++) memcpy(m->dH + r * H, m->dcat + r * 2 * H, (size_t)H * sizeof(float));
    layer_backward(m, 2 * l, in, din);
    /* the reverse unit: its step s is time T_b - 1 - s; past T_b nothing reaches it */
    for (int b = 0; b < B; b++)
        for (int s = 0; s < T; s++) {
            float *d = m->dH + ((size_t)s * B + b) * H;
            int t = m->lengths[b] - 1 - s;
            if (t >= 0) memcpy(d, m->dcat + ((size_t)t * B + b) * 2 * H + H, (size_t)H * sizeof(float));
            else memset(d, 0, (size_t)H * sizeof(float));
        }
    reverse_valid(m, m->rev_in, in, X);
    layer_backward(m, 2 * l + 1, m->rev_in, din ? m->rev_d : NULL);
    if (!din) return;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < m->lengths[b]; t++) {
            const float *s = m->rev_d + ((size_t)(m->lengths[b] - 1 - t) * B + b) * X;
            float *d = din + ((size_t)t * B + b) * X;
            for (int k = 0; k < X; k++) d[k] += s[k];
        }
}
