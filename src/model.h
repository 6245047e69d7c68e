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

/* Per-layer forward caches and packed recurrent weights live in the batch
 * block; see set_batch in model.c for the carving. */
struct rnnlab_model {
    rnnlab_config cfg;
    rnnlab_optimizer opt;
    int G, L, X, H, Y;
    layer_offsets lay[RNNLAB_MAX_LAYERS];
    size_t off_V, off_c, n_params;

    /* parameter block: 4 * n_params floats */
    float *params;         /* (n_params)                                    */
    float *grads;          /* (n_params) raw gradients of the last step      */
    float *opt_m;          /* (n_params) first moment / momentum / RMS state */
    float *opt_v;          /* (n_params) second moment                       */
    double step;           /* optimiser steps taken                          */
    int32_t moments_type;  /* the optimiser the moments belong to: another
                              type starts from zero at its first update     */

    /* packed recurrent weights, per layer: forward (h * U^T) and backward
     * (dG * U); GRU keeps the r,z blocks and the n block apart */
    float *packed;         /* one allocation                                 */
    size_t packed_fwd[RNNLAB_MAX_LAYERS], packed_fwd_n[RNNLAB_MAX_LAYERS];
    size_t packed_bwd[RNNLAB_MAX_LAYERS], packed_bwd_n[RNNLAB_MAX_LAYERS];
    int packed_valid;

    /* batch block, sized for B x T (capacity in floats) */
    int B, T;
    float *batch;
    size_t batch_cap;
    float *x;       /* (B, T, X)   user input                               */
    float *y;       /* (B, T, Y)   MSE targets                              */
    int32_t *labels;/* (B, T)      class targets                            */
    float *mask;    /* (B, T)                                               */
    float *h0, *c0; /* (L, B, H)                                            */
    float *out;     /* (B, T, Y)                                            */
    float *hT, *cT; /* (L, B, H)                                            */
    float *dx;      /* (B, T, X)                                            */
    float *dh0, *dc0; /* (L, B, H)                                          */
    float *flow_h, *flow_c; /* (L, T)                                       */
    float *gates;   /* (L, T, B, G*H)                                       */
    float *hs;      /* (L, T+1, B, H)                                       */
    float *cs;      /* (L, T+1, B, H)  LSTM                                 */
    float *tanh_c;  /* (L, T, B, H)    LSTM tanh(c_t)                       */
    float *aux;     /* (L, T, B, H)    GRU: r*h_{t-1} or U_n h_{t-1} + b_hn */
    float *xt;      /* (T, B, X)       time-major input                     */
    float *yhat;    /* (T, B, Y)       head outputs, time-major             */
    float *dyhat;   /* (T, B, Y)                                            */
    float *dgates;  /* (T, B, G*H)     one layer at a time                  */
    float *daux;    /* (T, B, H)       GRU reset-after dL/d(U_n h + b_hn)   */
    float *dH;      /* (T, B, H)       gradient reaching h from above       */
    float *dH_below;/* (T, B, max(X,H))                                     */
    float *dh_next, *dc_next, *tmp_bh, *tmp_bh2; /* (B, H)                  */
    float *last_h;  /* (B, H)  top-layer states picked for 'last' output    */
    int32_t *last_t;/* (B)     step whose output counts, -1 = none          */

    uint8_t *meta;         /* the caller's metadata, saved with the model   */
    size_t meta_len;
    float stats[RNNLAB_STAT_COUNT];
    int have_forward;
    char err[320];
};

/* model.c */
rnnlab_status set_error(rnnlab_model *m, rnnlab_status st, const char *fmt, ...);
rnnlab_status validate_config(const rnnlab_config *cfg, char *err, size_t errlen);
rnnlab_status model_alloc(const rnnlab_config *cfg, rnnlab_model **out);
uint64_t expected_param_count(const rnnlab_config *cfg); /* cfg must be valid */

/* init.c */
rnnlab_status init_parameters(rnnlab_model *m);

/* forward.c / backward.c */
rnnlab_status run_forward(rnnlab_model *m, int flags, int with_loss);
/* Internal flag for run_backward, above the public RNNLAB_USE_* bits: also
 * compute dL/dx into the dx buffer (compute_gradients does; a training step
 * skips that product, 2·G·H·X·B·T flops). */
#define RUN_INPUT_GRADS (1 << 16)
void run_backward(rnnlab_model *m, int flags);

/* optim.c */
double grad_norm_global(const float *g, size_t n);
rnnlab_status apply_update(rnnlab_model *m, float scale, float clip_value);

#endif
