/* gru.c — the GRU cell, reset before and reset after: one step forward and
 * one step back (formulas in cells.h). */
#include "cells.h"
#include "gemm.h"
#include "vmath.h"

#include <stddef.h>
#include <string.h>

/* aux = U_n h' + b_hn;  pre_n += r⊙aux (h' = h_in, the n block's h_{t-1}) */
static void candidate_reset_after(int B, int H, const float *U_fwd_n, const float *b_hn,
                                  const float *h_in, float *pre, float *aux) {
    int GH = 3 * H;
    for (int b = 0; b < B; b++) memcpy(aux + (size_t)b * H, b_hn, (size_t)H * sizeof(float));
    gemm_packed(B, H, H, h_in, H, U_fwd_n, 1.0f, aux, H);
    for (int b = 0; b < B; b++) {
        float *a = pre + (size_t)b * GH;
        const float *hn = aux + (size_t)b * H;
        for (int j = 0; j < H; j++) a[2 * H + j] += a[j] * hn[j];
    }
}

/* aux = r⊙h' (⊙m_n);  pre_n += U_n aux */
static void candidate_reset_before(int B, int H, const float *U_fwd_n, const float *h_prev,
                                   const float *m_n, float *pre, float *aux) {
    int GH = 3 * H;
    for (int b = 0; b < B; b++) {
        const float *r = pre + (size_t)b * GH, *hp = h_prev + (size_t)b * H;
        float *rh = aux + (size_t)b * H;
        if (m_n) {
            const float *mb = m_n + (size_t)b * H;
            for (int j = 0; j < H; j++) rh[j] = r[j] * (hp[j] * mb[j]);
        } else {
            for (int j = 0; j < H; j++) rh[j] = r[j] * hp[j];
        }
    }
    gemm_packed(B, H, H, aux, H, U_fwd_n, 1.0f, pre + 2 * H, GH);
}

/* h (B, H) = a ⊙ m elementwise */
static void masked_copy(float *dst, const float *a, const float *m, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = a[i] * m[i];
}

void gru_forward_step(int B, int H, int reset_after, const float *U_fwd_rz,
                      const float *U_fwd_n, const float *b_hn, const float *m_n,
                      const float *h_prev, float *pre, float *h, float *aux) {
    int GH = 3 * H;
    if (U_fwd_rz) gemm_packed(B, 2 * H, H, h_prev, H, U_fwd_rz, 1.0f, pre, GH);
    for (int b = 0; b < B; b++) vec_sigmoid(pre + (size_t)b * GH, 2 * H); /* r, z */
    if (reset_after) {
        const float *h_in = h_prev;
        if (m_n) { masked_copy(h, h_prev, m_n, (size_t)B * H); h_in = h; } /* h is written last */
        candidate_reset_after(B, H, U_fwd_n, b_hn, h_in, pre, aux);
    } else {
        candidate_reset_before(B, H, U_fwd_n, h_prev, m_n, pre, aux);
    }
    for (int b = 0; b < B; b++) {
        float *a = pre + (size_t)b * GH;
        vec_tanh(a + 2 * H, H);
        const float *z = a + H, *n = a + 2 * H, *hp = h_prev + (size_t)b * H;
        float *hb = h + (size_t)b * H;
        for (int j = 0; j < H; j++) hb[j] = (1.0f - z[j]) * hp[j] + z[j] * n[j]; /* h = (1-z)h' + z n */
    }
}

/* n = tanh(... + r⊙aux): daux = dn⊙r, dr; dh_prev += daux U_n (⊙m_n, through
 * drh as scratch) */
static void backward_reset_after(int B, int H, const float *U_bwd_n, const float *m_n,
                                 const float *gates, const float *aux, float *dpre, float *daux,
                                 float *drh, float *dh_prev) {
    int GH = 3 * H;
    for (int b = 0; b < B; b++) {
        const float *r = gates + (size_t)b * GH, *hn = aux + (size_t)b * H;
        float *dr = dpre + (size_t)b * GH, *dn = dr + 2 * H, *dhn = daux + (size_t)b * H;
        for (int j = 0; j < H; j++) {
            dhn[j] = dn[j] * r[j];
            dr[j] = dn[j] * hn[j] * r[j] * (1.0f - r[j]);
        }
    }
    if (!m_n) {
        gemm_packed(B, H, H, daux, H, U_bwd_n, 1.0f, dh_prev, H);
        return;
    }
    gemm_packed(B, H, H, daux, H, U_bwd_n, 0.0f, drh, H);
    for (size_t i = 0; i < (size_t)B * H; i++) dh_prev[i] += drh[i] * m_n[i];
}

/* n = tanh(... + U_n (r⊙h'⊙m_n)): drh = dL/d(r⊙h'⊙m_n) = dn U_n, then dr and dh_prev */
static void backward_reset_before(int B, int H, const float *U_bwd_n, const float *m_n,
                                  const float *gates, const float *h_prev, float *dpre, float *drh,
                                  float *dh_prev) {
    int GH = 3 * H;
    gemm_packed(B, H, H, dpre + 2 * H, GH, U_bwd_n, 0.0f, drh, H);
    for (int b = 0; b < B; b++) {
        const float *r = gates + (size_t)b * GH, *hp = h_prev + (size_t)b * H, *d = drh + (size_t)b * H;
        float *dr = dpre + (size_t)b * GH, *dnext = dh_prev + (size_t)b * H;
        if (m_n) {
            const float *mb = m_n + (size_t)b * H;
            for (int j = 0; j < H; j++) {
                dr[j] = d[j] * (hp[j] * mb[j]) * r[j] * (1.0f - r[j]);
                dnext[j] += d[j] * r[j] * mb[j];
            }
            continue;
        }
        for (int j = 0; j < H; j++) {
            dr[j] = d[j] * hp[j] * r[j] * (1.0f - r[j]);
            dnext[j] += d[j] * r[j];
        }
    }
}

void gru_backward_step(int B, int H, int reset_after, const float *U_bwd_rz,
                       const float *U_bwd_n, const float *m_n, const float *gates,
                       const float *h_prev, const float *aux, const float *dh, float *dpre,
                       float *daux, float *drh, float *dh_prev) {
    int GH = 3 * H;
    for (int b = 0; b < B; b++) { /* dn and dz first: they need nothing recurrent */
        const float *z = gates + (size_t)b * GH + H, *n = z + H, *hp = h_prev + (size_t)b * H;
        const float *dhb = dh + (size_t)b * H;
        float *dz = dpre + (size_t)b * GH + H, *dn = dz + H, *dnext = dh_prev + (size_t)b * H;
        for (int j = 0; j < H; j++) {
            dn[j] = dhb[j] * z[j] * (1.0f - n[j] * n[j]);
            dz[j] = dhb[j] * (n[j] - hp[j]) * z[j] * (1.0f - z[j]);
            dnext[j] = dhb[j] * (1.0f - z[j]);
        }
    }
    if (reset_after) backward_reset_after(B, H, U_bwd_n, m_n, gates, aux, dpre, daux, drh, dh_prev);
    else backward_reset_before(B, H, U_bwd_n, m_n, gates, h_prev, dpre, drh, dh_prev);
    if (U_bwd_rz) gemm_packed(B, H, 2 * H, dpre, GH, U_bwd_rz, 1.0f, dh_prev, H);
}
