/* vmath.c — elementwise nonlinearities (plain libm version). */
#include "vmath.h"
#include <math.h>

float scalar_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
float scalar_tanh(float x) { return tanhf(x); }

void vec_sigmoid(float *x, int n) { for (int i = 0; i < n; i++) x[i] = scalar_sigmoid(x[i]); }
void vec_tanh(float *x, int n) { for (int i = 0; i < n; i++) x[i] = scalar_tanh(x[i]); }
void vec_relu(float *x, int n) { for (int i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f; }
