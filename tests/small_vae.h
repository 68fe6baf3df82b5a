/* small_vae.h — what the engine tests share (test_resume, test_ema): a
 * small VAE (784-50-4, 2 threads, seed 77) and a progress callback that
 * stops an epoch after a given step. */
#ifndef ELBO_TEST_SMALL_VAE_H
#define ELBO_TEST_SMALL_VAE_H

#include "elbo.h"

static inline int stop_after(void *user, int step, int n_steps, double loss)
{
    (void)n_steps;
    (void)loss;
    return step == *(int *)user;
}

static inline elbo_vae *fresh(void)
{
    elbo_vae_config c;
    elbo_vae_config_default(&c);
    c.hidden[0] = 50;
    c.latent_dim = 4;
    c.threads = 2;
    elbo_error err;
    return elbo_vae_create(&c, 77, &err);
}

#endif
