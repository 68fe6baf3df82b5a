/* lda.c — topic models in the CLI: the builder for `elbo train --kind lda`
 * (the loop is train.c's, shared by every kind), and `elbo lda prepare`,
 * `train`, `topics`, `infer` and `eval`. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "cmds.h"
#include "elbo_lda.h"
#include "opts.h"
#include "train_opts.h"

/* err set to code and msg (the library's elbo_fail is internal). */
static elbo_status fail(elbo_error *err, elbo_status code, const char *msg)
{
    err->code = code;
    snprintf(err->msg, sizeof err->msg, "%.*s", (int)sizeof err->msg - 1, msg);
    return code;
}

/* ------------------------------------------------- elbo train --kind lda */

/* What the finished run needs: the model and the training corpus. */
typedef struct {
    elbo_lda *m;
    const elbo_dataset *train;
} lda_run;

static void lda_run_free(void *p)
{
    lda_run *r = p;
    elbo_lda_free(r->m);
    free(r);
}

static void lda_header(const train_opts *o, void *p, int n_train)
{
    const lda_run *r = p;
    const elbo_lda_config *c = elbo_lda_get_config(r->m);
    printf("elbo %s: LDA, %d topics over %d words, %s VI", elbo_version(), c->n_topics, c->n_vocab,
           c->method == ELBO_LDA_BATCH ? "batch" : "online");
    if (c->method == ELBO_LDA_ONLINE)
        printf(" (batch %d, tau0 %g, kappa %g)", o->tc.batch_size, c->tau0, c->kappa);
    printf(", alpha %g%s, eta %g, E-step %d iterations / tol %g, on %d documents (%ld words) from %s", c->alpha,
           c->estimate_alpha ? " (re-estimated)" : "", c->eta, c->estep_iters, c->estep_tol, n_train,
           r->train->counts->n_tokens, o->data);
}

/* The top words of every topic as JSON lines into json and as text into
 * print (either may be NULL). */
static int put_topics(const elbo_lda *m, const elbo_corpus *vocab, int top, FILE *json, FILE *print)
{
    const elbo_lda_config *c = elbo_lda_get_config(m);
    int *ids = malloc(sizeof(int) * (size_t)top);
    float *lam = malloc(sizeof(float) * (size_t)c->n_topics * c->n_vocab);
    if (!ids || !lam) {
        free(ids);
        free(lam);
        fprintf(stderr, "elbo: out of memory\n");
        return 1;
    }
    double *share = malloc(sizeof(double) * (size_t)c->n_topics);
    if (!share) {
        free(ids);
        free(lam);
        fprintf(stderr, "elbo: out of memory\n");
        return 1;
    }
    elbo_lda_get_lambda(m, lam, NULL);
    elbo_lda_topic_share(m, share);
    for (int k = 0; k < c->n_topics; k++) {
        elbo_lda_top_words(m, k, top, ids);
        double tot = 0.0;
        for (int v = 0; v < c->n_vocab; v++) tot += lam[(size_t)k * c->n_vocab + v];
        if (print) fprintf(print, "topic %2d (%.1f%%):", k, 100.0 * share[k]);
        if (json) fprintf(json, "{\"topic\":%d,\"share\":%.6g,\"words\":[", k, share[k]);
        for (int i = 0; i < top && ids[i] >= 0; i++) {
            char idbuf[24];
            snprintf(idbuf, sizeof idbuf, "%d", ids[i]);
            const char *w = vocab && vocab->vocab ? vocab->vocab[ids[i]] : idbuf;
            if (print) fprintf(print, " %s", w);
            if (json) {
                fprintf(json, "%s", i ? "," : "");
                json_string_to(json, w);
            }
        }
        if (print) fputc('\n', print);
        if (json) {
            fprintf(json, "],\"weights\":[");
            for (int i = 0; i < top && ids[i] >= 0; i++)
                fprintf(json, "%s%.6g", i ? "," : "", lam[(size_t)k * c->n_vocab + ids[i]] / tot);
            fprintf(json, "]}\n");
        }
    }
    free(ids);
    free(lam);
    free(share);
    return 0;
}

/* put_topics into the file path (atomically), and as text to print. */
static int write_topics(const char *S, const char *path, const elbo_lda *m, const elbo_corpus *vocab, int top,
                        FILE *print)
{
    text_out t;
    if (text_open(S, path, &t)) return 1;
    if (put_topics(m, vocab, top, t.f, print)) {
        fclose(t.f);
        remove(t.tmp);
        return 1;
    }
    return text_commit(S, path, &t);
}

/* theta [n, K] of ds into path (.npy). */
static int write_theta(const char *S, const char *path, elbo_lda *m, const elbo_dataset *ds)
{
    int K = elbo_lda_get_config(m)->n_topics;
    float *theta = malloc(sizeof(float) * (size_t)ds->n * K);
    elbo_error err;
    int64_t shape[2] = {ds->n, K};
    elbo_status st = !theta ? fail(&err, ELBO_ERR_NOMEM, "out of memory")
                            : elbo_lda_infer(m, ds, theta, NULL, &err);
    if (!st) st = elbo_write_npy(path, theta, ELBO_NPY_F32, 2, shape, &err);
    free(theta);
    if (st) fprintf(stderr, "elbo %s: %s\n", S, err.msg);
    return st != ELBO_OK;
}

/* lambda [K, V] and alpha [K] as .npy. */
static int write_lambda(const char *S, const char *dir, const elbo_lda *m)
{
    const elbo_lda_config *c = elbo_lda_get_config(m);
    float *lam = malloc(sizeof(float) * (size_t)c->n_topics * c->n_vocab);
    double *alpha = malloc(sizeof(double) * (size_t)c->n_topics);
    elbo_error err;
    char path[4200];
    elbo_status st = !lam || !alpha ? fail(&err, ELBO_ERR_NOMEM, "out of memory") : ELBO_OK;
    if (!st) {
        elbo_lda_get_lambda(m, lam, alpha);
        int64_t shape[2] = {c->n_topics, c->n_vocab};
        snprintf(path, sizeof path, "%s/lambda.npy", dir);
        st = elbo_write_npy(path, lam, ELBO_NPY_F32, 2, shape, &err);
        snprintf(path, sizeof path, "%s/alpha.npy", dir);
        if (!st) st = elbo_write_npy(path, alpha, ELBO_NPY_F64, 1, shape, &err);
    }
    free(lam);
    free(alpha);
    if (st) fprintf(stderr, "elbo %s: %s\n", S, err.msg);
    return st != ELBO_OK;
}

/* A finished run: its topics, lambda, theta, the vocabulary and the
 * held-out figures. */
static int lda_finish(const train_opts *o, void *p, const elbo_dataset *shown)
{
    lda_run *r = p;
    char path[4200];
    const elbo_corpus *voc = r->train->counts;
    elbo_error err;
    if (voc->vocab) {
        snprintf(path, sizeof path, "%s/vocab.txt", o->out);
        if (elbo_corpus_write_vocab(voc, path, &err) != ELBO_OK) {
            fprintf(stderr, "elbo train: %s\n", err.msg);
            return -1;
        }
    }
    snprintf(path, sizeof path, "%s/topics.json", o->out);
    if (write_topics("train", path, r->m, voc, 10, o->quiet ? NULL : stdout)) return -1;
    if (write_lambda("train", o->out, r->m)) return -1;
    snprintf(path, sizeof path, "%s/theta_train.npy", o->out);
    if (write_theta("train", path, r->m, r->train)) return -1;
    if (!o->no_test) {
        snprintf(path, sizeof path, "%s/theta_test.npy", o->out);
        if (write_theta("train", path, r->m, shown)) return -1;
        elbo_lda_metrics g;
        if (elbo_lda_evaluate(r->m, shown, &g, &err) != ELBO_OK) {
            fprintf(stderr, "elbo train: %s\n", err.msg);
            return -1;
        }
        if (!o->quiet)
            printf("test set (%ld documents, %ld words): perplexity %.2f (documents only %.2f), document "
                   "completion %.2f\n",
                   g.docs, g.tokens, g.perplexity, g.perplexity_docs, g.completion_perplexity);
    }
    if (!o->quiet)
        printf("wrote %s/{model,optim}.safetensors, metrics.jsonl, topics.json, lambda.npy, alpha.npy, "
               "theta_train.npy%s%s\n",
               o->out, o->no_test ? "" : ", theta_test.npy", voc->vocab ? ", vocab.txt" : "");
    return 0;
}

int build_lda(train_opts *o, const elbo_dataset *train, train_model *tm)
{
    elbo_error err;
    lda_run *r = calloc(1, sizeof *r);
    if (!r) {
        fprintf(stderr, "elbo train: out of memory\n");
        return -1;
    }
    r->train = train;
    if (train->dtype != ELBO_DTYPE_COUNTS) {
        fprintf(stderr, "elbo train: %s: a topic model trains on word counts (an .ldac corpus: see elbo lda "
                        "prepare), not dense rows\n", o->data);
        free(r);
        return -1;
    }
    if (o->lcfg.method == ELBO_LDA_BATCH) o->tc.batch_size = train->n; /* a step is a pass */
    if (o->resume) {
        r->m = elbo_lda_load(o->out, &err);
    } else {
        elbo_lda_config c = o->lcfg;
        c.n_vocab = train->dim;
        c.threads = (int)o->threads;
        r->m = elbo_lda_create(&c, o->seed, &err);
    }
    if (!r->m) {
        fprintf(stderr, "elbo train: %s\n", err.msg);
        free(r);
        return -1;
    }
    *tm = (train_model){elbo_lda_model(r->m), r, lda_run_free, lda_header, lda_finish};
    return 0;
}

/* ------------------------------------------------------- the subcommands */

enum { L_INPUT = 300, L_OUT, L_CHUNK, L_MIN_DF, L_MAX_DF, L_STOP, L_MIN_LETTERS, L_TEST, L_SEED, L_MODEL,
       L_TOP, L_JSON, L_VOCAB, L_DATA, L_LAMBDA, L_ALPHA, L_ETA, L_ITERS, L_TOL, L_THREADS, L_TRAIN_DATA };

typedef struct {
    const char *input, *out, *model, *vocab, *data, *lambda, *train_data;
    elbo_text_opts t;
    long top, iters, threads;
    double alpha, eta, tol;
    int json;
} lda_opts;

static const struct option LOPTS[] = {
    {"input", required_argument, 0, L_INPUT},       {"out", required_argument, 0, L_OUT},
    {"chunk", required_argument, 0, L_CHUNK},       {"min-df", required_argument, 0, L_MIN_DF},
    {"max-df", required_argument, 0, L_MAX_DF},     {"stop-words", required_argument, 0, L_STOP},
    {"min-letters", required_argument, 0, L_MIN_LETTERS}, {"test-fraction", required_argument, 0, L_TEST},
    {"seed", required_argument, 0, L_SEED},         {"model", required_argument, 0, L_MODEL},
    {"top", required_argument, 0, L_TOP},           {"json", no_argument, 0, L_JSON},
    {"vocab", required_argument, 0, L_VOCAB},       {"data", required_argument, 0, L_DATA},
    {"lambda", required_argument, 0, L_LAMBDA},     {"alpha", required_argument, 0, L_ALPHA},
    {"eta", required_argument, 0, L_ETA},           {"estep-iters", required_argument, 0, L_ITERS},
    {"estep-tol", required_argument, 0, L_TOL},     {"threads", required_argument, 0, L_THREADS},
    {"train-data", required_argument, 0, L_TRAIN_DATA}, {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0}};

static void lda_help(void)
{
    printf("usage: elbo lda <prepare|train|topics|infer|eval> [options]\n"
           "\n"
           "Topic models: latent Dirichlet allocation by online (stochastic) or batch variational\n"
           "inference, as scikit-learn's LatentDirichletAllocation and gensim's LdaModel fit it.\n"
           "\n"
           "  prepare  plain text to lda-c: --input DIR (its .txt files, one document each) or FILE (one\n"
           "           document per line), --out DIR; writes train.ldac, test.ldac, vocab.txt,\n"
           "           train.docs.txt, test.docs.txt (each row's source) and prepare.json\n"
           "      --chunk N          cut documents at sentence ends into pseudo-documents of >= N words\n"
           "                         (default 0: no chunking)\n"
           "      --min-df X         drop words in fewer training documents: >= 1 a count, < 1 a\n"
           "                         fraction (default 5)\n"
           "      --max-df X         drop words in more: <= 1 a fraction, > 1 a count (default 0.5)\n"
           "      --stop-words S     english (scikit-learn's list, default), none, or a file of words\n"
           "      --min-letters N    the shortest word (default 3)\n"
           "      --test-fraction F  held-out documents (default 0.1), drawn by --seed (default 1)\n"
           "  train    elbo train --kind lda (see 'elbo train --help'): --data train.ldac [--test\n"
           "           test.ldac] [--vocab vocab.txt] --topics K --epochs PASSES --method online|batch\n"
           "           --batch B --tau0 T --kappa K --alpha A --eta E --estimate-alpha --estep-iters N\n"
           "           --estep-tol X --threads N --out DIR; checkpoints and --resume as every model\n"
           "  topics   --model DIR [--top N (10)] [--json]: the top words of every topic\n"
           "  infer    --model DIR --input PATH [--out theta.npy]: topic proportions E[theta] [n, K]\n"
           "           of new documents: an .ldac file over the model's vocabulary, or plain text (a\n"
           "           folder of .txt files or one document per line), tokenized as prepare does\n"
           "  eval     --model DIR | --lambda L.npy ([K, V], with --alpha A --eta E, default 1/K), and\n"
           "           --data test.ldac [--train-data train.ldac] [--json]: the held-out bound and\n"
           "           perplexities (with and without the global term), document completion and,\n"
           "           with --train-data, UMass coherence of the top 10 words\n"
           "      --estep-iters N --estep-tol X  the E-step (default: the model's, or 100 and 1e-3)\n"
           "      --threads N                    workers (default: all cores)\n");
}

static int parse(const char *S, int argc, char **argv, lda_opts *o)
{
    memset(o, 0, sizeof *o);
    elbo_text_opts_default(&o->t);
    o->t.min_df = 5;
    o->t.max_df = 0.5;
    o->t.test_fraction = 0.1;
    o->top = 10;
    o->tol = -1; /* not given */
    opterr = 0;
    optind = 1;
    int c;
    long l;
    while ((c = getopt_long(argc, argv, ":h", LOPTS, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'h': lda_help(); return 0;
        case L_INPUT: o->input = optarg; break;
        case L_OUT: o->out = optarg; break;
        case L_CHUNK: bad = arg_int(S, "--chunk", optarg, 0, 1L << 30, &l); o->t.chunk_words = (int)l; break;
        case L_MIN_DF: bad = arg_double(S, "--min-df", optarg, 0, 1e12, 0, &o->t.min_df); break;
        case L_MAX_DF: bad = arg_double(S, "--max-df", optarg, 0, 1e12, 1, &o->t.max_df); break;
        case L_STOP: o->t.stop_words = optarg; break;
        case L_MIN_LETTERS: bad = arg_int(S, "--min-letters", optarg, 1, 100, &l); o->t.min_letters = (int)l; break;
        case L_TEST: bad = arg_double(S, "--test-fraction", optarg, 0, 0.99, 0, &o->t.test_fraction); break;
        case L_SEED: bad = arg_u64(S, "--seed", optarg, &o->t.seed); break;
        case L_MODEL: o->model = optarg; break;
        case L_TOP: bad = arg_int(S, "--top", optarg, 1, 1000, &o->top); break;
        case L_JSON: o->json = 1; break;
        case L_VOCAB: o->vocab = optarg; break;
        case L_DATA: o->data = optarg; break;
        case L_LAMBDA: o->lambda = optarg; break;
        case L_ALPHA: bad = arg_double(S, "--alpha", optarg, 0, 1e6, 1, &o->alpha); break;
        case L_ETA: bad = arg_double(S, "--eta", optarg, 0, 1e6, 1, &o->eta); break;
        case L_ITERS: bad = arg_int(S, "--estep-iters", optarg, 1, 100000, &o->iters); break;
        case L_TOL: bad = arg_double(S, "--estep-tol", optarg, 0, 1, 0, &o->tol); break;
        case L_THREADS: bad = arg_int(S, "--threads", optarg, 1, 64, &o->threads); break;
        case L_TRAIN_DATA: o->train_data = optarg; break;
        default: return option_error(S, c, argv, LOPTS);
        }
        if (bad) return 2;
    }
    if (optind < argc) return stray_argument(S, argv[optind]);
    return -1;
}

/* The names file: one line per document. */
static int write_names(const char *S, const char *path, char *const *names, int n)
{
    text_out t;
    if (text_open(S, path, &t)) return 1;
    for (int i = 0; i < n; i++) fprintf(t.f, "%s\n", names[i]);
    return text_commit(S, path, &t);
}

static int lda_prepare(int argc, char **argv)
{
    const char *S = "lda prepare";
    lda_opts o;
    int rc = parse(S, argc, argv, &o);
    if (rc != -1) return rc;
    if (!o.input || !o.out) return usage_error(S, "--input PATH and --out DIR are required");
    elbo_prepared p;
    elbo_error err;
    if (elbo_text_prepare(o.input, &o.t, &p, &err) != ELBO_OK) {
        fprintf(stderr, "elbo %s: %s\n", S, err.msg);
        return 1;
    }
    char path[4200];
    mkdir(o.out, 0777);
    struct stat sb;
    rc = stat(o.out, &sb) != 0 || !S_ISDIR(sb.st_mode);
    if (rc) fprintf(stderr, "elbo %s: %s: cannot create the folder\n", S, o.out);
    const char *files[] = {"train.ldac", "test.ldac", "vocab.txt"};
    for (int i = 0; !rc && i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", o.out, files[i]);
        elbo_status st = i == 0   ? elbo_corpus_write_ldac(&p.train, path, &err)
                         : i == 1 ? (p.test.n_docs > 0 ? elbo_corpus_write_ldac(&p.test, path, &err) : ELBO_OK)
                                  : elbo_corpus_write_vocab(&p.train, path, &err);
        if (st) {
            fprintf(stderr, "elbo %s: %s\n", S, err.msg);
            rc = 1;
        }
    }
    snprintf(path, sizeof path, "%s/train.docs.txt", o.out);
    if (!rc) rc = write_names(S, path, p.train_names, p.train.n_docs);
    snprintf(path, sizeof path, "%s/test.docs.txt", o.out);
    if (!rc && p.test.n_docs > 0) rc = write_names(S, path, p.test_names, p.test.n_docs);
    text_out t;
    snprintf(path, sizeof path, "%s/prepare.json", o.out);
    if (!rc && !(rc = text_open(S, path, &t))) {
        fprintf(t.f, "{\"input\":");
        json_string_to(t.f, o.input);
        fprintf(t.f, ",\"stop_words\":");
        json_string_to(t.f, o.t.stop_words);
        fprintf(t.f,
                ",\"min_letters\":%d,\"min_df\":%g,\"max_df\":%g,\"chunk_words\":%d,\"test_fraction\":%g,"
                "\"seed\":%llu,\"sources\":%d,\"pseudo_documents\":%d,\"words_seen\":%d,\"vocabulary\":%d,"
                "\"train_documents\":%d,\"train_tokens\":%ld,\"test_documents\":%d,\"test_tokens\":%ld,"
                "\"dropped_empty_train\":%d,\"dropped_empty_test\":%d}\n",
                o.t.min_letters, o.t.min_df, o.t.max_df, o.t.chunk_words, o.t.test_fraction,
                (unsigned long long)o.t.seed, p.n_sources, p.n_pseudo, p.words_seen, p.train.n_vocab,
                p.train.n_docs, p.train.n_tokens, p.test.n_docs, p.test.n_tokens, p.dropped_train, p.dropped_test);
        rc = text_commit(S, path, &t);
    }
    if (!rc)
        printf("%d sources -> %d documents; vocabulary %d words (of %d seen; min_df %g, max_df %g); train %d "
               "documents (%ld words), test %d (%ld words); %d + %d left empty and dropped\nwrote %s/{train,test}.ldac, "
               "vocab.txt, {train,test}.docs.txt, prepare.json\n",
               p.n_sources, p.n_pseudo, p.train.n_vocab, p.words_seen, o.t.min_df, o.t.max_df, p.train.n_docs,
               p.train.n_tokens, p.test.n_docs, p.test.n_tokens, p.dropped_train, p.dropped_test, o.out);
    elbo_prepared_free(&p);
    return rc;
}

/* The model in o->model, its E-step and threads from o; prints errors. */
static elbo_lda *load_lda(const char *S, const lda_opts *o)
{
    elbo_error err;
    elbo_lda *m = elbo_lda_load(o->model, &err);
    if (!m) {
        fprintf(stderr, "elbo %s: %s\n", S, err.msg);
        return NULL;
    }
    if (o->threads && elbo_model_set_threads(elbo_lda_model(m), (int)o->threads, &err) != ELBO_OK) {
        fprintf(stderr, "elbo %s: %s\n", S, err.msg);
        elbo_lda_free(m);
        return NULL;
    }
    elbo_lda_set_estep(m, o->iters > 0 ? (int)o->iters : 0, o->tol);
    return m;
}

/* The model's vocabulary: --vocab, else vocab.txt in the model's folder. */
static int load_vocab(const char *S, const lda_opts *o, const elbo_lda *m, elbo_corpus *voc)
{
    char path[4200];
    const char *p = o->vocab;
    if (!p) {
        snprintf(path, sizeof path, "%s/vocab.txt", o->model);
        p = path;
    }
    elbo_error err;
    if (elbo_corpus_load_vocab(p, voc, &err) != ELBO_OK) {
        fprintf(stderr, "elbo %s: %s\n", S, err.msg);
        return 1;
    }
    if (voc->n_vocab != elbo_lda_get_config(m)->n_vocab) {
        fprintf(stderr, "elbo %s: %s has %d words but the model %d\n", S, p, voc->n_vocab,
                elbo_lda_get_config(m)->n_vocab);
        elbo_corpus_free(voc);
        return 1;
    }
    return 0;
}

static int lda_topics(int argc, char **argv)
{
    const char *S = "lda topics";
    lda_opts o;
    int rc = parse(S, argc, argv, &o);
    if (rc != -1) return rc;
    if (!o.model) return usage_error(S, "--model DIR is required");
    elbo_lda *m = load_lda(S, &o);
    elbo_corpus voc;
    if (!m || load_vocab(S, &o, m, &voc)) {
        elbo_lda_free(m);
        return 1;
    }
    rc = o.json ? put_topics(m, &voc, (int)o.top, stdout, NULL) : put_topics(m, &voc, (int)o.top, NULL, stdout);
    elbo_corpus_free(&voc);
    elbo_lda_free(m);
    return rc;
}

/* The documents of o->input: an .ldac file over the model's words, or
 * plain text tokenized against the vocabulary. names gets the text's
 * document names (NULL for .ldac). */
static int load_docs(const char *S, const char *input, const elbo_corpus *voc, elbo_dataset *ds,
                     elbo_prepared *names)
{
    elbo_error err;
    size_t n = strlen(input);
    elbo_status st;
    memset(names, 0, sizeof *names);
    if ((n > 5 && !strcmp(input + n - 5, ".ldac")) || (n > 8 && !strcmp(input + n - 8, ".ldac.gz"))) {
        st = elbo_dataset_load_ldac(input, NULL, ds, &err);
        if (!st && ds->dim > voc->n_vocab) {
            char msg[sizeof err.msg];
            snprintf(msg, sizeof msg, "%s: word id %d is outside the model's %d words", input, ds->dim - 1,
                     voc->n_vocab);
            st = fail(&err, ELBO_ERR_ARG, msg);
        }
    } else {
        st = elbo_text_to_corpus(input, voc, 3, names, &err);
        if (!st) st = elbo_dataset_from_corpus(&names->train, ds, &err);
    }
    if (st) {
        fprintf(stderr, "elbo %s: %s\n", S, err.msg);
        elbo_prepared_free(names);
        elbo_dataset_free(ds);
    }
    return st != ELBO_OK;
}

static int lda_infer(int argc, char **argv)
{
    const char *S = "lda infer";
    lda_opts o;
    int rc = parse(S, argc, argv, &o);
    if (rc != -1) return rc;
    if (!o.model || !o.input) return usage_error(S, "--model DIR and --input PATH are required");
    const char *out = o.out ? o.out : "theta.npy";
    elbo_lda *m = load_lda(S, &o);
    elbo_corpus voc = {0};
    elbo_dataset ds = {0};
    elbo_prepared names;
    rc = !m || load_vocab(S, &o, m, &voc) || load_docs(S, o.input, &voc, &ds, &names);
    if (!rc) rc = write_theta(S, out, m, &ds);
    if (!rc && names.train_names) { /* which document each row is */
        char path[4200];
        snprintf(path, sizeof path, "%s.docs.txt", out);
        rc = write_names(S, path, names.train_names, ds.n);
        if (!rc && names.dropped_train)
            fprintf(stderr, "elbo %s: note: %d documents have no word of the vocabulary and get no row (see %s)\n",
                    S, names.dropped_train, path);
    }
    if (!rc) printf("wrote %s: E[theta] of %d documents over %d topics\n", out, ds.n, elbo_lda_get_config(m)->n_topics);
    elbo_prepared_free(&names);
    elbo_dataset_free(&ds);
    elbo_corpus_free(&voc);
    elbo_lda_free(m);
    return rc;
}

/* A model around a lambda from elsewhere (.npy [K, V]). */
static elbo_lda *lda_from_npy(const char *S, const lda_opts *o)
{
    elbo_dataset L = {0};
    elbo_error err;
    elbo_load_opts lo;
    elbo_load_opts_default(&lo);
    lo.format = "npy";
    if (elbo_dataset_load(o->lambda, &lo, &L, &err) != ELBO_OK || L.dtype != ELBO_DTYPE_F32) {
        fprintf(stderr, "elbo %s: %s\n", S, L.n ? "--lambda must hold float values [K, V]" : err.msg);
        elbo_dataset_free(&L);
        return NULL;
    }
    elbo_lda_config c;
    elbo_lda_config_default(&c);
    c.n_topics = L.n;
    c.n_vocab = L.dim;
    c.alpha = o->alpha;
    c.eta = o->eta;
    c.threads = (int)o->threads;
    if (o->iters > 0) c.estep_iters = (int)o->iters;
    if (o->tol >= 0) c.estep_tol = o->tol;
    elbo_lda *m = elbo_lda_create(&c, 1, &err);
    if (m && elbo_lda_set_lambda(m, L.f32, NULL, &err) != ELBO_OK) {
        elbo_lda_free(m);
        m = NULL;
    }
    if (!m) fprintf(stderr, "elbo %s: %s: %s\n", S, o->lambda, err.msg);
    elbo_dataset_free(&L);
    return m;
}

static int lda_eval(int argc, char **argv)
{
    const char *S = "lda eval";
    lda_opts o;
    int rc = parse(S, argc, argv, &o);
    if (rc != -1) return rc;
    if (!o.data || !o.model == !o.lambda) return usage_error(S, "give --data test.ldac and one of --model DIR, --lambda L.npy");
    elbo_lda *m = o.model ? load_lda(S, &o) : lda_from_npy(S, &o);
    if (!m) return 1;
    elbo_dataset ds = {0}, tr = {0};
    elbo_error err;
    elbo_lda_metrics g;
    elbo_status st = elbo_dataset_load_ldac(o.data, NULL, &ds, &err);
    if (!st) st = elbo_lda_evaluate(m, &ds, &g, &err);
    if (!st && o.train_data) st = elbo_dataset_load_ldac(o.train_data, NULL, &tr, &err);
    double coh = o.train_data && !st ? elbo_lda_coherence(m, &tr, 10, NULL) : NAN;
    if (st) {
        fprintf(stderr, "elbo %s: %s\n", S, err.msg);
    } else if (o.json) {
        const char *keys[] = {"bound_docs", "global_term", "bound_per_word_docs", "bound_per_word", "perplexity_docs",
                              "perplexity", "completion_perplexity", "coherence_umass"};
        double vals[] = {g.bound_docs, g.global_term, g.bound_docs / g.tokens, (g.bound_docs + g.global_term) / g.tokens,
                         g.perplexity_docs, g.perplexity, g.completion_perplexity, coh};
        printf("{\"documents\":%ld,\"tokens\":%ld,\"completion_tokens\":%ld", g.docs, g.tokens, g.completion_tokens);
        for (int i = 0; i < (o.train_data ? 8 : 7); i++) /* null where a figure is not finite */
            if (isfinite(vals[i])) printf(",\"%s\":%.6f", keys[i], vals[i]);
            else printf(",\"%s\":null", keys[i]);
        printf("}\n");
    } else {
        printf("%ld documents, %ld words\n", g.docs, g.tokens);
        printf("bound per word        %.4f nats (documents only %.4f; global term %.1f nats in all)\n",
               (g.bound_docs + g.global_term) / g.tokens, g.bound_docs / g.tokens, g.global_term);
        printf("perplexity            %.2f (documents only %.2f)\n", g.perplexity, g.perplexity_docs);
        printf("document completion   %.2f (%ld held-out words)\n", g.completion_perplexity, g.completion_tokens);
        if (o.train_data) printf("UMass coherence       %.4f (top 10 words, mean over topics)\n", coh);
    }
    elbo_dataset_free(&ds);
    elbo_dataset_free(&tr);
    elbo_lda_free(m);
    return st != ELBO_OK;
}

int cmd_lda(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        lda_help();
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "prepare")) return lda_prepare(argc - 1, argv + 1);
    if (!strcmp(sub, "topics")) return lda_topics(argc - 1, argv + 1);
    if (!strcmp(sub, "infer")) return lda_infer(argc - 1, argv + 1);
    if (!strcmp(sub, "eval")) return lda_eval(argc - 1, argv + 1);
    if (!strcmp(sub, "train")) { /* elbo train --kind lda ... */
        char **av = malloc(sizeof(char *) * (size_t)(argc + 2));
        if (!av) return 1;
        av[0] = "train";
        av[1] = "--kind";
        av[2] = "lda";
        for (int i = 2; i < argc; i++) av[i + 1] = argv[i];
        av[argc + 1] = NULL;
        int rc = cmd_train(argc + 1, av);
        free(av);
        return rc;
    }
    fprintf(stderr, "elbo lda: unknown subcommand '%s' (prepare, train, topics, infer, eval)\n", sub);
    return 2;
}
