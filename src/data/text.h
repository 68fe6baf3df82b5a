/* text.h — the plain-text pipeline's internals (text.c): the tokenizer and
 * the generated tables. The public calls are in elbo_lda.h. */
#ifndef ELBO_TEXT_H
#define ELBO_TEXT_H

#include <stddef.h>

extern const char *const elbo_english_stop_words[];
extern const int elbo_n_english_stop_words;
extern const char elbo_fold_latin[0x250 - 0xC0][3]; /* U+00C0 .. U+024F */

/* The next token of text[*pos .. len): ASCII-folded lowercase letters
 * into word (at most cap - 1 bytes; longer words are cut), returning its
 * length (0 at the end of the text); *sentence_end is set when a '.', '!'
 * or '?' came between the previous token and this one. Returns -1 on
 * invalid UTF-8, with *pos at the offending byte. */
int elbo_next_token(const char *text, size_t len, size_t *pos, char *word, size_t cap, int *sentence_end);

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid
 * (overlong forms, surrogates and code points above U+10FFFF included);
 * s is NUL-terminated, so a cut sequence is invalid, never read past. */
int elbo_utf8_len(const unsigned char *s);

#endif
