/* elbo_lda.h — corpora for topic models (the LDA issue's first part): a
 * bag-of-words corpus in Blei's lda-c format, read with every line
 * checked.
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
typedef struct {
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

#ifdef __cplusplus
}
#endif

#endif
