/* elbo_lda.h — topic models: corpora (Blei's lda-c format, read with every
 * line checked, and the plain-text pipeline of elbo lda prepare) and
 * latent Dirichlet allocation by stochastic or batch variational inference.
 *
 *   elbo_corpus c;
 *   if (elbo_corpus_load_ldac("docs.ldac", "vocab.txt", &c, &err) != ELBO_OK) { puts(err.msg); ... }
 *   for (int d = 0; d < c.n_docs; d++)
 *       for (int j = c.doc_ptr[d]; j < c.doc_ptr[d + 1]; j++) use(c.word[j], c.count[j]);
 *   elbo_corpus_free(&c);
 */
#ifndef ELBO_LDA_H
#define ELBO_LDA_H

#include "elbo.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Documents as sparse word counts (CSR): document d's distinct words are
 *  word[doc_ptr[d] .. doc_ptr[d+1]) with their counts, in file order. Owned
 *  by the caller: release with elbo_corpus_free. */
typedef struct elbo_corpus {
    int n_docs;      /* documents */
    int n_vocab;     /* vocabulary size V: word ids are in [0, V) */
    long nnz;        /* (document, word) pairs */
    long n_tokens;   /* sum of all counts */
    int *doc_ptr;    /* [n_docs + 1] */
    int *word;       /* [nnz] */
    int *count;      /* [nnz], each >= 1 */
    char **vocab;    /* [n_vocab] the words (UTF-8), or NULL without a vocabulary file */
    char *vocab_buf; /* internal: the words' storage */
} elbo_corpus;

/** Reads lda-c ("M id:count id:count ..." per line, M the number of pairs,
 *  ids 0-based) from path, and the vocabulary (one word per line, UTF-8)
 *  from vocab_path (NULL: V = 1 + the largest id). Errors name the file,
 *  the line and the reason: a count of pairs that is not M, an id >= V or
 *  negative, a count that is not a whole number >= 1, an id twice in one
 *  document, an empty document, an empty vocabulary, a word that is not
 *  valid UTF-8, an empty corpus. Raw or gzip (.gz) files. */
ELBO_API elbo_status elbo_corpus_load_ldac(const char *path, const char *vocab_path, elbo_corpus *out,
                                           elbo_error *err);
/** Frees c's buffers and zeroes it; safe on a zeroed struct. */
ELBO_API void elbo_corpus_free(elbo_corpus *c);
/** Reads a vocabulary file alone (one word per line, UTF-8) into out
 *  (n_vocab and vocab set, no documents). */
ELBO_API elbo_status elbo_corpus_load_vocab(const char *path, elbo_corpus *out, elbo_error *err);
/** A data set (ELBO_DTYPE_COUNTS) that takes over c's buffers (c is
 *  zeroed, also on failure, when c is freed): what models train on. */
ELBO_API elbo_status elbo_dataset_from_corpus(elbo_corpus *c, elbo_dataset *out, elbo_error *err);
/** elbo_corpus_load_ldac into a data set; vocab_path NULL: vocab.txt in
 *  the corpus's folder when it exists, else none. elbo_dataset_load reads
 *  .ldac(.gz) files so. */
ELBO_API elbo_status elbo_dataset_load_ldac(const char *path, const char *vocab_path, elbo_dataset *out,
                                            elbo_error *err);


/* ------------------------------------------------------------ plain text */

/** How plain text becomes a corpus (elbo_text_prepare). */
typedef struct {
    const char *stop_words; /* "english" (scikit-learn's 318 words, the default), "none",
                               or a file of words (tokenized like the text) */
    int min_letters;        /* the shortest word kept (default 3) */
    double min_df;          /* words in fewer training documents are dropped: >= 1 a
                               count, < 1 a fraction of them (default 1) */
    double max_df;          /* words in more are dropped: <= 1 a fraction (default 1.0),
                               > 1 a count */
    int chunk_words;        /* > 0: each source is cut at sentence ends into pseudo-
                               documents of at least this many words (a short tail joins
                               the chunk before it); 0: one document per source */
    double test_fraction;   /* held-out documents, drawn by seed (default 0: none) */
    uint64_t seed;
} elbo_text_opts;

/** A prepared corpus: train holds the vocabulary (sorted), test shares its
 *  ids. Document names are "SOURCE" or "SOURCE#k" (chunk k from 1): a
 *  side's kept documents first, then the dropped ones (empty once the
 *  vocabulary was pruned). Release with elbo_prepared_free. */
typedef struct {
    elbo_corpus train, test;
    char **train_names, **test_names;
    int n_train_names, n_test_names; /* kept + dropped of each side */
    int dropped_train, dropped_test; /* documents left empty */
    int n_sources, n_pseudo;         /* sources read, pseudo-documents made */
    long tokens_in;                  /* words kept by the tokenizer, stop words out */
    int words_seen;                  /* distinct words before pruning */
} elbo_prepared;

ELBO_API void elbo_text_opts_default(elbo_text_opts *o);
/** Reads input, a folder of .txt files (one source each, by sorted name)
 *  or one file of one source per line, all UTF-8. Words are runs of
 *  letters, ASCII-folded (accents dropped: "Café" is "cafe") and
 *  lowercased; anything else separates them (letters with no ASCII
 *  fold, such as Greek, too). Then stop words, chunks, the split, and
 *  the vocabulary by training-set document frequency. Errors name the
 *  file, line and byte (invalid UTF-8), or say what is empty. */
ELBO_API elbo_status elbo_text_prepare(const char *input, const elbo_text_opts *o, elbo_prepared *out,
                                       elbo_error *err);
ELBO_API void elbo_prepared_free(elbo_prepared *p);
/** New documents in plain text (a folder of .txt files or one document per
 *  line, tokenized as elbo_text_prepare does, without stop words or
 *  chunks) over the words of vocab: into out->train (ids of vocab; other
 *  words dropped) with out->train_names; documents with no word of the
 *  vocabulary are dropped (out->dropped_train, their names last). */
ELBO_API elbo_status elbo_text_to_corpus(const char *input, const elbo_corpus *vocab, int min_letters,
                                         elbo_prepared *out, elbo_error *err);
/** Writes c as lda-c (ids ascending within a line), and its vocabulary one
 *  word per line, each through a temporary file renamed at the end. */
ELBO_API elbo_status elbo_corpus_write_ldac(const elbo_corpus *c, const char *path, elbo_error *err);
ELBO_API elbo_status elbo_corpus_write_vocab(const elbo_corpus *c, const char *path, elbo_error *err);

/* ------------------------------------------------------------ the model */

/** Latent Dirichlet allocation fitted by variational inference (Blei, Ng
 *  and Jordan 2003), online (stochastic VI: Hoffman, Blei and Bach 2010;
 *  Hoffman et al. 2013) or in batch passes, as scikit-learn's
 *  LatentDirichletAllocation and gensim's LdaModel do. The global
 *  variational parameter is lambda [K, V] (q(beta_k) = Dir(lambda_k));
 *  each document d has q(theta_d) = Dir(gamma_d) and per-word topic
 *  responsibilities phi, fitted by the local E-step. It trains through the
 *  engine (elbo_lda_model): one step is the E-step over a minibatch of
 *  documents (threads over documents) and the update
 *  lambda <- (1 - rho) lambda + rho (eta + D/|B| sstats),
 *  rho = (tau0 + t)^-kappa (online), or lambda <- eta + sstats over the
 *  whole corpus (batch). No gradient and no optimizer state.
 *
 *  Its terms, in nats per document (the engine's means): "loss", the
 *  negative per-document bound (without the global term over beta):
 *  "recon", the word part -sum_w n_w log sum_k exp(E[log theta_k] +
 *  E[log beta_kw]), plus "kl", KL(q(theta_d) || p(theta_d | alpha)); and
 *  "tokens", the words per document (loss / tokens is nats per word). */
typedef struct elbo_lda elbo_lda;

typedef enum { ELBO_LDA_ONLINE = 0, ELBO_LDA_BATCH = 1 } elbo_lda_method;

typedef struct {
    int n_topics;          /* K (default 20) */
    int n_vocab;           /* V: the corpus's vocabulary size (required) */
    double alpha;          /* symmetric Dirichlet prior on theta; 0: 1/K (default) */
    double eta;            /* symmetric Dirichlet prior on beta; 0: 1/K (default) */
    int estimate_alpha;    /* 1 (default): re-estimate an asymmetric alpha by a Newton
                              step per update (Minka's, as gensim's alpha='auto'); 0: fixed */
    elbo_lda_method method;/* ELBO_LDA_ONLINE (default: minibatches) or ELBO_LDA_BATCH (passes) */
    double tau0, kappa;    /* online step rho_t = (tau0 + t)^-kappa; defaults 4 and 0.7 */
    int estep_iters;       /* E-step iterations at most per document (default 100) */
    double estep_tol;      /* E-step stop: mean |change of gamma| below this (1e-3) */
    int max_batch;         /* documents per step at most (default 1 << 30) */
    int threads;           /* workers over documents (0: all cores) */
} elbo_lda_config;

/** Held-out figures of elbo_lda_evaluate. The E-step runs on the test
 *  documents with lambda fixed (gamma from 1, as scikit-learn's transform). */
typedef struct {
    long docs, tokens;          /* test documents and their words */
    double bound_docs;          /* the documents' bound (sum over documents, nats) */
    double global_term;         /* -KL(q(beta) || p(beta)), over the whole model */
    double perplexity_docs;     /* exp(-bound_docs / tokens) */
    double perplexity;          /* exp(-(bound_docs + global_term) / tokens): scikit-learn's
                                   LatentDirichletAllocation.perplexity */
    double completion_perplexity; /* Hoffman's document completion: theta from every other
                                   token (1st, 3rd, ...) of a document, the rest scored under
                                   E[theta] and E[beta]; exp(-score / scored tokens) */
    long completion_tokens;     /* the tokens scored */
} elbo_lda_metrics;

ELBO_API void elbo_lda_config_default(elbo_lda_config *c);
ELBO_API elbo_status elbo_lda_config_check(const elbo_lda_config *c, elbo_error *err);
/** A fresh model: lambda drawn from Gamma(100, 1/100), as scikit-learn and
 *  gensim start. NULL with err set on failure. */
ELBO_API elbo_lda *elbo_lda_create(const elbo_lda_config *c, uint64_t seed, elbo_error *err);
ELBO_API void elbo_lda_free(elbo_lda *m);
ELBO_API const elbo_lda_config *elbo_lda_get_config(const elbo_lda *m);
/** The E-step's limits for later inference and evaluation: iters > 0 and
 *  tol >= 0 replace the model's (others keep them). */
ELBO_API void elbo_lda_set_estep(elbo_lda *m, int iters, double tol);
/** The handle every model shares: training, checkpoints, threads. */
ELBO_API elbo_model *elbo_lda_model(elbo_lda *m);
/** Loads a checkpoint written by elbo_model_save: tensor "lambda" [K, V]
 *  and "alpha" [K], metadata model "lda", format elbo-lda-1. */
ELBO_API elbo_lda *elbo_lda_load(const char *path, elbo_error *err);
/** lambda [K, V] out (row k is topic k), and alpha [K]. */
ELBO_API void elbo_lda_get_lambda(const elbo_lda *m, float *lambda, double *alpha);
/** Replaces lambda [K, V] (each > 0) and, when not NULL, alpha [K]: to
 *  evaluate topics fitted elsewhere (scikit-learn's components_). */
ELBO_API elbo_status elbo_lda_set_lambda(elbo_lda *m, const float *lambda, const double *alpha,
                                         elbo_error *err);
/** Topic proportions E[theta_d] = gamma_d / sum gamma_d [n, K] for the
 *  documents of ds (ELBO_DTYPE_COUNTS, V words), lambda fixed; gamma_out
 *  [n, K] may be NULL. */
ELBO_API elbo_status elbo_lda_infer(elbo_lda *m, const elbo_dataset *ds, float *theta, float *gamma_out,
                                    elbo_error *err);
/** Held-out bound, perplexities and document completion on ds. */
ELBO_API elbo_status elbo_lda_evaluate(elbo_lda *m, const elbo_dataset *ds, elbo_lda_metrics *out,
                                       elbo_error *err);
/** The ids of topic k's top n words by lambda, largest first, into ids [n]. */
ELBO_API void elbo_lda_top_words(const elbo_lda *m, int k, int n, int *ids);
/** Each topic's share of the words the model has assigned: sum_w (lambda_kw
 *  - eta) over all topics' (the expected counts, exactly so after a batch
 *  pass), into share [K]. A topic with a share near 0 is unused: with alpha
 *  re-estimated the model may leave topics empty, and their top words are
 *  noise. */
ELBO_API void elbo_lda_topic_share(const elbo_lda *m, double *share);
/** UMass coherence (Mimno et al. 2011) of every topic's top n words on the
 *  documents of ds: the mean over word pairs (i < j, by rank) of
 *  log((D(w_i, w_j) + 1) / D(w_i)), D counting documents; per topic into
 *  per_topic [K] (may be NULL); returns the mean over topics. */
ELBO_API double elbo_lda_coherence(const elbo_lda *m, const elbo_dataset *ds, int n, double *per_topic);

#ifdef __cplusplus
}
#endif

#endif
