/* test_corpus.c — the lda-c reader (elbo_lda.h): a corpus read as written
 * (raw and gzip, with and without a vocabulary), and every malformed input
 * the LDA issue names refused with the file, the line and the reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "check.h"
#include "elbo_lda.h"

static char dir[] = "/tmp/elbo-test-corpus-XXXXXX";

static const char *put(const char *name, const char *text, size_t n)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(text, 1, n, f);
        fclose(f);
    }
    return path;
}

static const char *put_s(const char *name, const char *text) { return put(name, text, strlen(text)); }

/* Loading doc (with vocab, may be NULL) fails with a message containing want. */
static void refused(const char *doc, const char *vocab, const char *want)
{
    char vp[256] = "";
    if (vocab) snprintf(vp, sizeof vp, "%s", put_s("v.txt", vocab));
    const char *dp = put_s("d.ldac", doc);
    elbo_corpus c;
    elbo_error err;
    elbo_status st = elbo_corpus_load_ldac(dp, vocab ? vp : NULL, &c, &err);
    CHECK(st == ELBO_ERR_FORMAT && strstr(err.msg, want) && strstr(err.msg, "/tmp/elbo-test-corpus-"),
          "%-40.40s: want '%s', got (%d) '%s'", doc, want, (int)st, st ? err.msg : "ok");
}

static void check_good(void)
{
    const char *doc = "2 0:3 2:1\n1 1:4\r\n3 2:2 0:1 3:5\n\n";
    const char *vp = put_s("vocab.txt", "alpha\nbeta\ngamma\ndelta \xc3\xa9t\xc3\xa9\n");
    char vcopy[256];
    snprintf(vcopy, sizeof vcopy, "%s", vp);
    elbo_corpus c;
    elbo_error err;
    const char *dp = put_s("good.ldac", doc);
    CHECK(elbo_corpus_load_ldac(dp, vcopy, &c, &err) == ELBO_OK, "%s", err.msg);
    CHECK(c.n_docs == 3 && c.n_vocab == 4 && c.nnz == 6 && c.n_tokens == 16, "3 docs, V 4, 6 pairs, 16 tokens: %d %d %ld %ld",
          c.n_docs, c.n_vocab, c.nnz, c.n_tokens);
    CHECK(c.doc_ptr[0] == 0 && c.doc_ptr[1] == 2 && c.doc_ptr[2] == 3 && c.doc_ptr[3] == 6, "doc_ptr");
    CHECK(c.word[4] == 0 && c.count[4] == 1 && c.word[5] == 3 && c.count[5] == 5, "pairs in file order");
    CHECK(!strcmp(c.vocab[3], "delta \xc3\xa9t\xc3\xa9") && !strcmp(c.vocab[0], "alpha"), "the vocabulary");
    elbo_corpus_free(&c);
    /* gzip, and no vocabulary: V from the largest id */
    char gz[300];
    snprintf(gz, sizeof gz, "%s/good.ldac.gz", dir);
    gzFile g = gzopen(gz, "wb");
    gzwrite(g, doc, (unsigned)strlen(doc));
    gzclose(g);
    CHECK(elbo_corpus_load_ldac(gz, NULL, &c, &err) == ELBO_OK && c.n_vocab == 4 && c.n_tokens == 16, "gzip: %s",
          err.msg);
    elbo_corpus_free(&c);
    elbo_corpus_free(&c); /* twice: safe */
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    check_good();
    const char *V3 = "a\nb\nc\n";
    refused("2 0:1 5:2\n", V3, "line 1, pair 2: id 5 is outside the vocabulary of 3 words");
    refused("1 0:1\n2 0:1 1:-3\n", V3, "line 2, pair 2: a negative count");
    refused("2 0:1 1:x\n", V3, "line 1, pair 2: the count is not a whole number");
    refused("2 0:1 1:2.5\n", V3, "line 1, pair 2: the count is not a whole number");
    refused("1 -1:1\n", V3, "line 1, pair 1: a negative id");
    refused("1 0:0\n", V3, "a count of 0");
    refused("3 0:1 1:1\n", V3, "line 1: 2 id:count pairs, but M = 3");
    refused("1 0:1 1:1\n", V3, "line 1: more than M = 1 pairs");
    refused("1 0:1\n0\n", V3, "line 2: an empty document (M = 0)");
    refused("x 0:1\n", V3, "line 1: does not start with the number of terms M");
    refused("2 1:1 1:2\n", V3, "line 1: id 1 appears twice");
    refused("1 0 1\n", V3, "line 1, pair 1: not id:count");
    refused("1 0:99999999999\n", V3, "the count is not a whole number");
    refused("\n\n", V3, "no documents");
    refused("2000000000 0:1\n", V3, "line 1: M = 2000000000, but the line holds at most 1 pairs");
    refused("1 0:1\n", "", "an empty vocabulary");
    refused("1 0:1\n", "a\n\nb\n", "line 2: an empty word");
    refused("1 0:1\n", "ok\nbad\xff\n", "line 2, byte 4: not valid UTF-8");
    refused("1 0:1\n", "ok\n\xed\xa0\x80x\n", "line 2, byte 1: not valid UTF-8"); /* a surrogate */
    refused("1 0:1\n", "\xc0\xafx\n", "not valid UTF-8");                      /* overlong */
    const char *nul = put("n.ldac", "1 0:1\n\0", 7);
    elbo_corpus c;
    elbo_error err;
    CHECK(elbo_corpus_load_ldac(nul, NULL, &c, &err) == ELBO_ERR_FORMAT && strstr(err.msg, "NUL byte"), "NUL: %s", err.msg);
    CHECK(elbo_corpus_load_ldac("/nonexistent.ldac", NULL, &c, &err) == ELBO_ERR_IO, "a missing file");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return check_summary("test_corpus");
}
