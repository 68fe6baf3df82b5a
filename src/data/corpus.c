/* corpus.c — elbo_corpus (elbo_lda.h): Blei's lda-c format and its
 * vocabulary file, every line checked. */
#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../util/common.h"
#include "dataset.h"
#include "elbo_lda.h"
#include "text.h"

void elbo_corpus_free(elbo_corpus *c)
{
    if (!c) return;
    free(c->doc_ptr);
    free(c->word);
    free(c->count);
    free(c->vocab);
    free(c->vocab_buf);
    memset(c, 0, sizeof *c);
}

/* The vocabulary: one word per line (trailing \r dropped), UTF-8, none empty. */
static elbo_status load_vocab(const char *path, elbo_corpus *c, elbo_error *err)
{
    size_t len;
    elbo_status st = elbo_read_text(path, &c->vocab_buf, &len, err);
    if (st) return st;
    char *p = c->vocab_buf;
    long n = 0, cap = 0;
    for (int line = 1; *p; line++) {
        char *eol = strchr(p, '\n'), *end = eol ? eol : p + strlen(p);
        if (end > p && end[-1] == '\r') end--;
        if (!eol && end == p) break; /* no newline after the last word */
        for (const unsigned char *q = (const unsigned char *)p; q < (const unsigned char *)end;) {
            int k = elbo_utf8_len(q);
            if (!k || q + k > (const unsigned char *)end)
                return elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d, byte %ld: not valid UTF-8", path, line,
                                 (long)((const char *)q - p) + 1);
            q += k;
        }
        if (end == p) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d: an empty word", path, line);
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            char **nv = cap <= INT_MAX ? realloc(c->vocab, sizeof(char *) * (size_t)cap) : NULL;
            if (!nv) return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory at line %d", path, line);
            c->vocab = nv;
        }
        *end = 0;
        c->vocab[n++] = p;
        p = eol ? eol + 1 : end;
    }
    if (n == 0) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: an empty vocabulary", path);
    c->n_vocab = (int)n;
    return ELBO_OK;
}

/* A non-negative decimal integer at *p (advanced past it); -1 when there
 * is none or it exceeds INT_MAX. */
static long read_uint(char **p)
{
    char *s = *p;
    if (*s < '0' || *s > '9') return -1;
    long v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (*s++ - '0');
        if (v > INT_MAX) return -1;
    }
    *p = s;
    return v;
}

static int is_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

/* Grows the (word, count) arrays to hold need pairs. */
static int grow(elbo_corpus *c, long *cap, long need)
{
    if (need <= *cap) return 0;
    long nc = *cap ? 2 * *cap : 4096;
    while (nc < need) nc *= 2;
    int *w = realloc(c->word, sizeof(int) * (size_t)nc), *k = w ? realloc(c->count, sizeof(int) * (size_t)nc) : NULL;
    if (w) c->word = w;
    if (k) c->count = k;
    if (!w || !k) return -1;
    *cap = nc;
    return 0;
}

/* One document line at p (its end e): "M id:count ..." appended. */
static elbo_status parse_doc(const char *path, int line, char *p, char *e, elbo_corpus *c, long *cap, int V,
                             elbo_error *err)
{
    while (p < e && is_blank(*p)) p++;
    long M = read_uint(&p);
    if (M < 0) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d: does not start with the number of terms M", path, line);
    if (M == 0) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d: an empty document (M = 0)", path, line);
    if (M > (e - p) / 4 + 1) /* " i:c" takes 4 bytes at least: no allocation for pairs the line cannot hold */
        return elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d: M = %ld, but the line holds at most %ld pairs", path, line,
                         M, (long)((e - p) / 4));
    if (grow(c, cap, c->nnz + M)) return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory at line %d", path, line);
    long start = c->nnz;
    for (long j = 0; j < M; j++) {
        if (p >= e || !is_blank(*p))
            return elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d: %ld id:count pairs, but M = %ld", path, line, j, M);
        while (p < e && is_blank(*p)) p++;
        if (p < e && *p == '-') return elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d, pair %ld: a negative id", path, line, j + 1);
        long id = read_uint(&p);
        if (id < 0 || p >= e || *p != ':')
            return elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d, pair %ld: not id:count (M = %ld)", path, line, j + 1, M);
        p++;
        if (p < e && *p == '-')
            return elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d, pair %ld: a negative count", path, line, j + 1);
        long n = read_uint(&p);
        if (n < 0 || (p < e && !is_blank(*p)))
            return elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d, pair %ld: the count is not a whole number", path, line, j + 1);
        if (n == 0) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d, pair %ld: a count of 0", path, line, j + 1);
        if (V > 0 && id >= V)
            return elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d, pair %ld: id %ld is outside the vocabulary of %d words",
                             path, line, j + 1, id, V);
        c->word[c->nnz] = (int)id;
        c->count[c->nnz++] = (int)n;
        if (c->n_tokens > LONG_MAX - n) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d: too many tokens", path, line);
        c->n_tokens += n;
    }
    while (p < e && is_blank(*p)) p++;
    if (p < e) return elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d: more than M = %ld pairs", path, line, M);
    for (long a = start; a < c->nnz; a++) /* an id twice: a quadratic check over the document's few terms */
        for (long b = start; b < a; b++)
            if (c->word[a] == c->word[b])
                return elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %d: id %d appears twice", path, line, c->word[a]);
    return ELBO_OK;
}

elbo_status elbo_corpus_load_ldac(const char *path, const char *vocab_path, elbo_corpus *out, elbo_error *err)
{
    memset(out, 0, sizeof *out);
    elbo_status st = vocab_path ? load_vocab(vocab_path, out, err) : ELBO_OK;
    char *text = NULL;
    size_t len;
    if (!st) st = elbo_read_text(path, &text, &len, err);
    long cap = 0, dcap = 0;
    int line = 1;
    for (char *p = text; !st && p && *p; line++) {
        char *eol = strchr(p, '\n'), *e = eol ? eol : p + strlen(p);
        char *q = p;
        while (q < e && is_blank(*q)) q++;
        if (q == e) { /* a blank line: only at the end */
            p = eol ? eol + 1 : e;
            continue;
        }
        if (out->n_docs + 1 >= dcap) {
            dcap = dcap ? 2 * dcap : 1024;
            int *nd = dcap < INT_MAX ? realloc(out->doc_ptr, sizeof(int) * (size_t)dcap) : NULL;
            if (!nd) {
                st = elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory at line %d", path, line);
                break;
            }
            out->doc_ptr = nd;
        }
        out->doc_ptr[out->n_docs] = (int)out->nnz;
        st = parse_doc(path, line, p, e, out, &cap, out->n_vocab, err);
        if (!st && out->nnz > INT_MAX) st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: too many terms", path);
        out->n_docs++;
        p = eol ? eol + 1 : e;
    }
    free(text);
    if (!st && out->n_docs == 0) st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: no documents", path);
    if (!st) {
        out->doc_ptr[out->n_docs] = (int)out->nnz;
        if (!vocab_path)
            for (long j = 0; j < out->nnz; j++)
                if (out->word[j] + 1 > out->n_vocab) out->n_vocab = out->word[j] + 1;
    }
    if (st) elbo_corpus_free(out);
    return st;
}

elbo_status elbo_dataset_from_corpus(elbo_corpus *c, elbo_dataset *out, elbo_error *err)
{
    memset(out, 0, sizeof *out);
    out->counts = malloc(sizeof *out->counts);
    if (!out->counts) {
        elbo_corpus_free(c);
        return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for a corpus");
    }
    *out->counts = *c;
    memset(c, 0, sizeof *c);
    out->n = out->counts->n_docs;
    out->dim = out->counts->n_vocab;
    out->dtype = ELBO_DTYPE_COUNTS;
    return ELBO_OK;
}

elbo_status elbo_dataset_load_ldac(const char *path, const char *vocab_path, elbo_dataset *out,
                                   elbo_error *err)
{
    char beside[4200];
    if (!vocab_path) { /* vocab.txt in the corpus's folder, when there is one */
        const char *slash = strrchr(path, '/');
        int dlen = slash ? (int)(slash - path + 1) : 0;
        snprintf(beside, sizeof beside, "%.*svocab.txt", dlen, path);
        FILE *f = fopen(beside, "rb");
        if (f) {
            fclose(f);
            vocab_path = beside;
        }
    }
    elbo_corpus c;
    elbo_status st = elbo_corpus_load_ldac(path, vocab_path, &c, err);
    return st ? st : elbo_dataset_from_corpus(&c, out, err);
}

elbo_status elbo_corpus_load_vocab(const char *path, elbo_corpus *out, elbo_error *err)
{
    memset(out, 0, sizeof *out);
    elbo_status st = load_vocab(path, out, err);
    if (st) elbo_corpus_free(out);
    return st;
}
