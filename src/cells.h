/* cells.h — one time step of each cell, forward and backward side by side,
 * as free functions over plain float arrays and sizes (SPEC §1, §4). They
 * know nothing of the model: each cell can be run and tested on its own.
 *
 * Shared conventions (B rows of the batch, H units, G gate blocks):
 *   pre    (B, G*H) on entry the input part of the pre-activations,
 *                   W x_t + b, one block of H per gate; the forward step
 *                   adds the recurrent part and applies the nonlinearities
 *                   in place, so on exit it holds the post-activation gates
 *                   (what the backward step reads back as `gates`).
 *   U_fwd  U (G*H, H) packed by gemm_pack_b(1, H, G*H, U, H, ·): h U^T
 *   U_bwd  U packed by gemm_pack_b(0, G*H, H, U, H, ·): dpre U
 *          (the GRU packs its r,z rows and its n rows apart, see below)
 *   h_prev (B, H)   h_{t-1};  h (B, H) receives h_t
 *   dh     (B, H)   the total dL/dh_t (from above and from step t+1)
 *   dpre   (B, G*H) receives dL/d(pre-activations) of step t
 *   dh_prev(B, H)   receives dL/dh_{t-1} through this step
 * The weight gradients are not computed here: the layer takes them as big
 * products over all steps once the time loop is done (layer.c).
 * Recurrent dropout (SPEC §12) gives each gate block its own masked h_{t-1}:
 * then the layer takes those products itself (dropout.c) and passes NULL for
 * U_fwd / U_fwd_rz (pre already holds the recurrent part) and for U_bwd /
 * U_bwd_rz (the cell leaves those blocks' share of dh_prev to the layer: RNN
 * and LSTM do not write dh_prev at all). The GRU's n block reads h_{t-1}⊙m_n
 * inside the cell, so it takes that mask m_n (B, H), or NULL for none. */
#ifndef RNNLAB_CELLS_H
#define RNNLAB_CELLS_H

/* ---------------------------------------------------------------- RNN (G = 1)
 * h_t = act(W x_t + U h_{t-1} + b), act = tanh, or relu when relu != 0.
 * Backward: dpre = dh ⊙ act'(.) with tanh' = 1 - h², relu' = [h > 0];
 *           dh_prev = dpre U. */
void rnn_forward_step(int B, int H, int relu, const float *U_fwd,
                      const float *h_prev, /* (B, H)                  */
                      float *pre,          /* (B, H) in: W x_t + b; out: h_t */
                      float *h);           /* (B, H) out: h_t          */
void rnn_backward_step(int B, int H, int relu, const float *U_bwd,
                       const float *h,     /* (B, H) h_t of the forward */
                       const float *dh,    /* (B, H) total dL/dh_t      */
                       float *dpre,        /* (B, H) out                */
                       float *dh_prev);    /* (B, H) out                */

/* ---------------------------------------------------------------- LSTM (G = 4: i, f, g, o)
 * i, f, o = σ(.), g = tanh(.);  c_t = f⊙c_{t-1} + i⊙g;  h_t = o⊙tanh(c_t).
 * Backward, with dc the gradient reaching c_t from step t+1:
 *   dc_t = dc + dh⊙o⊙(1 - tanh²c_t)     (the total dL/dc_t)
 *   do = dh⊙tanh c_t⊙o(1-o),  di = dc_t⊙g⊙i(1-i),  df = dc_t⊙c_{t-1}⊙f(1-f),
 *   dg = dc_t⊙i⊙(1-g²);  dL/dc_{t-1} = dc_t⊙f;  dh_prev = dpre U. */
void lstm_forward_step(int B, int H, const float *U_fwd,
                       const float *h_prev, /* (B, H)                          */
                       const float *c_prev, /* (B, H)  c_{t-1}                 */
                       float *pre,          /* (B, 4H) in: W x_t + b; out: i,f,g,o */
                       float *h,            /* (B, H)  out: h_t                */
                       float *c,            /* (B, H)  out: c_t                */
                       float *tanh_c);      /* (B, H)  out: tanh(c_t)          */
void lstm_backward_step(int B, int H, const float *U_bwd,
                        const float *gates,  /* (B, 4H) i,f,g,o of step t      */
                        const float *c_prev, /* (B, H)  c_{t-1}                */
                        const float *tanh_c, /* (B, H)  tanh(c_t)              */
                        const float *dh,     /* (B, H)  total dL/dh_t          */
                        float *dpre,         /* (B, 4H) out                    */
                        float *dh_prev,      /* (B, H)  out                    */
                        float *dc,           /* (B, H)  in: dL/dc_t from step t+1;
                                                        out: dL/dc_{t-1}        */
                        float *dc_total);    /* (B, H)  out: total dL/dc_t (its
                                                        norm is the flow curve) */

/* ---------------------------------------------------------------- GRU (G = 3: r, z, n)
 * r, z = σ(.);  h_t = (1-z)⊙h_{t-1} + z⊙n, with the candidate
 *   reset before: n = tanh(W_n x + b_n + U_n (r⊙h_{t-1}))   aux = r⊙h_{t-1}
 *   reset after:  n = tanh(W_n x + b_n + r⊙(U_n h_{t-1} + b_hn))
 *                                                  aux = U_n h_{t-1} + b_hn
 * (with m_n, h_{t-1}⊙m_n in place of h_{t-1} inside n; z still mixes h_{t-1})
 * U_fwd_rz = pack(1, H, 2H, U, H), U_fwd_n = pack(1, H, H, U_n, H),
 * U_bwd_rz = pack(0, 2H, H, U, H), U_bwd_n = pack(0, H, H, U_n, H)
 * (U_n = U + 2H*H, the n block's rows).
 * Backward: dn = dh⊙z⊙(1-n²), dz = dh⊙(n - h_{t-1})⊙z(1-z),
 *   before: drh = dn U_n (dL/d(r⊙h')), dr = drh⊙h_{t-1}⊙r(1-r),
 *           dh_prev = dh⊙(1-z) + drh⊙r + d[r,z] U_rz;
 *   after:  daux = dn⊙r (dL/d(U_n h' + b_hn)), dr = dn⊙aux⊙r(1-r),
 *           dh_prev = dh⊙(1-z) + daux U_n + d[r,z] U_rz. */
void gru_forward_step(int B, int H, int reset_after,
                      const float *U_fwd_rz, const float *U_fwd_n,
                      const float *b_hn,   /* (H) reset after only, else unused */
                      const float *m_n,    /* (B, H) recurrent dropout mask of n, or NULL */
                      const float *h_prev, /* (B, H)                            */
                      float *pre,          /* (B, 3H) in: W x_t + b; out: r,z,n  */
                      float *h,            /* (B, H) out: h_t                    */
                      float *aux);         /* (B, H) out: see above              */
void gru_backward_step(int B, int H, int reset_after,
                       const float *U_bwd_rz, const float *U_bwd_n,
                       const float *m_n,    /* (B, H) as in the forward, or NULL */
                       const float *gates,  /* (B, 3H) r,z,n of step t           */
                       const float *h_prev, /* (B, H)                            */
                       const float *aux,    /* (B, H) the forward's aux          */
                       const float *dh,     /* (B, H) total dL/dh_t              */
                       float *dpre,         /* (B, 3H) out                       */
                       float *daux,         /* (B, H) out, reset after: dL/d(U_n h' + b_hn) */
                       float *drh,          /* (B, H) scratch, reset before: dL/d(r⊙h') */
                       float *dh_prev);     /* (B, H) out                        */

#endif
