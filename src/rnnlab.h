/* rnnlab.h — the public C API of the rnnlab engine.
 *
 * One model = one opaque handle. Every entry point returns a status; on failure
 * rnnlab_last_error(m) (or rnnlab_global_error() when there is no model yet)
 * says what was expected and what was given. The engine never aborts or exits.
 *
 * Data exchange goes through buffers the engine owns: after rnnlab_set_batch(m,
 * B, T) the caller fills the buffers returned by rnnlab_buffer(m, RNNLAB_BUF_*)
 * (or read from rnnlab_buffer_table(m), every buffer at once), then calls
 * rnnlab_train_step / rnnlab_forward / rnnlab_compute_gradients.
 *
 * Layouts (row-major, sizes as in web/SPEC.md, the specification every "SPEC §n" in
 * these sources refers to: B batch, T steps, X input, H hidden,
 * Y output, L layers, G gate blocks: 1 RNN, 3 GRU (r,z,n), 4 LSTM (i,f,g,o)):
 *   x        (T, B, X)    float  inputs, TIME-major: x[(t*B + b)*X + k]
 *   y        (B, T, Y) or (B, Y) float  MSE targets ("sequence" or "last")
 *   labels   (B, T) or (B)       int32  class targets for cross-entropy
 *   mask     (B, T)       float  1 = position counts, 0 = ignored
 *   h0, c0   (L, B, H)    float  initial states (used with RNNLAB_USE_H0)
 *   out      (B, T, Y) or (B, Y) float  predictions (logits for cross-entropy)
 *   hT, cT   (L, B, H)    float  final states of the last forward
 *   dx       (T, B, X)    float  dLoss/dx, TIME-major like x
 *   dh0, dc0 (L, B, H)    float  dLoss/dh0, dLoss/dc0 (of the initial states
 *                                actually used: h0, carried or zero)
 *   flow_h   (L, T)       float  g_t = sqrt(sum_b |dh_{t,b}|^2), SPEC §4
 *   flow_c   (L, T)       float  the same for the LSTM cell state
 *   gates    (L, T, B, G*H) float post-activation gates of the last forward
 *                        (RNN: h_t; LSTM: i,f,g,o; GRU: r,z,n)
 *   hidden   (L, T+1, B, H) float h_0 .. h_T of the last forward
 *   cells    (L, T+1, B, H) float LSTM c_0 .. c_T of the last forward
 *   ids      (T, B)       int32  with an embedding (embedding_vocab = V > 0): the
 *                                input ids, TIME-major; the forward writes row
 *                                ids[t*B + b] of the table into x, and dx is then
 *                                dLoss/d(those rows)
 *   drop_layer     (L-1, T, B, D*H) the dropout masks of the last forward with
 *   drop_input     (L*D, G, B, Xm)  RNNLAB_TRAINING (0 or 1/(1-p), SPEC §12): on
 *   drop_recurrent (L*D, G, B, H)   layer l's output (l < L-1), on layer l's x_t
 *                                   (gate block g, its first X_l of Xm = max(X_l)
 *                                   entries), on layer l's h_{t-1} (block g)
 * c0, cT, dc0, flow_c and cells exist for the LSTM only (NULL, 0 otherwise);
 * ids only with an embedding; each dropout mask only with its p > 0.
 *
 * Bidirectional (bidirectional = 1, D = 2; else D = 1), SPEC §11: every
 * per-layer buffer above is per unit u = l*D + d (d = 1: the reverse
 * direction), so L becomes L*D in h0, c0, hT, cT, dh0, dc0 (PyTorch's
 * [layers*2, B, H] order), flow_h, flow_c, gates, hidden, cells; the reverse
 * direction's flow, gates, hidden and cells are in its own order of
 * processing, step s of sequence b being time T_b - 1 - s (T_b its length).
 * The mask must then be a prefix mask (lengths, right padding) and
 * RNNLAB_CARRY_STATE is refused (E_INVALID); hT of both directions is the
 * state at each sequence's end (PyTorch's h_n); out reads [h→_t ; h←_t].
 *
 * States and truncated BPTT: h0, c0, hT, cT live in a state block of their
 * own, sized by B alone. A set_batch that changes only T keeps it (and its
 * contents); one that changes B re-makes it zeroed. Before any forward hT and
 * cT are zero. With RNNLAB_CARRY_STATE a forward starts from hT/cT of the
 * previous forward on this model (it takes precedence over RNNLAB_USE_H0), so
 * a long sequence runs window after window with set_batch(B, Tw) and the flag,
 * no state copied by the caller; gradients stop at the window's start. The
 * carried states are checked like h0: NaN/Inf gives RNNLAB_E_NONFINITE.
 * Every forward that passes its checks writes hT and cT, also the one inside
 * a train_step or compute_gradients that then fails on a non-finite loss.
 *
 * The buffer table (rnnlab_buffer_table): RNNLAB_BUF_COUNT entries indexed by
 * rnnlab_buffer_id, each {data, count} with count in elements, {NULL, 0}
 * where a buffer does not exist; in wasm32 each entry is two u32 (pointer,
 * count). It lives in the model: params, grads, opt_m, opt_v and stats are
 * there from rnnlab_create/rnnlab_load on, the rest after set_batch. Its
 * contents are valid until the next rnnlab_set_batch or rnnlab_free.
 *
 * Parameters, gradients and optimiser moments share one flat layout; per
 * layer l (input size X_l = X for l = 0, else D*H) and direction:
 *   W_l   (G*H, X_l)  input weights, gate blocks stacked in rows
 *   U_l   (G*H, H)    recurrent weights
 *   b_l   (G*H)       one bias per gate block
 *   bhn_l (H)         GRU reset-after only: the n block's recurrent bias
 * (bidirectional: layer l's forward W, U, b, bhn, then its reverse ones)
 * then the head: V (Y, D*H), c (Y); then, with an embedding, its table
 *   Emb   (V, X)      row v is the input vector of id v (SPEC §13)
 */
#ifndef RNNLAB_H
#define RNNLAB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rnnlab_model rnnlab_model;

typedef enum {
    RNNLAB_OK = 0,
    RNNLAB_E_NOMEM = 1,     /* an allocation failed; the model is unchanged */
    RNNLAB_E_INVALID = 2,   /* an argument or option is out of range */
    RNNLAB_E_SHAPE = 3,     /* sizes do not fit each other */
    RNNLAB_E_FORMAT = 4,    /* a saved model is corrupt or of another version */
    RNNLAB_E_NONFINITE = 5, /* NaN/Inf in data, loss or gradients; weights kept */
    RNNLAB_E_STATE = 6      /* call out of order (e.g. backward before forward) */
} rnnlab_status;

enum { RNNLAB_CELL_RNN = 0, RNNLAB_CELL_LSTM = 1, RNNLAB_CELL_GRU = 2 };
enum { RNNLAB_ACT_TANH = 0, RNNLAB_ACT_RELU = 1 };
enum { RNNLAB_OUTPUT_SEQUENCE = 0, RNNLAB_OUTPUT_LAST = 1 };
enum { RNNLAB_LOSS_MSE = 0, RNNLAB_LOSS_CROSS_ENTROPY = 1 };
enum { RNNLAB_INIT_GLOROT = 0, RNNLAB_INIT_PYTORCH = 1 };
enum { RNNLAB_RECURRENT_ORTHOGONAL = 0, RNNLAB_RECURRENT_GAUSSIAN = 1 };
enum { RNNLAB_OPT_SGD = 0, RNNLAB_OPT_MOMENTUM = 1, RNNLAB_OPT_ADAM = 2,
       RNNLAB_OPT_ADAMW = 3, RNNLAB_OPT_RMSPROP = 4 };

typedef struct {
    int32_t cell;            /* RNNLAB_CELL_*                                   */
    int32_t activation;      /* vanilla RNN nonlinearity, RNNLAB_ACT_*          */
    int32_t gru_reset_after; /* 0: reset before (default), 1: reset after       */
    int32_t input_size;      /* X                                               */
    int32_t hidden_size;     /* H                                               */
    int32_t output_size;     /* Y (number of classes for cross-entropy)         */
    int32_t layers;          /* L                                               */
    int32_t output;          /* RNNLAB_OUTPUT_*                                 */
    int32_t loss;            /* RNNLAB_LOSS_*                                   */
    int32_t init;            /* RNNLAB_INIT_*                                   */
    int32_t recurrent_init;  /* RNNLAB_RECURRENT_* (with RNNLAB_INIT_GLOROT)    */
    float recurrent_scale;   /* multiplies U: the spectral radius, default 1    */
    int32_t forget_bias_one; /* LSTM forget-gate bias 1 (default) or 0          */
    uint32_t seed;           /* every random draw comes from it                 */
    int32_t embedding_vocab; /* V > 0: inputs are ids into a table (V, X); 0 = off */
    float dropout;           /* p in [0, 1): on each layer's output but the last's,
                                a fresh mask per (b, t) (PyTorch), SPEC §12     */
    float input_dropout;     /* p: on every layer's x_t, one mask per sequence and
                                gate block (Keras dropout)                       */
    float recurrent_dropout; /* p: on h_{t-1} where it enters the gates, one mask
                                per sequence and gate block (Keras)              */
    int32_t bidirectional;   /* 1: a second layer over the reversed sequence, SPEC §11 */
} rnnlab_config;

typedef struct {
    int32_t type;         /* RNNLAB_OPT_*                                     */
    float lr;             /* learning rate eta                                 */
    float momentum;       /* mu for RNNLAB_OPT_MOMENTUM                        */
    float beta1, beta2;   /* Adam/AdamW moments                                */
    float eps;            /* Adam 1e-8, RMSprop 1e-7                           */
    float rho;            /* RMSprop decay                                     */
    float weight_decay;   /* AdamW decoupled decay lambda                      */
    float clip_norm;      /* tau for global-norm clipping, 0 = off             */
    float clip_value;     /* v for element clipping to [-v, v], 0 = off        */
} rnnlab_optimizer;

/* Flags for the data of a batch. */
enum {
    RNNLAB_USE_MASK = 1, /* the mask buffer is read; otherwise every position counts */
    RNNLAB_USE_H0 = 2,   /* h0 (and c0) are read; otherwise states start at zero   */
    RNNLAB_CARRY_STATE = 4, /* states start from hT (and cT) of the previous forward;
                              wins over RNNLAB_USE_H0                                */
    RNNLAB_TRAINING = 8     /* apply dropout (train_step always does): the masks of
                              the model's seed and step count, SPEC §12             */
};

/* Buffers reachable through rnnlab_buffer. */
typedef enum {
    RNNLAB_BUF_X = 0, RNNLAB_BUF_Y, RNNLAB_BUF_LABELS, RNNLAB_BUF_MASK,
    RNNLAB_BUF_H0, RNNLAB_BUF_C0, RNNLAB_BUF_OUT, RNNLAB_BUF_HT, RNNLAB_BUF_CT,
    RNNLAB_BUF_DX, RNNLAB_BUF_DH0, RNNLAB_BUF_DC0, RNNLAB_BUF_FLOW_H,
    RNNLAB_BUF_FLOW_C, RNNLAB_BUF_GATES, RNNLAB_BUF_HIDDEN, RNNLAB_BUF_CELLS, RNNLAB_BUF_PARAMS,
    RNNLAB_BUF_GRADS, RNNLAB_BUF_OPT_M, RNNLAB_BUF_OPT_V, RNNLAB_BUF_STATS, RNNLAB_BUF_IDS,
    RNNLAB_BUF_DROP_LAYER, RNNLAB_BUF_DROP_INPUT, RNNLAB_BUF_DROP_RECURRENT,
    RNNLAB_BUF_COUNT
} rnnlab_buffer_id;

/* The stats buffer (floats) written by every step. */
enum {
    RNNLAB_STAT_LOSS = 0,        /* mean loss over counted positions           */
    RNNLAB_STAT_GRAD_NORM,       /* global norm before clipping                */
    RNNLAB_STAT_GRAD_NORM_AFTER, /* global norm after clipping                 */
    RNNLAB_STAT_CLIPPED,         /* 1 if norm clipping scaled the gradients    */
    RNNLAB_STAT_COUNTED,         /* counted positions (mask sum)               */
    RNNLAB_STAT_CORRECT,         /* cross-entropy: positions whose argmax hits */
    RNNLAB_STAT_STEP,            /* optimiser steps taken so far               */
    RNNLAB_STAT_COUNT
};

rnnlab_config rnnlab_config_default(void);
rnnlab_optimizer rnnlab_optimizer_default(int type);

/* Creates a model with freshly initialised weights. *out is NULL on failure. */
rnnlab_status rnnlab_create(const rnnlab_config *cfg, rnnlab_model **out);
void rnnlab_free(rnnlab_model *m); /* NULL-safe */
const char *rnnlab_last_error(const rnnlab_model *m);
const char *rnnlab_global_error(void); /* for failures with no model */

rnnlab_status rnnlab_get_config(const rnnlab_model *m, rnnlab_config *out);
size_t rnnlab_param_count(const rnnlab_model *m);
/* Offset (in floats) and size of one tensor in the flat parameter layout.
 * kind: 0 W, 1 U, 2 b, 3 bhn (layer < L), and with bidirectional 4 W, 5 U,
 * 6 b, 7 bhn of the layer's reverse direction; head: layer = L, kind 0 V, 1 c;
 * the embedding table: layer = -1, kind 0 (E_INVALID without an embedding). */
rnnlab_status rnnlab_param_slice(const rnnlab_model *m, int layer, int kind,
                                 size_t *offset, size_t *count);

/* Sizes the batch buffers for B sequences of T steps (allocates only when
 * they grow). Buffers keep their contents across calls of the same shape;
 * the state buffers h0, c0, hT, cT across calls of the same B. */
rnnlab_status rnnlab_set_batch(rnnlab_model *m, int B, int T);
/* Pointer and length (in elements) of a buffer; NULL when it has none. */
void *rnnlab_buffer(rnnlab_model *m, int id, size_t *count);

typedef struct { void *data; size_t count; } rnnlab_buffer_info; /* count in elements */
/* Every buffer at once, indexed by rnnlab_buffer_id (RNNLAB_BUF_COUNT entries; NULL/0 where a
 * buffer does not exist). Valid until the next rnnlab_set_batch or rnnlab_free. */
const rnnlab_buffer_info *rnnlab_buffer_table(rnnlab_model *m);

/* Call after writing parameters through RNNLAB_BUF_PARAMS: the engine
 * repacks its copies of the recurrent weights. */
void rnnlab_params_changed(rnnlab_model *m);

rnnlab_status rnnlab_set_optimizer(rnnlab_model *m, const rnnlab_optimizer *opt);
rnnlab_status rnnlab_get_optimizer(const rnnlab_model *m, rnnlab_optimizer *out);
void rnnlab_reset_optimizer(rnnlab_model *m); /* zero moments and step count */

/* Forward only: fills out, hT, cT, gates, cells; loss into stats when
 * with_loss is set (targets read). */
rnnlab_status rnnlab_forward(rnnlab_model *m, int flags, int with_loss);
/* Forward + BPTT: fills grads, dx, dh0, dc0, flow_h, flow_c and the stats
 * (norms before/after clipping, without changing the weights). */
rnnlab_status rnnlab_compute_gradients(rnnlab_model *m, int flags);
/* Forward + BPTT + clipping + optimiser update; like compute_gradients, but
 * dx is not computed without an embedding (its buffer is left as it was). A non-finite loss or gradient
 * returns RNNLAB_E_NONFINITE and leaves weights and optimiser state as they were.
 * A batch in which no position counts (all masked) changes nothing either. */
rnnlab_status rnnlab_train_step(rnnlab_model *m, int flags);

/* Largest singular value of each H x H recurrent gate block, by power
 * iteration: out has L*G entries (layer-major). */
rnnlab_status rnnlab_spectral_norms(rnnlab_model *m, float *out, int count);

/* Save/load: a versioned, checksummed byte image (see serialize.c). */
rnnlab_status rnnlab_save(rnnlab_model *m, int with_optimizer, uint8_t **bytes, size_t *len);
rnnlab_status rnnlab_load(const uint8_t *bytes, size_t len, rnnlab_model **out);

/* Bytes of the caller's kept with the model and saved with it (e.g. UTF-8
 * JSON: a vocabulary, a task). len 0 removes them. At most 16 MB. */
#define RNNLAB_MAX_METADATA (16u << 20)
rnnlab_status rnnlab_set_metadata(rnnlab_model *m, const uint8_t *bytes, size_t len);
const uint8_t *rnnlab_metadata(const rnnlab_model *m, size_t *len); /* NULL if none */

/* Scratch bytes owned by the engine, for JS to pass strings and files in. */
void *rnnlab_scratch(size_t bytes);
void rnnlab_bytes_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
