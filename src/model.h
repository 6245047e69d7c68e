/* model.h — the model struct shared by the engine's .c files (private). */
#ifndef RNNLAB_MODEL_H
#define RNNLAB_MODEL_H

#include "rnnlab.h"

#define RNNLAB_MAX_LAYERS 16
#define RNNLAB_MAX_SIZE 65536     /* X, H, Y each */
#define RNNLAB_MAX_ELEMENTS (1u << 28) /* any one buffer, in floats */

typedef struct {
    size_t W, U, b, bhn; /* offsets into the flat parameter vector */
    int in;              /* X_l */
} layer_offsets;

/* A unit is one direction of one layer: u = l*D + d, d = 0 forward, 1 the
 * reversed direction of a bidirectional layer (SPEC §11). Everything per
 * layer below (weights, states, caches, flows, masks) is per unit. */

/* The batch block (set_batch, batch.c) holds everything sized by B and T;
 * the state block holds the states sized by B alone, so that it survives a
 * change of T (truncated BPTT with RNNLAB_CARRY_STATE). */
struct rnnlab_model {
    rnnlab_config cfg;
    rnnlab_optimizer opt;
    int G, L, X, H, Y;
    int D, units;          /* directions (1 or 2) and units L*D            */
    layer_offsets lay[2 * RNNLAB_MAX_LAYERS];
    size_t off_V, off_c, off_emb, n_params; /* off_emb: the embedding table (V, X) */

    /* parameter block: 4 * n_params floats */
    float *params;         /* (n_params)                                    */
    float *grads;          /* (n_params) raw gradients of the last step      */
    float *opt_m;          /* (n_params) first moment / momentum / RMS state */
    float *opt_v;          /* (n_params) second moment                       */
    double step;           /* optimiser steps taken                          */
    int32_t moments_type;  /* the optimiser the moments belong to: another
                              type starts from zero at its first update     */

    /* packed weights, per layer: W for the input part of each step (x W^T),
     * U forward (h * U^T) and backward (dG * U); GRU keeps U's r,z blocks
     * and its n block apart */
    float *packed;         /* one allocation                                 */
    size_t packed_in[2 * RNNLAB_MAX_LAYERS];
    size_t packed_fwd[2 * RNNLAB_MAX_LAYERS], packed_fwd_n[2 * RNNLAB_MAX_LAYERS];
    size_t packed_bwd[2 * RNNLAB_MAX_LAYERS], packed_bwd_n[2 * RNNLAB_MAX_LAYERS];
    /* recurrent dropout (dropout.c): each gate block's U_g packed on its own,
     * G blocks of gemm_packed_size(H, H) per unit, for h U_g^T and for dG U_g */
    size_t packed_drop_fwd[2 * RNNLAB_MAX_LAYERS], packed_drop_bwd[2 * RNNLAB_MAX_LAYERS];
    int packed_valid;

    /* state block, sized for B (capacity in floats); zeroed when B changes */
    int state_B;
    float *state;
    size_t state_cap;
    float *h0, *c0; /* (L*D, B, H)  initial states (c0: LSTM only)          */
    float *hT, *cT; /* (L*D, B, H)  final states of the last forward        */

    /* batch block, sized for B x T (capacity in floats) */
    int B, T;
    float *batch;
    size_t batch_cap;
    float *x;       /* (T, B, X)   user input, time-major                   */
    float *y;       /* (B, T, Y)   MSE targets                              */
    int32_t *labels;/* (B, T)      class targets                            */
    float *mask;    /* (B, T)                                               */
    float *out;     /* (B, T, Y)                                            */
    float *dx;      /* (T, B, X)   dL/dx, time-major                        */
    float *dh0, *dc0; /* (L, B, H)                                          */
    float *flow_h, *flow_c; /* (L, T)                                       */
    float *gates;   /* (L, T, B, G*H)                                       */
    float *hs;      /* (L, T+1, B, H)                                       */
    float *cs;      /* (L, T+1, B, H)  LSTM                                 */
    float *tanh_c;  /* (L, T, B, H)    LSTM tanh(c_t)                       */
    float *aux;     /* (L, T, B, H)    GRU: r*h_{t-1} or U_n h_{t-1} + b_hn */
    float *yhat;    /* (T, B, Y)       head outputs, time-major             */
    float *dyhat;   /* (T, B, Y)                                            */
    float *dgates;  /* (T, B, G*H)     one layer at a time                  */
    float *daux;    /* (T, B, H)       GRU reset-after dL/d(U_n h + b_hn)   */
    float *dH;      /* (T, B, H)       gradient reaching h from above       */
    float *dH_below;/* (T, B, H)       dL/d(input) of layer l > 0           */
    float *dh_next; /* (B, H)  dL/dh_{t-1} through the recurrence           */
    float *dc_next; /* (B, H)  LSTM dL/dc_{t-1} through the recurrence      */
    float *dc_total;/* (B, H)  LSTM total dL/dc_t, for its flow norm        */
    float *drh;     /* (B, H)  GRU reset-before dL/d(r⊙h_{t-1})             */
    float *last_h;  /* (B, H)  top-layer states picked for 'last' output    */
    float *dlast_h; /* (B, H)  the head's dL/d(last_h)                      */
    int32_t *last_t;/* (B)     step whose output counts, -1 = none          */
    int32_t *ids;   /* (T, B)  embedding input ids, time-major              */
    /* bidirectional (direction.c, SPEC §11), NULL otherwise                */
    float *cat;     /* (L, T, B, 2H)   each layer's output [h→_t ; h←_t]    */
    float *rev_in;  /* (T, B, Xm)      a layer's input, each sequence reversed */
    float *rev_d;   /* (T, B, Xm)      dL/d(rev_in)                         */
    float *dcat;    /* (T, B, 2H)      dL/d(a layer's output)               */
    int32_t *lengths; /* (B)           valid steps of each sequence         */
    /* dropout (dropout.c, SPEC §12): masks hold 0 or 1/(1-p)               */
    int dropping;       /* this forward (and its backward) applies dropout   */
    int Xm;             /* the widest layer input, max X_l                   */
    float *drop_layer;  /* (L-1, T, B, H)  on layer l's output, l < L-1      */
    float *drop_input;  /* (L, G, B, Xm)   on layer l's x_t, per gate block  */
    float *drop_rec;    /* (L, G, B, H)    on layer l's h_{t-1}, per block   */
    float *dropped;     /* (L-1, T, B, H)  layer outputs after dropout       */
    float *drop_scratch;/* (T*B*max(Xm, H))                                  */

    rnnlab_buffer_info table[RNNLAB_BUF_COUNT]; /* what rnnlab_buffer_table returns */
    uint8_t *meta;         /* the caller's metadata, saved with the model   */
    size_t meta_len;
    float stats[RNNLAB_STAT_COUNT];
    char err[320];
};

/* model.c: lifecycle, config, layout, errors */
rnnlab_status set_error(rnnlab_model *m, rnnlab_status st, const char *fmt, ...);
rnnlab_status validate_config(const rnnlab_config *cfg, char *err, size_t errlen);
rnnlab_status model_alloc(const rnnlab_config *cfg, rnnlab_model **out);
uint64_t expected_param_count(const rnnlab_config *cfg); /* cfg must be valid */

/* init.c */
rnnlab_status init_parameters(rnnlab_model *m);

/* batch.c: the batch and state blocks, the buffer table */
void buffer_table_refresh(rnnlab_model *m);

/* layer.c: one layer over all T steps. in, din: (T, B, X_l) time-major;
 * flags pick the initial state (RNNLAB_CARRY_STATE, RNNLAB_USE_H0). */
void pack_weights(rnnlab_model *m);
void layer_forward(rnnlab_model *m, int l, const float *in, int flags);
void layer_backward(rnnlab_model *m, int l, const float *in, float *din); /* din may be NULL */
void add_column_sums(float *db, const float *D, size_t rows, int cols, int ld);

/* direction.c: bidirectional layers */
rnnlab_status direction_check(rnnlab_model *m, int flags);
const float *bidir_output(const rnnlab_model *m, int l);
void bidir_layer_forward(rnnlab_model *m, int l, const float *in, int flags);
void bidir_layer_backward(rnnlab_model *m, int l, const float *in, float *din);

/* head.c: the linear head and the losses */
void pick_last_steps(rnnlab_model *m, int flags);
void head_forward(rnnlab_model *m);
void compute_loss(rnnlab_model *m, int flags);
void head_backward(rnnlab_model *m);

/* embedding.c: ids -> x before layer 0, dx -> the table's gradient after it */
rnnlab_status embedding_check_ids(rnnlab_model *m);
void embedding_forward(rnnlab_model *m);
void embedding_backward(rnnlab_model *m);

/* dropout.c: masks from (seed, step count, layer, position), and the
 * masked products of input and recurrent dropout */
int dropout_active(const rnnlab_model *m, int flags);
void dropout_draw(rnnlab_model *m);
void dropout_layer_forward(rnnlab_model *m, int l, const float *out);
void dropout_layer_backward(rnnlab_model *m, int l, float *d);
void input_dropout_project(rnnlab_model *m, int l, const float *in, float *gates);
void recurrent_dropout_product(rnnlab_model *m, int l, const float *h_prev, float *pre);
void recurrent_dropout_backprop(rnnlab_model *m, int l, const float *dpre, float *dh_prev, int overwrite);
void dropout_weight_gradients(rnnlab_model *m, int l, const float *in, float *din);
int recurrent_dropout_blocks(const rnnlab_model *m); /* blocks masked outside the cell */

/* optim.c: norms, clipping, optimisers */
double grad_norm_global(const float *g, size_t n);
float clip_scale(float clip_norm, double norm);
double norm_after_clipping(const float *g, size_t n, double norm, float scale, float clip_value);
rnnlab_status apply_update(rnnlab_model *m, float scale, float clip_value);

#endif
