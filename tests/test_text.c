/* test_text.c — the plain-text pipeline (src/data/text.c): the tokenizer
 * (ASCII folding, separators, sentence ends, invalid UTF-8), chunks at
 * sentence ends with a short tail joined, stop words, document-frequency
 * pruning (counts and fractions), the seeded split, the writers read back,
 * and new text over a fitted vocabulary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "data/text.h"
#include "elbo_lda.h"

static char dir[] = "/tmp/elbo-test-text-XXXXXX";

static const char *put(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

/* The tokens of s joined by spaces, with '|' before a token after a
 * sentence end; "ERR@n" on invalid UTF-8 at byte n. */
static const char *tokens(const char *s)
{
    static char out[512];
    char w[64];
    size_t pos = 0, len = strlen(s);
    int end, n;
    out[0] = 0;
    while ((n = elbo_next_token(s, len, &pos, w, sizeof w, &end)) > 0)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s%s", out[0] ? " " : "", end ? "|" : "", w);
    if (n < 0) snprintf(out + strlen(out), sizeof out - strlen(out), " ERR@%zu", pos);
    return out;
}

static void test_tokenizer(void)
{
    struct { const char *in, *want; } cases[] = {
        {"Café, naïve RÉSUMÉ!", "cafe naive resume"},
        {"Don't stop. Go on? Yes! ok", "don t stop |go on |yes |ok"},
        {"1990s and 3rd-rate", "s and rd rate"},
        {"Ærø Straße Łódź", "aero strasse lodz"},
        {"alpha\xce\xb1\xce\xb2gamma", "alpha gamma"},   /* Greek letters separate */
        {"ok \xff bad", "ok ERR@3"},                     /* invalid byte */
        {"cut \xc3", "cut ERR@4"},                       /* a cut sequence */
        {"\xed\xa0\x80", " ERR@0"},                      /* a surrogate */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(!strcmp(tokens(cases[i].in), cases[i].want), "'%s': got '%s', want '%s'", cases[i].in,
              tokens(cases[i].in), cases[i].want);
}

static int doc_words(const elbo_corpus *c, int d)
{
    int n = 0;
    for (int j = c->doc_ptr[d]; j < c->doc_ptr[d + 1]; j++) n += c->count[j];
    return n;
}

static void test_prepare(void)
{
    char sub[300];
    snprintf(sub, sizeof sub, "%s/src", dir);
    mkdir(sub, 0777);
    /* a: 3 sentences of 4 words, then a 2-word tail; b: one sentence */
    put("src/a.txt", "red green blue black. red green blue white. red green pink gold. red tail.");
    put("src/b.txt", "green blue the and of red");
    put("src/skip.dat", "not read");
    elbo_text_opts o;
    elbo_text_opts_default(&o);
    o.chunk_words = 4;
    elbo_prepared p;
    elbo_error err;
    CHECK(elbo_text_prepare(sub, &o, &p, &err) == ELBO_OK, "prepare: %s", err.msg);
    CHECK(p.n_sources == 2 && p.n_pseudo == 4, "2 sources, 4 pseudo-documents (%d, %d)", p.n_sources, p.n_pseudo);
    CHECK(p.train.n_docs == 4 && !strcmp(p.train_names[2], "a.txt#3") && !strcmp(p.train_names[3], "b.txt#1"),
          "names: %s %s", p.train.n_docs > 3 ? p.train_names[2] : "", p.train.n_docs > 3 ? p.train_names[3] : "");
    CHECK(p.train.n_docs == 4 && doc_words(&p.train, 2) == 6, "the tail joins the 3rd chunk (%d words)",
          p.train.n_docs == 4 ? doc_words(&p.train, 2) : -1);
    CHECK(p.train.n_docs == 4 && doc_words(&p.train, 3) == 3, "stop words are out of b (%d)",
          p.train.n_docs == 4 ? doc_words(&p.train, 3) : -1);
    int sorted = 1;
    for (int v = 1; v < p.train.n_vocab; v++) sorted &= strcmp(p.train.vocab[v - 1], p.train.vocab[v]) < 0;
    CHECK(sorted && p.train.n_vocab == 8, "a sorted vocabulary of 8 words (%d)", p.train.n_vocab);
    elbo_prepared_free(&p);

    /* df pruning: min_df 2 (a count) keeps red, green, blue; max_df 0.5 (a fraction) drops red and green */
    o.min_df = 2;
    CHECK(elbo_text_prepare(sub, &o, &p, &err) == ELBO_OK && p.train.n_vocab == 3, "min_df 2: %d words",
          p.train.n_vocab);
    elbo_prepared_free(&p);
    o.min_df = 1;
    o.max_df = 0.5;
    CHECK(elbo_text_prepare(sub, &o, &p, &err) == ELBO_OK, "max_df");
    int has_red = 0;
    for (int v = 0; v < p.train.n_vocab; v++) has_red |= !strcmp(p.train.vocab[v], "red");
    CHECK(!has_red, "max_df 0.5 drops 'red' (in every document)");
    /* the writers, read back */
    const char *lp = put("out.ldac", ""), *vp = NULL;
    char lpath[256], vpath[256];
    snprintf(lpath, sizeof lpath, "%s", lp);
    vp = put("out.vocab", "");
    snprintf(vpath, sizeof vpath, "%s", vp);
    CHECK(elbo_corpus_write_ldac(&p.train, lpath, &err) == ELBO_OK && elbo_corpus_write_vocab(&p.train, vpath, &err) == ELBO_OK,
          "write");
    elbo_corpus back;
    CHECK(elbo_corpus_load_ldac(lpath, vpath, &back, &err) == ELBO_OK, "read back: %s", err.msg);
    CHECK(back.n_docs == p.train.n_docs && back.nnz == p.train.nnz && back.n_vocab == p.train.n_vocab &&
              !memcmp(back.word, p.train.word, sizeof(int) * (size_t)back.nnz) &&
              !memcmp(back.count, p.train.count, sizeof(int) * (size_t)back.nnz),
          "the written corpus reads back the same");
    /* new text over the vocabulary: unknown words dropped, an empty document dropped and named last */
    put("new.txt", "black black white zzz\nnothing known here\n");
    snprintf(lpath, sizeof lpath, "%s/new.txt", dir);
    elbo_prepared q;
    CHECK(elbo_text_to_corpus(lpath, &back, 3, &q, &err) == ELBO_OK, "to_corpus: %s", err.msg);
    CHECK(q.train.n_docs == 1 && q.dropped_train == 1 && doc_words(&q.train, 0) == 3 &&
              !strcmp(q.train_names[1], "line 2"), "new text: %d documents, %d dropped", q.train.n_docs, q.dropped_train);
    elbo_prepared_free(&q);
    elbo_corpus_free(&back);
    elbo_prepared_free(&p);

    /* the split: seeded, disjoint, every document on one side */
    char many[4096] = "";
    for (int i = 0; i < 40; i++) snprintf(many + strlen(many), sizeof many - strlen(many), "word%c common text line\n", 'a' + i % 26);
    put("many.txt", many);
    snprintf(lpath, sizeof lpath, "%s/many.txt", dir);
    elbo_text_opts_default(&o);
    o.test_fraction = 0.25;
    elbo_prepared s1, s2;
    CHECK(elbo_text_prepare(lpath, &o, &s1, &err) == ELBO_OK && elbo_text_prepare(lpath, &o, &s2, &err) == ELBO_OK, "split");
    CHECK(s1.test.n_docs == 10 && s1.train.n_docs == 30, "10 of 40 held out (%d, %d)", s1.test.n_docs, s1.train.n_docs);
    int same = s1.test.n_docs == s2.test.n_docs;
    for (int i = 0; same && i < s1.test.n_docs; i++) same = !strcmp(s1.test_names[i], s2.test_names[i]);
    CHECK(same, "the same seed gives the same split");
    int overlap = 0;
    for (int i = 0; i < s1.test.n_docs; i++)
        for (int j = 0; j < s1.train.n_docs; j++) overlap |= !strcmp(s1.test_names[i], s1.train_names[j]);
    CHECK(!overlap, "train and test are disjoint");
    elbo_prepared_free(&s1);
    elbo_prepared_free(&s2);

    /* errors: file, line, byte; an empty vocabulary */
    put("bad.txt", "fine line\nsecond \xc3\x28 line\n");
    snprintf(lpath, sizeof lpath, "%s/bad.txt", dir);
    elbo_text_opts_default(&o);
    CHECK(elbo_text_prepare(lpath, &o, &p, &err) == ELBO_ERR_FORMAT && strstr(err.msg, "bad.txt: line 2, byte 8"),
          "invalid UTF-8: %s", err.msg);
    o.min_df = 1000;
    CHECK(elbo_text_prepare(sub, &o, &p, &err) == ELBO_ERR_ARG && strstr(err.msg, "vocabulary is empty"), "empty: %s",
          err.msg);
}

int main(void)
{
    if (!mkdtemp(dir)) return 1;
    test_tokenizer();
    test_prepare();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return check_summary("test_text");
}
