/* fuzz_text.c — the plain-text pipeline (src/data/text.c) through
 * elbo_text_prepare and elbo_text_to_corpus. The first byte picks: bit 0
 * a stop-word file (the input up to the first 0x01 byte) or the English
 * list, bits 1-2 the chunk size (0, 3, 10 or 50 words), bit 3 a test
 * split; the rest is one document per line. The result is checked: ids
 * in range, counts >= 1, the vocabulary sorted, unique and made of a-z. */
#include "elbo_lda.h"
#include "fuzz_common.h"

static void check_corpus(const elbo_corpus *c, int V)
{
    long sum = 0;
    for (int d = 0; d < c->n_docs; d++) {
        if (c->doc_ptr[d + 1] <= c->doc_ptr[d]) abort(); /* no empty document */
        for (int j = c->doc_ptr[d]; j < c->doc_ptr[d + 1]; j++) {
            if (c->word[j] < 0 || c->word[j] >= V || c->count[j] < 1) abort();
            if (j > c->doc_ptr[d] && c->word[j] <= c->word[j - 1]) abort(); /* ascending ids */
            sum += c->count[j];
        }
    }
    if (sum != c->n_tokens) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const int chunks[4] = {0, 3, 10, 50};
    elbo_text_opts o;
    elbo_text_opts_default(&o);
    o.chunk_words = chunks[(data[0] >> 1) & 3];
    o.test_fraction = data[0] & 8 ? 0.3 : 0.0;
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    static char spath[512];
    if (data[0] & 1) {
        const uint8_t *cut = memchr(body, 1, n);
        size_t sn = cut ? (size_t)(cut - body) : n;
        snprintf(spath, sizeof spath, "%s", fuzz_write("stop.txt", body, sn));
        o.stop_words = spath;
        body += sn + (cut != NULL);
        n -= sn + (cut != NULL);
    }
    const char *tpath = fuzz_write("docs.txt", body, n);
    elbo_prepared p;
    elbo_error err;
    if (elbo_text_prepare(tpath, &o, &p, &err) != ELBO_OK) return 0;
    int V = p.train.n_vocab;
    for (int v = 0; v < V; v++) {
        for (const char *q = p.train.vocab[v]; *q; q++)
            if (*q < 'a' || *q > 'z') abort();
        if (v > 0 && strcmp(p.train.vocab[v - 1], p.train.vocab[v]) >= 0) abort();
    }
    check_corpus(&p.train, V);
    check_corpus(&p.test, V);
    elbo_prepared q;
    if (elbo_text_to_corpus(tpath, &p.train, 3, &q, &err) == ELBO_OK) {
        check_corpus(&q.train, V);
        elbo_prepared_free(&q);
    }
    elbo_prepared_free(&p);
    return 0;
}
