/* fuzz_ldac.c — the lda-c corpus reader (src/data/corpus.c) through
 * elbo_corpus_load_ldac. The first byte picks: bit 0 a vocabulary file
 * (the rest of the input up to the first 0x01 byte is the vocabulary, the
 * remainder the corpus) or none, bit 1 gzip for the corpus. */
#include <zlib.h>

#include "elbo_lda.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int with_vocab = data[0] & 1, gz = data[0] & 2;
    const uint8_t *body = data + 1;
    size_t n = size - 1, vn = 0;
    const char *vpath = NULL;
    if (with_vocab) {
        const uint8_t *cut = memchr(body, 1, n);
        vn = cut ? (size_t)(cut - body) : n;
        vpath = fuzz_write("vocab.txt", body, vn);
        static char vcopy[512];
        snprintf(vcopy, sizeof vcopy, "%s", vpath);
        vpath = vcopy;
        body += vn + (cut != NULL);
        n -= vn + (cut != NULL);
    }
    const char *dpath;
    if (gz) {
        dpath = fuzz_path("corpus.ldac.gz");
        gzFile g = gzopen(dpath, "wb");
        if (!g) return 0;
        if (n) gzwrite(g, body, (unsigned)n);
        gzclose(g);
    } else {
        dpath = fuzz_write("corpus.ldac", body, n);
    }
    elbo_corpus c;
    elbo_error err;
    if (elbo_corpus_load_ldac(dpath, vpath, &c, &err) == ELBO_OK) {
        long sum = 0; /* every pair in range: read them all */
        for (int d = 0; d < c.n_docs; d++)
            for (int j = c.doc_ptr[d]; j < c.doc_ptr[d + 1]; j++) {
                if (c.word[j] < 0 || c.word[j] >= c.n_vocab || c.count[j] < 1) abort();
                sum += c.count[j];
            }
        if (sum != c.n_tokens) abort();
        for (int v = 0; c.vocab && v < c.n_vocab; v++) sum += (long)strlen(c.vocab[v]);
        elbo_corpus_free(&c);
    }
    return 0;
}
