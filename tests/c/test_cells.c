/* test_cells.c — each cell's backward step (src/rnn.c, lstm.c, gru.c)
 * against central finite differences of its forward step, the cells called
 * directly as free functions through src/cells.h on tiny sizes (B = 2, H = 3).
 * The loss is L = Σ wh⊙h_t (+ Σ wc⊙c_t for the LSTM) with fixed random
 * weights wh, wc, so dL/dh_t = wh and the gradient reaching c_t from step
 * t+1 is wc. Checked: dL/d(pre-activations), dL/dh_{t-1}, the LSTM's
 * dL/dc_{t-1}, and for GRU reset-after dL/db_hn (the column sums of daux).
 * Ends with "P passed, F failed". */
#include "cells.h"
#include "gemm.h"
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { B = 2, H = 3, MAXG = 4 };

typedef struct { const char *name; int G, lstm, gru, relu, after; } kind;
static const kind KINDS[] = {
    {"rnn-tanh", 1, 0, 0, 0, 0}, {"rnn-relu", 1, 0, 0, 1, 0}, {"lstm", 4, 1, 0, 0, 0},
    {"gru-reset-before", 3, 0, 1, 0, 0}, {"gru-reset-after", 3, 0, 1, 0, 1},
};

static uint64_t rng_s = 12345;
static float rnd(float lo, float hi) {
    uint64_t z = (rng_s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return lo + (hi - lo) * (float)((z >> 40) * (1.0 / 16777216.0));
}
static void fill(float *p, int n, float lo, float hi) { for (int i = 0; i < n; i++) p[i] = rnd(lo, hi); }

/* One cell with its weights, packed as cells.h says, and its inputs. */
typedef struct {
    const kind *k;
    float U[MAXG * H * H], b_hn[H];
    float *fwd, *fwd_n, *bwd, *bwd_n;
    float pre_in[B * MAXG * H], h_prev[B * H], c_prev[B * H], wh[B * H], wc[B * H];
} cell;

static float *packed(int tb, int K, int N, const float *U) {
    float *p = malloc(gemm_packed_size(K, N) * sizeof(float));
    gemm_pack_b(tb, K, N, U, H, p);
    return p;
}

static void cell_init(cell *c, const kind *k) {
    memset(c, 0, sizeof *c);
    c->k = k;
    int GH = k->G * H;
    fill(c->U, GH * H, -0.6f, 0.6f);
    fill(c->b_hn, H, -0.5f, 0.5f);
    fill(c->pre_in, B * GH, -1.0f, 1.0f);
    fill(c->h_prev, B * H, -0.8f, 0.8f);
    fill(c->c_prev, B * H, -1.0f, 1.0f);
    fill(c->wh, B * H, -1.0f, 1.0f);
    fill(c->wc, B * H, -1.0f, 1.0f);
    if (k->relu) /* keep the pre-activations away from relu's kink */
        for (int i = 0; i < B * GH; i++) c->pre_in[i] += c->pre_in[i] > 0 ? 0.3f : -0.3f;
    int rows = k->gru ? 2 * H : GH;
    c->fwd = packed(1, H, rows, c->U);
    c->bwd = packed(0, rows, H, c->U);
    if (k->gru) {
        c->fwd_n = packed(1, H, H, c->U + 2 * H * H);
        c->bwd_n = packed(0, H, H, c->U + 2 * H * H);
    }
}

static void cell_free(cell *c) { free(c->fwd); free(c->bwd); free(c->fwd_n); free(c->bwd_n); }

/* The forward step from c's current inputs: the loss, and the caches. */
static double forward(const cell *c, float *gates, float *h, float *cn, float *tc, float *aux) {
    const kind *k = c->k;
    memcpy(gates, c->pre_in, sizeof(float) * B * k->G * H);
    if (k->lstm) lstm_forward_step(B, H, c->fwd, c->h_prev, c->c_prev, gates, h, cn, tc);
    else if (k->gru) gru_forward_step(B, H, k->after, c->fwd, c->fwd_n, c->b_hn, NULL, c->h_prev, gates, h, aux);
    else rnn_forward_step(B, H, k->relu, c->fwd, c->h_prev, gates, h);
    double L = 0.0;
    for (int i = 0; i < B * H; i++) L += (double)c->wh[i] * h[i] + (k->lstm ? (double)c->wc[i] * cn[i] : 0.0);
    return L;
}

static double loss(const cell *c) {
    float gates[B * MAXG * H], h[B * H], cn[B * H], tc[B * H], aux[B * H];
    return forward(c, gates, h, cn, tc, aux);
}

/* Compares grad (n) with central differences of the loss in p (n). */
static void check_fd(cell *c, float *p, const float *grad, int n, const char *what) {
    const float eps = 1e-2f;
    for (int i = 0; i < n; i++) {
        float keep = p[i];
        p[i] = keep + eps;
        double up = loss(c);
        p[i] = keep - eps;
        double down = loss(c);
        p[i] = keep;
        double fd = (up - down) / (2.0 * eps);
        CHECK(fabs(fd - grad[i]) <= 2e-3 + 1e-2 * fabs(fd), "%s: d%s[%d]: backward %.6f, finite differences %.6f",
              c->k->name, what, i, (double)grad[i], fd);
    }
}

static void test_kind(const kind *k) {
    cell c;
    cell_init(&c, k);
    int GH = k->G * H;
    float gates[B * MAXG * H], h[B * H], cn[B * H], tc[B * H], aux[B * H];
    float dpre[B * MAXG * H], dh_prev[B * H], dc[B * H], dc_total[B * H], daux[B * H], drh[B * H];
    forward(&c, gates, h, cn, tc, aux);
    memcpy(dc, c.wc, sizeof dc);
    if (k->lstm) lstm_backward_step(B, H, c.bwd, gates, c.c_prev, tc, c.wh, dpre, dh_prev, dc, dc_total);
    else if (k->gru)
        gru_backward_step(B, H, k->after, c.bwd, c.bwd_n, NULL, gates, c.h_prev, aux, c.wh, dpre, daux, drh, dh_prev);
    else rnn_backward_step(B, H, k->relu, c.bwd, h, c.wh, dpre, dh_prev);
    check_fd(&c, c.pre_in, dpre, B * GH, "pre");
    check_fd(&c, c.h_prev, dh_prev, B * H, "h_prev");
    if (k->lstm) check_fd(&c, c.c_prev, dc, B * H, "c_prev");
    if (k->after) {
        float db_hn[H] = {0};
        for (int b = 0; b < B; b++)
            for (int j = 0; j < H; j++) db_hn[j] += daux[b * H + j];
        check_fd(&c, c.b_hn, db_hn, H, "b_hn");
    }
    cell_free(&c);
}

static void test_rnn_tanh(void) { test_kind(&KINDS[0]); }
static void test_rnn_relu(void) { test_kind(&KINDS[1]); }
static void test_lstm(void) { test_kind(&KINDS[2]); }
static void test_gru_before(void) { test_kind(&KINDS[3]); }
static void test_gru_after(void) { test_kind(&KINDS[4]); }

int main(void) {
    run_test("rnn (tanh) step: backward = finite differences of forward", test_rnn_tanh);
    run_test("rnn (relu) step: backward = finite differences of forward", test_rnn_relu);
    run_test("lstm step: backward = finite differences of forward (pre, h, c)", test_lstm);
    run_test("gru reset-before step: backward = finite differences of forward", test_gru_before);
    run_test("gru reset-after step: backward = finite differences of forward (and b_hn)", test_gru_after);
    return check_summary();
}
