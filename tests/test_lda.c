/* test_lda.c — latent Dirichlet allocation (elbo_lda.h, src/models/lda*.c):
 * the E-step, the bound, the perplexity and one online update against
 * scikit-learn (tests/fixtures/lda_small.safetensors, dev/make_lda_fixture.py);
 * the E-step's fixed point is a stationary point of the document's bound
 * (finite differences in double); the Newton step on alpha recovers a
 * known Dirichlet; the special functions; recovery of planted topics;
 * determinism, thread counts and exact resume through the engine; document
 * completion's analytic case; and bad input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "elbo_lda.h"
#include "fixture.h"
#include "models/lda_internal.h"
#include "util/special.h"

/* A corpus from dense counts [D, V] (rows with no count are skipped). */
static void corpus_from_dense(const float *counts, int D, int V, elbo_dataset *ds)
{
    elbo_corpus c = {0};
    c.n_vocab = V;
    c.doc_ptr = malloc(sizeof(int) * (size_t)(D + 1));
    c.word = malloc(sizeof(int) * (size_t)D * V);
    c.count = malloc(sizeof(int) * (size_t)D * V);
    for (int d = 0; d < D; d++) {
        c.doc_ptr[c.n_docs] = (int)c.nnz;
        for (int v = 0; v < V; v++)
            if (counts[(size_t)d * V + v] > 0) {
                c.word[c.nnz] = v;
                c.count[c.nnz++] = (int)counts[(size_t)d * V + v];
                c.n_tokens += (long)counts[(size_t)d * V + v];
            }
        if (c.nnz > c.doc_ptr[c.n_docs]) c.n_docs++;
    }
    c.doc_ptr[c.n_docs] = (int)c.nnz;
    elbo_error err;
    CHECK(elbo_dataset_from_corpus(&c, ds, &err) == ELBO_OK, "from_corpus");
}

static double meta_num(const st_file *f, const char *key)
{
    const char *v = st_meta_get(f, key);
    return v ? strtod(v, NULL) : NAN;
}

/* ------------------------------------------------ against scikit-learn */

static void test_fixture(void)
{
    st_file f;
    elbo_error err;
    if (st_open("tests/fixtures/lda_small.safetensors", &f, &err) != ELBO_OK) {
        CHECK(0, "%s", err.msg);
        return;
    }
    int K = (int)meta_num(&f, "K"), V = (int)meta_num(&f, "V"), D = (int)meta_num(&f, "D");
    int64_t kv[2] = {K, V}, dv[2] = {D, V}, dk[2] = {D, K};
    float *lam = read_any(&f, "lambda", (long)K * V, 2, kv), *counts = read_any(&f, "counts", (long)D * V, 2, dv);
    elbo_lda_config c;
    elbo_lda_config_default(&c);
    c.n_topics = K;
    c.n_vocab = V;
    c.alpha = meta_num(&f, "alpha");
    c.eta = meta_num(&f, "eta");
    c.tau0 = meta_num(&f, "tau0");
    c.kappa = meta_num(&f, "kappa");
    c.method = ELBO_LDA_ONLINE;
    c.estimate_alpha = 0;
    c.threads = 1;
    elbo_lda *m = elbo_lda_create(&c, 1, &err);
    CHECK(m && lam && counts, "create: %s", m ? "" : err.msg);
    if (!m || !lam || !counts) return;
    CHECK(elbo_lda_set_lambda(m, lam, NULL, &err) == ELBO_OK, "set_lambda");
    elbo_dataset ds;
    corpus_from_dense(counts, D, V, &ds);
    CHECK(ds.n == D, "all %d documents kept (%d)", D, ds.n);

    /* the E-step from gamma = 1, and its statistics times exp E[log beta] */
    float *gamma = malloc(sizeof(float) * (size_t)D * K);
    CHECK(elbo_lda_infer(m, &ds, NULL, gamma, &err) == ELBO_OK, "infer");
    cmp(&f, "gamma", gamma, 2, dk, 1e-5, 1e-4, 0);
    lda_worker *w = &m->w[0];
    size_t VK = (size_t)V * K;
    memset(w->ss, 0, sizeof(float) * (VK + K));
    for (int d = 0; d < D; d++) {
        double r, k;
        lda_estep(m, w, ds.counts, d, NULL, NULL, w->ss, &r, &k);
    }
    size_t ns;
    float *st = lda_stats(&m->base, 1, &ns), *ss_kv = malloc(sizeof(float) * VK);
    CHECK(ns == VK + (size_t)K, "stats size %zu", ns);
    for (int k = 0; k < K; k++)
        for (int v = 0; v < V; v++) /* apply multiplies the summed statistics by ebeta */
            ss_kv[(size_t)k * V + v] = st[(size_t)v * K + k] * m->ebeta[(size_t)v * K + k];
    cmp(&f, "sstats", ss_kv, 2, kv, 1e-6, 1e-4, 1);

    /* the held-out figures as scikit-learn defines them */
    elbo_lda_metrics g;
    CHECK(elbo_lda_evaluate(m, &ds, &g, &err) == ELBO_OK, "evaluate");
    double want_p = meta_num(&f, "perplexity"), want_b = meta_num(&f, "bound_docs"), want_g = meta_num(&f, "global_term");
    CHECK(fabs(g.perplexity / want_p - 1) < 1e-5, "perplexity %.9g, scikit-learn %.9g", g.perplexity, want_p);
    CHECK(fabs(g.bound_docs - want_b) < 1e-3, "documents' bound %.9g, scikit-learn %.9g", g.bound_docs, want_b);
    CHECK(fabs(g.global_term - want_g) < 1e-3, "global term %.9g, scikit-learn %.9g", g.global_term, want_g);
    CHECK(fabs(g.perplexity_docs - exp(-want_b / meta_num(&f, "tokens"))) < 1e-4 * g.perplexity_docs,
          "documents-only perplexity %.9g", g.perplexity_docs);

    /* a word of almost no probability under every topic is scored exactly */
    float *tiny = read_any(&f, "lambda_tiny", (long)K * V, 2, kv);
    elbo_lda_metrics gt;
    CHECK(tiny && elbo_lda_set_lambda(m, tiny, NULL, &err) == ELBO_OK && elbo_lda_evaluate(m, &ds, &gt, &err) == ELBO_OK,
          "tiny lambda");
    double want_t = meta_num(&f, "perplexity_tiny");
    CHECK(fabs(gt.perplexity / want_t - 1) < 1e-5, "perplexity with a word of ~0 probability %.9g, scikit-learn %.9g",
          gt.perplexity, want_t);
    CHECK(elbo_lda_set_lambda(m, lam, NULL, &err) == ELBO_OK, "lambda back");
    free(tiny);

    /* one online update, rho = (tau0 + 1)^-kappa, the D documents half of a corpus of 2D */
    elbo_dataset twice = ds;
    twice.n = 2 * D;
    model_batch b = {&twice, NULL, NULL, 0, D, 0, 1, 0, 1};
    model_step s = {0};
    CHECK(lda_apply(&m->base, &s, &b, 1, &err) == ELBO_OK, "apply");
    CHECK(fabs(m->rho - meta_num(&f, "rho")) < 1e-12, "rho %.12g", m->rho);
    float *after = malloc(sizeof(float) * VK);
    elbo_lda_get_lambda(m, after, NULL);
    cmp(&f, "lambda_online", after, 2, kv, 1e-6, 1e-5, 1);
    free(after);
    free(ss_kv);
    free(gamma);
    free(lam);
    free(counts);
    elbo_dataset_free(&ds);
    elbo_lda_free(m);
    st_close(&f);
}

/* --------------------------------------------- the E-step's fixed point */

/* A document's bound in double as a function of gamma (phi at its optimum). */
static double doc_bound(const elbo_lda *m, const elbo_corpus *c, int d, const double *g)
{
    int K = m->cfg.n_topics;
    double s = 0.0, elog[64], b = 0.0, as = 0.0;
    for (int k = 0; k < K; k++) s += g[k];
    for (int k = 0; k < K; k++) elog[k] = elbo_digamma(g[k]) - elbo_digamma(s);
    for (int j = c->doc_ptr[d]; j < c->doc_ptr[d + 1]; j++) {
        double p = 0.0;
        for (int k = 0; k < K; k++) p += exp(elog[k]) * m->ebeta[(size_t)c->word[j] * K + k];
        b += c->count[j] * log(p);
    }
    for (int k = 0; k < K; k++) {
        double a = m->base.params[m->alpha_off + k];
        b += (a - g[k]) * elog[k] + lgamma(g[k]) - lgamma(a);
        as += a;
    }
    return b + lgamma(as) - lgamma(s);
}

static void test_stationary(void)
{
    int D = 6, V = 20, K = 4;
    float counts[6 * 20];
    elbo_rng r;
    elbo_rng_seed(&r, 3);
    for (int i = 0; i < D * V; i++) counts[i] = elbo_rng_uniform(&r) < 0.35 ? (float)(1 + elbo_rng_below(&r, 4)) : 0.0f;
    elbo_dataset ds;
    corpus_from_dense(counts, D, V, &ds);
    elbo_lda_config c;
    elbo_lda_config_default(&c);
    c.n_topics = K;
    c.n_vocab = V;
    c.threads = 1;
    c.estep_iters = 5000;
    c.estep_tol = 1e-12;
    elbo_error err;
    elbo_lda *m = elbo_lda_create(&c, 5, &err);
    if (!m) {
        CHECK(0, "create: %s", err.msg);
        return;
    }
    lda_worker *w = &m->w[0];
    for (int d = 0; d < ds.n; d++) {
        double rec, kl, g[8], start[8], h = 1e-5, worst = 0.0, scale = 0.0;
        lda_estep(m, w, ds.counts, d, NULL, NULL, NULL, &rec, &kl);
        for (int k = 0; k < K; k++) g[k] = w->gamma[k], start[k] = 1.0;
        for (int k = 0; k < K; k++) { /* central differences at the fixed point and at gamma = 1 */
            double gp[8], gm[8], sp[8], sm[8];
            memcpy(gp, g, sizeof gp), memcpy(gm, g, sizeof gm), memcpy(sp, start, sizeof sp), memcpy(sm, start, sizeof sm);
            gp[k] += h, gm[k] -= h, sp[k] += h, sm[k] -= h;
            double dg = (doc_bound(m, ds.counts, d, gp) - doc_bound(m, ds.counts, d, gm)) / (2 * h);
            double ds1 = (doc_bound(m, ds.counts, d, sp) - doc_bound(m, ds.counts, d, sm)) / (2 * h);
            worst = fmax(worst, fabs(dg));
            scale = fmax(scale, fabs(ds1));
        }
        CHECK(worst < 1e-4 * fmax(1.0, scale), "doc %d: the gradient of the bound at the E-step's gamma is %.3g "
                                              "(%.3g at gamma = 1)", d, worst, scale);
        CHECK(fabs(-(rec + kl) - doc_bound(m, ds.counts, d, g)) < 1e-4 * fabs(rec + kl),
              "doc %d: the E-step's bound %.9g, recomputed %.9g", d, -(rec + kl), doc_bound(m, ds.counts, d, g));
    }
    elbo_dataset_free(&ds);
    elbo_lda_free(m);
}

/* ------------------------------------------- alpha and special functions */

static void test_alpha_newton(void)
{
    double truth[4] = {0.1, 0.5, 1.0, 2.0}, logsum[4] = {0}, alpha[4] = {1, 1, 1, 1};
    int N = 20000, K = 4;
    elbo_rng r;
    elbo_rng_seed(&r, 11);
    for (int n = 0; n < N; n++) { /* theta ~ Dir(truth) by normalised Gammas */
        double x[4], s = 0.0;
        for (int k = 0; k < K; k++) s += (x[k] = elbo_rng_gamma(&r, truth[k]) + 1e-300);
        for (int k = 0; k < K; k++) logsum[k] += log(x[k] / s);
    }
    int kept = 0;
    for (int it = 0; it < 200; it++) kept += lda_alpha_newton(alpha, K, N, logsum, 0.5);
    CHECK(kept > 0, "no Newton step was kept");
    for (int k = 0; k < K; k++)
        CHECK(fabs(alpha[k] / truth[k] - 1) < 0.05, "alpha[%d] = %.4f, the truth %.4f", k, alpha[k], truth[k]);
}

static void test_special(void)
{
    CHECK(fabs(elbo_digamma(1.0) + 0.57721566490153286) < 1e-12, "digamma(1) = %.15g", elbo_digamma(1.0));
    CHECK(fabs(elbo_trigamma(1.0) - 3.14159265358979323846 * 3.14159265358979323846 / 6) < 1e-12, "trigamma(1) = %.15g", elbo_trigamma(1.0));
    double xs[] = {1e-4, 0.01, 0.3, 1.5, 4.0, 7.5, 40.0, 1e4};
    for (int i = 0; i < 8; i++) {
        double x = xs[i], h = 1e-6 * x;
        CHECK(fabs(elbo_lgamma(x) - lgamma(x)) < 1e-12 * fmax(1.0, fabs(lgamma(x))), "lgamma(%g) %.15g, libm %.15g",
              x, elbo_lgamma(x), lgamma(x));
        double fd = (lgamma(x + h) - lgamma(x - h)) / (2 * h), fd2 = (elbo_digamma(x + h) - elbo_digamma(x - h)) / (2 * h);
        CHECK(fabs(elbo_digamma(x) - fd) < 1e-6 * fmax(1.0, fabs(fd)), "digamma(%g) %.12g, d lgamma %.12g", x,
              elbo_digamma(x), fd);
        CHECK(fabs(elbo_trigamma(x) - fd2) < 1e-5 * fmax(1.0, fabs(fd2)), "trigamma(%g) %.12g, d digamma %.12g", x,
              elbo_trigamma(x), fd2);
    }
    elbo_rng r;
    elbo_rng_seed(&r, 2);
    double a[] = {0.1, 1.0, 100.0};
    for (int i = 0; i < 3; i++) { /* Gamma(a): mean a, variance a */
        double s = 0, s2 = 0;
        int n = 200000;
        for (int j = 0; j < n; j++) {
            double x = elbo_rng_gamma(&r, a[i]);
            s += x, s2 += x * x;
        }
        double mean = s / n, var = s2 / n - mean * mean;
        CHECK(fabs(mean - a[i]) < 5 * sqrt(a[i] / n), "Gamma(%g) mean %.5g", a[i], mean);
        double se = sqrt((3 * a[i] * (a[i] + 2) - a[i] * a[i]) / n); /* of the variance: sqrt((mu4 - sigma^4)/n) */
        CHECK(fabs(var - a[i]) < 5 * se, "Gamma(%g) variance %.5g (SE %.3g)", a[i], var, se);
    }
}

/* ------------------------------------------------------ through the engine */

/* A corpus of D documents of 60 words from K planted topics over V = 10 K
 * words (topic k puts 95% of its mass on words 10k .. 10k+9). */
static void planted(int D, int K, uint64_t seed, elbo_dataset *ds)
{
    int V = 10 * K;
    float *counts = calloc((size_t)D * V, sizeof(float));
    elbo_rng r;
    elbo_rng_seed(&r, seed);
    for (int d = 0; d < D; d++) {
        double th[16], s = 0;
        for (int k = 0; k < K; k++) s += (th[k] = elbo_rng_gamma(&r, 0.3) + 1e-12);
        for (int n = 0; n < 60; n++) {
            double u = elbo_rng_uniform(&r) * s;
            int k = 0;
            while (k < K - 1 && (u -= th[k]) > 0) k++;
            int w = elbo_rng_uniform(&r) < 0.95 ? 10 * k + (int)elbo_rng_below(&r, 10) : (int)elbo_rng_below(&r, (uint64_t)V);
            counts[(size_t)d * V + w] += 1;
        }
    }
    corpus_from_dense(counts, D, V, ds);
    free(counts);
}

static elbo_lda *make_lda(int K, int V, elbo_lda_method method, int threads, uint64_t seed)
{
    elbo_lda_config c;
    elbo_lda_config_default(&c);
    c.n_topics = K;
    c.n_vocab = V;
    c.method = method;
    c.threads = threads;
    elbo_error err;
    elbo_lda *m = elbo_lda_create(&c, seed, &err);
    CHECK(m != NULL, "create: %s", m ? "" : err.msg);
    return m;
}

static elbo_status epochs(elbo_lda *m, const elbo_dataset *ds, int batch, int n)
{
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    tc.batch_size = batch;
    elbo_error err;
    for (int e = 0; e < n; e++) {
        elbo_status st = elbo_model_train_epoch(elbo_lda_model(m), &tc, ds, NULL, NULL, NULL, &err);
        if (st) {
            CHECK(0, "epoch %d: %s", e, err.msg);
            return st;
        }
    }
    return ELBO_OK;
}

static void test_planted(void)
{
    int K = 3, V = 30, D = 300;
    elbo_dataset ds;
    planted(D, K, 21, &ds);
    elbo_lda_method methods[2] = {ELBO_LDA_BATCH, ELBO_LDA_ONLINE};
    for (int mi = 0; mi < 2; mi++) {
        elbo_lda *m = make_lda(K, V, methods[mi], 2, 4);
        if (!m || epochs(m, &ds, methods[mi] == ELBO_LDA_BATCH ? ds.n : 32, 30)) {
            elbo_lda_free(m);
            continue;
        }
        float lam[3 * 30];
        elbo_lda_get_lambda(m, lam, NULL);
        for (int t = 0; t < K; t++) { /* the best fitted topic's share of the planted words */
            double best = 0;
            for (int k = 0; k < K; k++) {
                double in = 0, all = 0;
                for (int v = 0; v < V; v++) all += lam[k * V + v], in += v / 10 == t ? lam[k * V + v] : 0;
                best = fmax(best, in / all);
            }
            CHECK(best > 0.9, "%s: planted topic %d: the closest topic has %.3f of its mass on its words",
                  methods[mi] == ELBO_LDA_BATCH ? "batch" : "online", t, best);
        }
        double share[3], sum = 0;
        elbo_lda_topic_share(m, share);
        for (int k = 0; k < K; k++) {
            sum += share[k];
            CHECK(share[k] > 0.2 && share[k] < 0.47, "topic %d's share %.3f (the planted ones are about 1/3 each)", k,
                  share[k]);
        }
        CHECK(fabs(sum - 1) < 1e-9, "the shares sum to %.12g", sum);
        elbo_lda_free(m);
    }
    elbo_dataset_free(&ds);
}

/* Online VI whose minibatch is the whole corpus takes batch VI's full step
 * for lambda (alpha fixed here: with the online method alpha keeps rho_t). */
static void test_online_whole_corpus(void)
{
    elbo_dataset ds;
    planted(120, 3, 5, &ds);
    elbo_lda *a = make_lda(3, 30, ELBO_LDA_ONLINE, 2, 3), *b = make_lda(3, 30, ELBO_LDA_BATCH, 2, 3);
    if (a) a->cfg.estimate_alpha = 0;
    if (b) b->cfg.estimate_alpha = 0;
    if (a && b) {
        epochs(a, &ds, ds.n, 3);
        epochs(b, &ds, ds.n, 3);
        float la[90], lb[90];
        elbo_lda_get_lambda(a, la, NULL);
        elbo_lda_get_lambda(b, lb, NULL);
        CHECK(!memcmp(la, lb, sizeof la), "online with a minibatch of the whole corpus differs from batch VI");
    }
    elbo_lda_free(a);
    elbo_lda_free(b);
    elbo_dataset_free(&ds);
}

static int stop_after_4(void *user, int step, int n_steps, double loss)
{
    (void)user;
    (void)n_steps;
    (void)loss;
    return step == 4;
}

static void test_determinism_resume(void)
{
    int K = 4, V = 40;
    elbo_dataset ds;
    planted(200, K, 8, &ds);
    size_t n = (size_t)K * V;
    float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n), *c = malloc(sizeof(float) * n);
    elbo_lda *m1 = make_lda(K, V, ELBO_LDA_ONLINE, 2, 9), *m2 = make_lda(K, V, ELBO_LDA_ONLINE, 2, 9);
    elbo_lda *m3 = make_lda(K, V, ELBO_LDA_ONLINE, 1, 9);
    if (!m1 || !m2 || !m3) return;
    epochs(m1, &ds, 16, 3);
    epochs(m3, &ds, 16, 3);
    elbo_lda_get_lambda(m1, a, NULL);
    elbo_lda_get_lambda(m3, c, NULL);
    double worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - c[i]) / fabs(a[i]));
    CHECK(worst < 1e-4, "1 and 2 threads differ by %.3g (relative) after 3 epochs", worst);

    /* 1 epoch, 4 steps into the 2nd, saved, reloaded and continued = 3 straight */
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    tc.batch_size = 16;
    elbo_error err;
    epochs(m2, &ds, 16, 1);
    CHECK(elbo_model_train_epoch(elbo_lda_model(m2), &tc, &ds, stop_after_4, NULL, NULL, &err) == ELBO_OK, "part");
    CHECK(elbo_model_epoch_examples(elbo_lda_model(m2)) == 64, "stopped 64 documents in (%ld)",
          elbo_model_epoch_examples(elbo_lda_model(m2)));
    char dir[] = "/tmp/elbo-test-lda-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(elbo_model_save(elbo_lda_model(m2), dir, &err) == ELBO_OK, "save: %s", err.msg);
    elbo_lda_free(m2);
    m2 = elbo_lda_load(dir, &err);
    CHECK(m2 != NULL, "load: %s", m2 ? "" : err.msg);
    if (m2) {
        elbo_model_set_threads(elbo_lda_model(m2), 2, &err);
        CHECK(elbo_model_train_epoch(elbo_lda_model(m2), &tc, &ds, NULL, NULL, NULL, &err) == ELBO_OK, "rest");
        epochs(m2, &ds, 16, 1);
        elbo_lda_get_lambda(m2, b, NULL);
        CHECK(memcmp(a, b, sizeof(float) * n) == 0, "a resumed run differs from an uninterrupted one");
        CHECK(elbo_model_epochs(elbo_lda_model(m2)) == 3, "3 epochs (%d)", elbo_model_epochs(elbo_lda_model(m2)));
    }
    /* the evaluation does not depend on the thread count */
    elbo_lda_metrics g1, g2;
    elbo_lda_evaluate(m1, &ds, &g1, &err);
    elbo_model_set_threads(elbo_lda_model(m1), 1, &err);
    elbo_lda_evaluate(m1, &ds, &g2, &err);
    CHECK(g1.bound_docs == g2.bound_docs && g1.completion_perplexity == g2.completion_perplexity,
          "evaluation with 1 and 2 threads: %.17g / %.17g", g1.bound_docs, g2.bound_docs);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
    free(a);
    free(b);
    free(c);
    elbo_lda_free(m1);
    elbo_lda_free(m2);
    elbo_lda_free(m3);
    elbo_dataset_free(&ds);
}

/* Uniform topics: every word has probability 1/V under E[beta], so document
 * completion's perplexity is exactly V whatever theta is; and half of
 * every document (rounded up on the first word) is observed. */
static void test_completion_uniform(void)
{
    int K = 3, V = 30;
    elbo_dataset ds;
    planted(50, K, 2, &ds);
    elbo_lda *m = make_lda(K, V, ELBO_LDA_BATCH, 1, 1);
    if (!m) return;
    float *lam = malloc(sizeof(float) * K * V);
    for (int i = 0; i < K * V; i++) lam[i] = 2.5f;
    elbo_error err;
    elbo_lda_set_lambda(m, lam, NULL, &err);
    elbo_lda_metrics g;
    CHECK(elbo_lda_evaluate(m, &ds, &g, &err) == ELBO_OK, "evaluate");
    CHECK(fabs(g.completion_perplexity - V) < 1e-9 * V, "completion perplexity %.12g, want %d", g.completion_perplexity, V);
    CHECK(g.completion_tokens == ds.counts->n_tokens / 2, "scored %ld of %ld tokens", g.completion_tokens,
          ds.counts->n_tokens);
    free(lam);
    elbo_lda_free(m);
    elbo_dataset_free(&ds);
}

static void test_bad_input(void)
{
    elbo_lda_config c;
    elbo_error err;
    elbo_lda_config_default(&c);
    CHECK(elbo_lda_create(&c, 1, &err) == NULL && strstr(err.msg, "vocabulary"), "V = 0: %s", err.msg);
    c.n_vocab = 10;
    c.kappa = 0.4;
    CHECK(elbo_lda_create(&c, 1, &err) == NULL && strstr(err.msg, "kappa"), "kappa: %s", err.msg);
    c.kappa = 0.7;
    elbo_lda *m = elbo_lda_create(&c, 1, &err);
    float x[20] = {0};
    elbo_dataset dense;
    CHECK(elbo_dataset_from_float(2, 10, x, NULL, &dense, &err) == ELBO_OK, "dense");
    elbo_train_config tc;
    elbo_train_config_default(&tc);
    CHECK(elbo_model_train_epoch(elbo_lda_model(m), &tc, &dense, NULL, NULL, NULL, &err) == ELBO_ERR_ARG &&
              strstr(err.msg, "word counts"), "dense rows refused: %s", err.msg);
    float *lam = malloc(sizeof(float) * 200);
    for (int i = 0; i < 200; i++) lam[i] = 1.0f;
    lam[37] = -1.0f;
    CHECK(elbo_lda_set_lambda(m, lam, NULL, &err) == ELBO_ERR_ARG && strstr(err.msg, "lambda[3, 7]"), "lambda: %s",
          err.msg);
    elbo_dataset corpus;
    planted(5, 2, 1, &corpus);
    CHECK(elbo_dataset_check(&corpus, 20, &err) == ELBO_ERR_ARG && strstr(err.msg, "word counts"),
          "a dense model refuses a corpus: %s", err.msg);
    tc.beta = 2.0;
    CHECK(elbo_model_train_epoch(elbo_lda_model(m), &tc, &corpus, NULL, NULL, NULL, &err) == ELBO_ERR_ARG,
          "beta refused: %s", err.msg);
    free(lam);
    elbo_dataset_free(&dense);
    elbo_dataset_free(&corpus);
    elbo_lda_free(m);
}

int main(void)
{
    test_special();
    test_fixture();
    test_stationary();
    test_alpha_newton();
    test_planted();
    test_online_whole_corpus();
    test_determinism_resume();
    test_completion_uniform();
    test_bad_input();
    printf("fixture values compared: %d\n", n_checked);
    return check_summary("test_lda");
}
