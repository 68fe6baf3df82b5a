/* fpenv.h — subnormal floats flushed to zero while the engine computes.
 *
 * A float below 2^-126 (a subnormal) costs 10 to 100 times a normal one in
 * every x86 multiply and add that meets it. Training makes them steadily:
 * a decoder's sigmoid saturates on background pixels, so its outputs and
 * their gradients fall under 1e-38, and Adam squares gradients of 1e-20.
 * Left alone they tripled the reference VAE's epoch time by its third epoch
 * (1.55, 2.0, 3.2 s on one thread, docs/performance.md). Nothing they carry
 * reaches a loss or a weight, so, as TensorFlow does in its compute
 * threads, every parallel region of training and evaluation runs with the
 * CPU's flush-to-zero and denormals-are-zero modes and restores the
 * thread's own modes at its end: the caller's floating-point environment
 * is never left changed.
 *
 *   unsigned fp = elbo_fp_flush_begin();
 *   ... compute ...
 *   elbo_fp_flush_end(fp);
 *
 * Where the CPU has no such modes (not x86 with SSE) both do nothing. */
#ifndef ELBO_FPENV_H
#define ELBO_FPENV_H

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
static inline unsigned elbo_fp_flush_begin(void)
{
    unsigned old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u); /* FTZ (bit 15) | DAZ (bit 6) */
    return old;
}
static inline void elbo_fp_flush_end(unsigned old) { _mm_setcsr(old); }
#else
static inline unsigned elbo_fp_flush_begin(void) { return 0; }
static inline void elbo_fp_flush_end(unsigned old) { (void)old; }
#endif

#endif
