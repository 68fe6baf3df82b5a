/* text.c — plain text to a corpus (elbo_text_prepare in elbo_lda.h): the
 * tokenizer, stop words, chunking into pseudo-documents, the seeded
 * split, the vocabulary pruned by document frequency, and the lda-c and
 * vocabulary writers.
 *
 * Ownership: elbo_text_prepare's result owns its corpora and names
 * (elbo_prepared_free); everything else here is freed before returning. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <math.h>

#include "../io/atomic.h"
#include "../util/common.h"
#include "../util/rng.h"
#include "dataset.h"
#include "elbo_lda.h"
#include "text.h"

int elbo_utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80) return 1;
    int n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (!n || s[0] > 0xf4) return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))) return 0;
    if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))) return 0;
    return n;
}

/* The code point of the n-byte sequence at s. */
static uint32_t decode(const unsigned char *s, int n)
{
    if (n == 1) return s[0];
    uint32_t c = s[0] & (0x7f >> n);
    for (int i = 1; i < n; i++) c = (c << 6) | (s[i] & 0x3f);
    return c;
}

int elbo_next_token(const char *text, size_t len, size_t *pos, char *word, size_t cap, int *sentence_end)
{
    const unsigned char *t = (const unsigned char *)text;
    size_t p = *pos, w = 0;
    *sentence_end = 0;
    while (p < len) {
        int n = elbo_utf8_len(t + p);
        if (!n || p + (size_t)n > len) {
            *pos = p;
            return -1;
        }
        uint32_t c = decode(t + p, n);
        const char *f = NULL;
        char one[2] = {0, 0};
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            one[0] = (char)(c | 0x20);
            f = one;
        } else if (c >= 0xC0 && c < 0x250) {
            f = elbo_fold_latin[c - 0xC0];
            if (!f[0]) f = NULL;
        }
        if (f) {
            for (; *f; f++)
                if (w + 1 < cap) word[w++] = *f;
        } else if (w > 0) { /* a letter run ends */
            break;
        } else if (c == '.' || c == '!' || c == '?') {
            *sentence_end = 1;
        }
        p += (size_t)n;
    }
    *pos = p;
    word[w] = 0;
    return (int)w;
}

/* ------------------------------------------------------- a word table */

/* Open addressing over word strings kept in one arena; ids in order of
 * first sight. */
typedef struct {
    int *slot;      /* [cap] id + 1, 0 empty */
    size_t cap;
    char *arena;    /* the words, NUL-separated */
    size_t used, arena_cap;
    size_t *off;    /* [n] each word's offset */
    int n, off_cap;
} word_table;

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static const char *word_at(const word_table *t, int id) { return t->arena + t->off[id]; }

/* The id of s, added when new (-1 when out of memory); lookup only when
 * add is 0 (-2 when absent). */
static int word_id(word_table *t, const char *s, int add)
{
    if ((size_t)(t->n + 1) * 2 > t->cap) { /* grow to keep the load under 1/2 */
        size_t nc = t->cap ? 2 * t->cap : 1 << 14;
        int *ns = calloc(nc, sizeof(int));
        if (!ns) return -1;
        for (int i = 0; i < t->n; i++) {
            size_t h = hash(word_at(t, i)) & (nc - 1);
            while (ns[h]) h = (h + 1) & (nc - 1);
            ns[h] = i + 1;
        }
        free(t->slot);
        t->slot = ns;
        t->cap = nc;
    }
    size_t h = hash(s) & (t->cap - 1);
    while (t->slot[h]) {
        if (!strcmp(word_at(t, t->slot[h] - 1), s)) return t->slot[h] - 1;
        h = (h + 1) & (t->cap - 1);
    }
    if (!add) return -2;
    size_t len = strlen(s) + 1;
    if (t->used + len > t->arena_cap) {
        size_t nc = t->arena_cap ? 2 * t->arena_cap : 1 << 16;
        while (nc < t->used + len) nc *= 2;
        char *na = realloc(t->arena, nc);
        if (!na) return -1;
        t->arena = na;
        t->arena_cap = nc;
    }
    if (t->n == t->off_cap) {
        int oc = t->off_cap ? 2 * t->off_cap : 4096;
        size_t *no = realloc(t->off, sizeof(size_t) * (size_t)oc);
        if (!no) return -1;
        t->off = no;
        t->off_cap = oc;
    }
    memcpy(t->arena + t->used, s, len);
    t->off[t->n] = t->used;
    t->used += len;
    t->slot[h] = t->n + 1;
    return t->n++;
}

static void word_table_free(word_table *t)
{
    free(t->slot);
    free(t->arena);
    free(t->off);
    memset(t, 0, sizeof *t);
}

/* ----------------------------------------------------- pseudo-documents */

/* Every pseudo-document's tokens (word ids, stop words already out) end to
 * end, with its start and its name. */
typedef struct {
    int *tok;
    long n_tok, tok_cap;
    long *start;      /* [n_docs + 1] */
    int *src;         /* [n_docs] the source document */
    int *part;        /* [n_docs] the chunk within it (0-based) */
    int n_docs, doc_cap;
} pseudo_docs;

static int push_tok(pseudo_docs *p, int id)
{
    if (p->n_tok == p->tok_cap) {
        long nc = p->tok_cap ? 2 * p->tok_cap : 1 << 16;
        int *nt = realloc(p->tok, sizeof(int) * (size_t)nc);
        if (!nt) return -1;
        p->tok = nt;
        p->tok_cap = nc;
    }
    p->tok[p->n_tok++] = id;
    return 0;
}

/* Closes the pseudo-document that runs to the current token. */
static int close_doc(pseudo_docs *p, int src, int part)
{
    if (p->n_docs + 2 > p->doc_cap) {
        int nc = p->doc_cap ? 2 * p->doc_cap : 1024;
        long *ns = realloc(p->start, sizeof(long) * (size_t)(nc + 1));
        if (ns) p->start = ns;
        int *nsrc = ns ? realloc(p->src, sizeof(int) * (size_t)nc) : NULL;
        if (nsrc) p->src = nsrc;
        int *np = nsrc ? realloc(p->part, sizeof(int) * (size_t)nc) : NULL;
        if (!np) return -1;
        p->part = np;
        p->doc_cap = nc;
        if (p->n_docs == 0) p->start[0] = 0;
    }
    p->src[p->n_docs] = src;
    p->part[p->n_docs] = part;
    p->start[++p->n_docs] = p->n_tok;
    return 0;
}

static void pseudo_free(pseudo_docs *p)
{
    free(p->tok);
    free(p->start);
    free(p->src);
    free(p->part);
    memset(p, 0, sizeof *p);
}

/* Is word a stop word (stop: ids in the table of stop words, or NULL). */
static int is_stop(word_table *stop, const char *w) { return stop && word_id(stop, w, 0) >= 0; }

/* One source document text[0 .. len) (line `line` of `path`, or the whole
 * file when line is 0) into pseudo-documents of at least o->chunk_words
 * words cut at sentence ends (one when chunk_words is 0); a short tail
 * joins the chunk before it. */
static elbo_status split_source(const char *path, int line, const char *text, size_t len, int src,
                                const elbo_text_opts *o, word_table *words, word_table *stop,
                                pseudo_docs *p, elbo_error *err)
{
    char w[256];
    size_t pos = 0;
    long words_in = 0;
    int part = 0, first = p->n_docs, end;
    for (;;) {
        int n = elbo_next_token(text, len, &pos, w, sizeof w, &end);
        if (n < 0) {
            long ln = line;
            size_t ls = 0;
            for (size_t i = 0; i < pos && !line; i++) /* the line within a file */
                if (text[i] == '\n') ln++, ls = i + 1;
            return elbo_fail(err, ELBO_ERR_FORMAT, "%s: line %ld, byte %zu: not valid UTF-8", path,
                             line ? ln : ln + 1, pos - (line ? 0 : ls) + 1);
        }
        if (end && o->chunk_words > 0 && words_in >= o->chunk_words) { /* a sentence ended the chunk */
            if (close_doc(p, src, part++)) goto oom;
            words_in = 0;
        }
        if (n == 0) break;
        if (n < o->min_letters) continue;
        words_in++;
        if (is_stop(stop, w)) continue;
        int id = word_id(words, w, 1);
        if (id < 0 || push_tok(p, id)) goto oom;
    }
    if (words_in > 0 || p->n_docs == first) {
        if (words_in > 0 && words_in < o->chunk_words && p->n_docs > first) /* a short tail */
            p->start[p->n_docs] = p->n_tok;
        else if (close_doc(p, src, part))
            goto oom;
    }
    return ELBO_OK;
oom:
    return elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", path);
}

/* ------------------------------------------------------------ sources */

/* Appends s (malloc'd, taken over; NULL when its allocation failed) to
 * the list names [*n] of capacity *cap. -1 when out of memory. */
static int push_name(char ***names, int *n, int *cap, char *s)
{
    if (!s) return -1;
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 256;
        char **nn = realloc(*names, sizeof(char *) * (size_t)nc);
        if (!nn) {
            free(s);
            return -1;
        }
        *names = nn;
        *cap = nc;
    }
    (*names)[(*n)++] = s;
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The .txt files of folder dir, sorted, into *names (malloc'd strings). */
static elbo_status list_txt(const char *dir, char ***names, int *n, elbo_error *err)
{
    DIR *d = opendir(dir);
    if (!d) return elbo_fail(err, ELBO_ERR_IO, "%s: cannot open the folder: %s", dir, strerror(errno));
    int cap = 0;
    *n = 0;
    *names = NULL;
    elbo_status st = ELBO_OK;
    for (struct dirent *e; !st && (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".txt") || e->d_name[0] == '.') continue;
        char *path = malloc(strlen(dir) + l + 2);
        if (path) sprintf(path, "%s/%s", dir, e->d_name);
        if (push_name(names, n, &cap, path)) st = elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", dir);
    }
    closedir(d);
    if (!st && *n == 0) st = elbo_fail(err, ELBO_ERR_ARG, "%s: no .txt files in the folder", dir);
    if (!st) qsort(*names, (size_t)*n, sizeof(char *), by_name);
    return st;
}

/* The stop-word table for o->stop_words: "english", "none" or a file. */
static elbo_status load_stop(const char *spec, word_table *stop, int *have, elbo_error *err)
{
    *have = 0;
    if (spec && !strcmp(spec, "none")) return ELBO_OK;
    *have = 1;
    if (!spec || !strcmp(spec, "english")) {
        for (int i = 0; i < elbo_n_english_stop_words; i++)
            if (word_id(stop, elbo_english_stop_words[i], 1) < 0) return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory");
        return ELBO_OK;
    }
    char *text;
    size_t len;
    elbo_status st = elbo_read_text(spec, &text, &len, err);
    if (st) return st;
    char w[256];
    size_t pos = 0;
    int end, n;
    while (!st && (n = elbo_next_token(text, len, &pos, w, sizeof w, &end)) > 0)
        if (word_id(stop, w, 1) < 0) st = elbo_fail(err, ELBO_ERR_NOMEM, "out of memory");
    if (!st && n < 0) st = elbo_fail(err, ELBO_ERR_FORMAT, "%s: byte %zu: not valid UTF-8", spec, pos + 1);
    free(text);
    return st;
}

/* Every source of input into pseudo-documents: the folder's .txt files
 * (one document each), or the lines of one file. Source names into
 * *names (one per source). */
static elbo_status read_sources(const char *input, const elbo_text_opts *o, word_table *words,
                                word_table *stop, pseudo_docs *p, char ***names, int *n_src, elbo_error *err)
{
    struct stat sb;
    if (stat(input, &sb) != 0) return elbo_fail(err, ELBO_ERR_IO, "%s: cannot open: %s", input, strerror(errno));
    elbo_status st = ELBO_OK;
    if (S_ISDIR(sb.st_mode)) {
        if ((st = list_txt(input, names, n_src, err))) return st;
        for (int i = 0; !st && i < *n_src; i++) {
            char *text;
            size_t len;
            if (!(st = elbo_read_text((*names)[i], &text, &len, err)))
                st = split_source((*names)[i], 0, text, len, i, o, words, stop, p, err);
            free(text);
        }
        return st;
    }
    char *text;
    size_t len;
    if ((st = elbo_read_text(input, &text, &len, err))) return st;
    int cap = 0, line = 1;
    *n_src = 0;
    for (char *q = text; !st && *q; line++) {
        char *eol = strchr(q, '\n'), *e = eol ? eol : q + strlen(q);
        char nm[64];
        snprintf(nm, sizeof nm, "line %d", line);
        if (push_name(names, n_src, &cap, strdup(nm))) {
            st = elbo_fail(err, ELBO_ERR_NOMEM, "%s: out of memory", input);
            break;
        }
        char keep = *e;
        *e = 0; /* the line alone, so a cut UTF-8 sequence at its end is invalid */
        st = split_source(input, line, q, (size_t)(e - q), *n_src - 1, o, words, stop, p, err);
        *e = keep;
        q = eol ? eol + 1 : e;
    }
    free(text);
    return st;
}

/* ------------------------------------------------ vocabulary and corpora */

void elbo_text_opts_default(elbo_text_opts *o)
{
    memset(o, 0, sizeof *o);
    o->stop_words = "english";
    o->min_letters = 3;
    o->min_df = 1.0;
    o->max_df = 1.0;
    o->test_fraction = 0.0;
    o->seed = 1;
}

void elbo_prepared_free(elbo_prepared *p)
{
    if (!p) return;
    for (int i = 0; p->train_names && i < p->n_train_names; i++) free(p->train_names[i]);
    for (int i = 0; p->test_names && i < p->n_test_names; i++) free(p->test_names[i]);
    elbo_corpus_free(&p->train);
    elbo_corpus_free(&p->test);
    free(p->train_names);
    free(p->test_names);
    memset(p, 0, sizeof *p);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The words the vocabulary keeps (stop words are never tokens here), by
 * training-set document frequency, sorted; newid [n_words] maps old ids
 * to new ones (-1: pruned). */
static elbo_status build_vocab(const word_table *words, const pseudo_docs *p, const int *docs, int n_train,
                               const elbo_text_opts *o, int *newid, elbo_corpus *c, elbo_error *err)
{
    int W = words->n;
    int *df = calloc((size_t)W + 1, sizeof(int)), *seen = malloc(sizeof(int) * ((size_t)W + 1));
    int *keep = malloc(sizeof(int) * ((size_t)W + 1));
    if (!df || !seen || !keep) {
        free(df);
        free(seen);
        free(keep);
        return elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for the vocabulary");
    }
    for (int w = 0; w < W; w++) seen[w] = -1;
    for (int i = 0; i < n_train; i++) {
        int d = docs[i];
        for (long t = p->start[d]; t < p->start[d + 1]; t++)
            if (seen[p->tok[t]] != d) seen[p->tok[t]] = d, df[p->tok[t]]++;
    }
    double lo = o->min_df >= 1.0 ? o->min_df : o->min_df * n_train;
    double hi = o->max_df <= 1.0 ? o->max_df * n_train : o->max_df;
    int V = 0;
    size_t bytes = 0;
    for (int w = 0; w < W; w++) {
        newid[w] = -1;
        if (df[w] >= lo && df[w] <= hi) keep[V++] = w, bytes += strlen(word_at(words, w)) + 1;
    }
    /* alphabetical, as scikit-learn's CountVectorizer orders its vocabulary */
    const char **strs = malloc(sizeof(char *) * ((size_t)V + 1));
    c->vocab = malloc(sizeof(char *) * ((size_t)V + 1));
    c->vocab_buf = malloc(bytes + 1);
    elbo_status st = ELBO_OK;
    if (!strs || !c->vocab || !c->vocab_buf) st = elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for the vocabulary");
    else {
        for (int i = 0; i < V; i++) strs[i] = word_at(words, keep[i]);
        qsort(strs, (size_t)V, sizeof(char *), by_name);
        char *q = c->vocab_buf;
        for (int i = 0; i < V; i++) {
            size_t l = strlen(strs[i]) + 1;
            memcpy(q, strs[i], l);
            c->vocab[i] = q;
            q += l;
            newid[word_id((word_table *)words, strs[i], 0)] = i;
        }
        c->n_vocab = V;
        if (V == 0)
            st = elbo_fail(err, ELBO_ERR_ARG, "the vocabulary is empty: no word of the %d training documents has a "
                                              "document frequency within min_df %g and max_df %g",
                           n_train, o->min_df, o->max_df);
    }
    free(strs);
    free(df);
    free(seen);
    free(keep);
    return st;
}

/* The documents docs[0 .. n) of p as a corpus over the new ids (sorted
 * within a document); documents left empty are dropped and their names
 * moved to the end (names [n]: reordered so the kept ones come first). */
static elbo_status build_corpus(const pseudo_docs *p, const int *docs, int n, const int *newid, int V,
                                elbo_corpus *c, char **names, int *dropped, elbo_error *err)
{
    long tokens = 0;
    for (int i = 0; i < n; i++) tokens += p->start[docs[i] + 1] - p->start[docs[i]];
    int *cnt = calloc((size_t)V + 1, sizeof(int)), *touched = malloc(sizeof(int) * ((size_t)V + 1));
    c->doc_ptr = malloc(sizeof(int) * ((size_t)n + 1));
    c->word = malloc(sizeof(int) * ((size_t)tokens + 1));
    c->count = malloc(sizeof(int) * ((size_t)tokens + 1));
    char **dropped_names = malloc(sizeof(char *) * ((size_t)n + 1));
    elbo_status st = ELBO_OK;
    if (!cnt || !touched || !c->doc_ptr || !c->word || !c->count || !dropped_names || tokens > 0x7fffffffL)
        st = elbo_fail(err, ELBO_ERR_NOMEM, "out of memory for a corpus of %ld tokens", tokens);
    int nd = 0, nx = 0;
    c->n_vocab = V;
    for (int i = 0; !st && i < n; i++) {
        int d = docs[i], nt = 0;
        for (long t = p->start[d]; t < p->start[d + 1]; t++) {
            int w = newid[p->tok[t]];
            if (w < 0) continue;
            if (cnt[w]++ == 0) touched[nt++] = w;
        }
        if (nt == 0) {
            dropped_names[nx++] = names[i];
            continue;
        }
        qsort(touched, (size_t)nt, sizeof(int), cmp_int);
        c->doc_ptr[nd] = (int)c->nnz;
        for (int j = 0; j < nt; j++) {
            c->word[c->nnz] = touched[j];
            c->count[c->nnz++] = cnt[touched[j]];
            c->n_tokens += cnt[touched[j]];
            cnt[touched[j]] = 0;
        }
        names[nd++] = names[i];
    }
    if (!st) {
        for (int i = 0; i < nx; i++) names[nd + i] = dropped_names[i];
        c->n_docs = nd;
        c->doc_ptr[nd] = (int)c->nnz;
        *dropped = nx;
    }
    free(cnt);
    free(touched);
    free(dropped_names);
    return st;
}

/* "SOURCE" or "SOURCE#k" (chunk k, from 1) for pseudo-document d. */
static char *doc_name(const pseudo_docs *p, int d, char *const *src_names, int chunked)
{
    const char *s = src_names[p->src[d]], *slash = strrchr(s, '/');
    s = slash ? slash + 1 : s;
    char *out = malloc(strlen(s) + 16);
    if (out) {
        if (chunked) sprintf(out, "%s#%d", s, p->part[d] + 1);
        else strcpy(out, s);
    }
    return out;
}

/* The seeded split: the test documents first in docs, each side in order. */
static int split_docs(int n, const elbo_text_opts *o, int *docs)
{
    int nt = o->test_fraction > 0.0 ? (int)(o->test_fraction * n + 0.5) : 0;
    if (o->test_fraction > 0.0 && nt < 1) nt = 1;
    elbo_rng r;
    elbo_rng_seed(&r, o->seed ^ 0x5e11717e57ULL);
    for (int i = 0; i < n; i++) docs[i] = i;
    elbo_rng_shuffle(&r, docs, n);
    qsort(docs, (size_t)nt, sizeof(int), cmp_int);
    qsort(docs + nt, (size_t)(n - nt), sizeof(int), cmp_int);
    return nt;
}

/* Frees what elbo_text_prepare and elbo_text_to_corpus build on the way
 * (stop may be NULL). */
static void free_work(char **src_names, int n_src, int *docs, int *newid, word_table *words, word_table *stop,
                      pseudo_docs *p)
{
    for (int i = 0; i < n_src; i++) free(src_names[i]);
    free(src_names);
    free(docs);
    free(newid);
    word_table_free(words);
    if (stop) word_table_free(stop);
    pseudo_free(p);
}

static elbo_status check_opts(const elbo_text_opts *o, elbo_error *err)
{
    if (o->min_letters < 1 || o->min_letters > 100)
        return elbo_fail(err, ELBO_ERR_ARG, "min_letters must lie in 1..100, not %d", o->min_letters);
    if (!(o->min_df >= 0.0) || !(o->max_df > 0.0) || !isfinite(o->min_df) || !isfinite(o->max_df))
        return elbo_fail(err, ELBO_ERR_ARG, "min_df must be >= 0 and max_df > 0");
    if (!(o->test_fraction >= 0.0 && o->test_fraction < 1.0))
        return elbo_fail(err, ELBO_ERR_ARG, "the test fraction must lie in [0, 1), not %g", o->test_fraction);
    if (o->chunk_words < 0) return elbo_fail(err, ELBO_ERR_ARG, "chunk_words must be >= 0");
    return ELBO_OK;
}

elbo_status elbo_text_prepare(const char *input, const elbo_text_opts *o, elbo_prepared *out, elbo_error *err)
{
    memset(out, 0, sizeof *out);
    elbo_status st = check_opts(o, err);
    if (st) return st;
    word_table words = {0}, stop = {0};
    pseudo_docs p = {0};
    char **src_names = NULL;
    int n_src = 0, have_stop, *docs = NULL, *newid = NULL;
    st = load_stop(o->stop_words, &stop, &have_stop, err);
    if (!st) st = read_sources(input, o, &words, have_stop ? &stop : NULL, &p, &src_names, &n_src, err);
    if (!st && p.n_docs == 0) st = elbo_fail(err, ELBO_ERR_ARG, "%s: no documents", input);
    if (!st && (!(docs = malloc(sizeof(int) * (size_t)p.n_docs)) || !(newid = malloc(sizeof(int) * ((size_t)words.n + 1)))))
        st = elbo_fail(err, ELBO_ERR_NOMEM, "out of memory");
    int nt = 0;
    if (!st) {
        nt = split_docs(p.n_docs, o, docs);
        if (p.n_docs - nt < 1) st = elbo_fail(err, ELBO_ERR_ARG, "%s: no training documents are left", input);
    }
    if (!st) st = build_vocab(&words, &p, docs + nt, p.n_docs - nt, o, newid, &out->train, err);
    if (!st) {
        out->n_sources = n_src;
        out->n_pseudo = p.n_docs;
        out->tokens_in = p.n_tok;
        out->words_seen = words.n;
        out->train_names = calloc((size_t)(p.n_docs - nt) + 1, sizeof(char *));
        out->test_names = calloc((size_t)nt + 1, sizeof(char *));
        if (!out->train_names || !out->test_names) st = elbo_fail(err, ELBO_ERR_NOMEM, "out of memory");
        else out->n_train_names = p.n_docs - nt, out->n_test_names = nt;
        for (int i = 0; !st && i < p.n_docs; i++) {
            char **slot = i < nt ? &out->test_names[i] : &out->train_names[i - nt];
            if (!(*slot = doc_name(&p, docs[i], src_names, o->chunk_words > 0)))
                st = elbo_fail(err, ELBO_ERR_NOMEM, "out of memory");
        }
    }
    if (!st) /* build_corpus keeps the vocabulary build_vocab put in train */
        st = build_corpus(&p, docs + nt, p.n_docs - nt, newid, out->train.n_vocab, &out->train, out->train_names,
                          &out->dropped_train, err);
    if (!st && nt > 0)
        st = build_corpus(&p, docs, nt, newid, out->train.n_vocab, &out->test, out->test_names, &out->dropped_test,
                          err);
    if (!st && out->train.n_docs == 0) st = elbo_fail(err, ELBO_ERR_ARG, "%s: every training document is empty", input);
    if (st) elbo_prepared_free(out);
    free_work(src_names, n_src, docs, newid, &words, &stop, &p);
    return st;
}

/* ---------------------------------------------------------- writers */

static int put_ldac(FILE *f, void *arg)
{
    const elbo_corpus *c = arg;
    for (int d = 0; d < c->n_docs; d++) {
        if (fprintf(f, "%d", c->doc_ptr[d + 1] - c->doc_ptr[d]) < 0) return -1;
        for (int j = c->doc_ptr[d]; j < c->doc_ptr[d + 1]; j++)
            if (fprintf(f, " %d:%d", c->word[j], c->count[j]) < 0) return -1;
        if (fputc('\n', f) == EOF) return -1;
    }
    return 0;
}

static int put_vocab(FILE *f, void *arg)
{
    const elbo_corpus *c = arg;
    for (int v = 0; v < c->n_vocab; v++)
        if (fprintf(f, "%s\n", c->vocab[v]) < 0) return -1;
    return 0;
}

elbo_status elbo_corpus_write_ldac(const elbo_corpus *c, const char *path, elbo_error *err)
{
    return elbo_write_atomic(path, put_ldac, (void *)c, err);
}

elbo_status elbo_corpus_write_vocab(const elbo_corpus *c, const char *path, elbo_error *err)
{
    if (!c->vocab) return elbo_fail(err, ELBO_ERR_ARG, "%s: the corpus has no vocabulary to write", path);
    return elbo_write_atomic(path, put_vocab, (void *)c, err);
}

elbo_status elbo_text_to_corpus(const char *input, const elbo_corpus *vocab, int min_letters, elbo_prepared *out,
                                elbo_error *err)
{
    memset(out, 0, sizeof *out);
    if (!vocab->vocab || vocab->n_vocab < 1) return elbo_fail(err, ELBO_ERR_ARG, "no vocabulary to read %s with", input);
    elbo_text_opts o;
    elbo_text_opts_default(&o);
    o.min_letters = min_letters;
    word_table words = {0};
    pseudo_docs p = {0};
    char **src_names = NULL;
    int n_src = 0, V = vocab->n_vocab, *docs = NULL, *newid = NULL;
    elbo_status st = ELBO_OK;
    for (int v = 0; !st && v < V; v++) /* the vocabulary's words take ids 0 .. V-1 */
        if (word_id(&words, vocab->vocab[v], 1) != v)
            st = elbo_fail(err, ELBO_ERR_ARG, "the vocabulary lists '%s' twice or is out of memory", vocab->vocab[v]);
    if (!st) st = read_sources(input, &o, &words, NULL, &p, &src_names, &n_src, err);
    if (!st && p.n_docs == 0) st = elbo_fail(err, ELBO_ERR_ARG, "%s: no documents", input);
    if (!st && (!(docs = malloc(sizeof(int) * (size_t)p.n_docs)) || !(newid = malloc(sizeof(int) * ((size_t)words.n + 1)))))
        st = elbo_fail(err, ELBO_ERR_NOMEM, "out of memory");
    if (!st) {
        for (int w = 0; w < words.n; w++) newid[w] = w < V ? w : -1;
        for (int d = 0; d < p.n_docs; d++) docs[d] = d;
        out->n_sources = n_src;
        out->n_pseudo = p.n_docs;
        out->tokens_in = p.n_tok;
        out->train_names = calloc((size_t)p.n_docs + 1, sizeof(char *));
        if (!out->train_names) st = elbo_fail(err, ELBO_ERR_NOMEM, "out of memory");
        else out->n_train_names = p.n_docs;
        for (int d = 0; !st && d < p.n_docs; d++)
            if (!(out->train_names[d] = doc_name(&p, d, src_names, 0))) st = elbo_fail(err, ELBO_ERR_NOMEM, "out of memory");
    }
    if (!st) st = build_corpus(&p, docs, p.n_docs, newid, V, &out->train, out->train_names, &out->dropped_train, err);
    if (!st && out->train.n_docs == 0)
        st = elbo_fail(err, ELBO_ERR_ARG, "%s: no document has a word of the vocabulary", input);
    if (st) elbo_prepared_free(out);
    free_work(src_names, n_src, docs, newid, &words, NULL, &p);
    return st;
}
