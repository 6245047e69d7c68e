/* vmath.h — elementwise nonlinearities over float arrays, in place.
 * Accuracy is stated next to the implementation and tested in tests/c. */
#ifndef RNNLAB_VMATH_H
#define RNNLAB_VMATH_H

void vec_sigmoid(float *x, int n); /* x <- 1 / (1 + exp(-x)) */
void vec_tanh(float *x, int n);    /* x <- tanh(x)           */
void vec_relu(float *x, int n);    /* x <- max(x, 0)         */
/* The same sigmoid/tanh as the vector forms, one value at a time. */
float scalar_sigmoid(float x);
float scalar_tanh(float x);

#endif
