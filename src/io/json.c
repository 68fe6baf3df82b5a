/* json.c — see json.h. Recursive descent; two passes are avoided by
 * allocating nodes and strings from a growing list of arena blocks. */
#include "json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

typedef struct block {
    struct block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} block;

typedef struct {
    const char *s;
    size_t len, pos;
    block *blocks;
    const char *msg;
} parser;

static void *arena_alloc(parser *p, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    block *b = p->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        b = malloc(sizeof(block) + cap);
        if (!b) return NULL;
        b->next = p->blocks;
        b->used = 0;
        b->cap = cap;
        p->blocks = b;
    }
    void *r = b->data + b->used;
    b->used += n;
    return r;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int fail(parser *p, const char *msg)
{
    if (!p->msg) p->msg = msg;
    return -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_hex4(parser *p, unsigned *out)
{
    if (p->len - p->pos < 4) return fail(p, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p->s[p->pos + i]);
        if (h < 0) return fail(p, "bad hex digit in \\u escape");
        v = v * 16 + (unsigned)h;
    }
    p->pos += 4;
    *out = v;
    return 0;
}

/* Parses a string literal at p->pos (the opening quote) into the arena. */
static int parse_string(parser *p, const char **out)
{
    p->pos++; /* opening quote */
    size_t start = p->pos;
    while (p->pos < p->len && p->s[p->pos] != '"') p->pos += p->s[p->pos] == '\\' ? 2 : 1;
    if (p->pos >= p->len) {
        p->pos = p->len; /* an escape at the very end must not move past it */
        return fail(p, "unterminated string");
    }
    size_t raw = p->pos - start;
    char *dst = arena_alloc(p, raw + 1);
    if (!dst) return fail(p, "out of memory");
    size_t o = 0;
    p->pos = start;
    while (p->s[p->pos] != '"') {
        unsigned char c = (unsigned char)p->s[p->pos++];
        if (c < 0x20) return fail(p, "control character in string");
        if (c != '\\') {
            dst[o++] = (char)c;
            continue;
        }
        char e = p->s[p->pos++];
        switch (e) {
        case '"': dst[o++] = '"'; break;
        case '\\': dst[o++] = '\\'; break;
        case '/': dst[o++] = '/'; break;
        case 'b': dst[o++] = '\b'; break;
        case 'f': dst[o++] = '\f'; break;
        case 'n': dst[o++] = '\n'; break;
        case 'r': dst[o++] = '\r'; break;
        case 't': dst[o++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (read_hex4(p, &cp)) return -1;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
                    return fail(p, "unpaired surrogate");
                p->pos += 2;
                if (read_hex4(p, &lo)) return -1;
                if (lo < 0xDC00 || lo > 0xDFFF) return fail(p, "bad low surrogate");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return fail(p, "unpaired surrogate");
            }
            if (cp == 0) return fail(p, "NUL in string");
            /* a \u escape is 6 source bytes; UTF-8 needs at most 4 */
            if (cp < 0x80) {
                dst[o++] = (char)cp;
            } else if (cp < 0x800) {
                dst[o++] = (char)(0xC0 | (cp >> 6));
                dst[o++] = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                dst[o++] = (char)(0xE0 | (cp >> 12));
                dst[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                dst[o++] = (char)(0x80 | (cp & 0x3F));
            } else {
                dst[o++] = (char)(0xF0 | (cp >> 18));
                dst[o++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                dst[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                dst[o++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: return fail(p, "bad escape in string");
        }
    }
    dst[o] = 0;
    p->pos++; /* closing quote */
    *out = dst;
    return 0;
}

static int parse_number(parser *p, double *out)
{
    size_t st = p->pos;
    if (p->s[p->pos] == '-') p->pos++;
    if (p->pos >= p->len) return fail(p, "bad number");
    if (p->s[p->pos] == '0') {
        p->pos++;
    } else if (p->s[p->pos] >= '1' && p->s[p->pos] <= '9') {
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
    } else {
        return fail(p, "bad number");
    }
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9') return fail(p, "bad number");
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
        if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9') return fail(p, "bad number");
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
    }
    char tmp[64];
    size_t n = p->pos - st;
    if (n >= sizeof tmp) return fail(p, "number too long");
    memcpy(tmp, p->s + st, n);
    tmp[n] = 0;
    *out = strtod(tmp, NULL);
    return 0;
}

static int parse_value(parser *p, json_node *node, int depth)
{
    if (depth > JSON_MAX_DEPTH) return fail(p, "nesting too deep");
    skip_ws(p);
    if (p->pos >= p->len) return fail(p, "unexpected end of input");
    char c = p->s[p->pos];
    if (c == '{' || c == '[') {
        int is_obj = c == '{';
        node->type = is_obj ? JSON_OBJECT : JSON_ARRAY;
        p->pos++;
        skip_ws(p);
        json_node **tail = &node->child;
        if (p->pos < p->len && p->s[p->pos] == (is_obj ? '}' : ']')) {
            p->pos++;
            return 0;
        }
        for (;;) {
            json_node *ch = arena_alloc(p, sizeof *ch);
            if (!ch) return fail(p, "out of memory");
            memset(ch, 0, sizeof *ch);
            if (is_obj) {
                skip_ws(p);
                if (p->pos >= p->len || p->s[p->pos] != '"') return fail(p, "expected a member name");
                if (parse_string(p, &ch->key)) return -1;
                skip_ws(p);
                if (p->pos >= p->len || p->s[p->pos] != ':') return fail(p, "expected ':'");
                p->pos++;
            }
            if (parse_value(p, ch, depth + 1)) return -1;
            *tail = ch;
            tail = &ch->next;
            node->count++;
            skip_ws(p);
            if (p->pos >= p->len) return fail(p, "unexpected end of input");
            if (p->s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->s[p->pos] == (is_obj ? '}' : ']')) {
                p->pos++;
                return 0;
            }
            return fail(p, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    if (c == '"') {
        node->type = JSON_STRING;
        return parse_string(p, &node->str);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        node->type = JSON_NUMBER;
        return parse_number(p, &node->num);
    }
    static const struct { const char *w; json_type t; double v; } words[] = {
        {"true", JSON_BOOL, 1}, {"false", JSON_BOOL, 0}, {"null", JSON_NULL, 0}};
    for (size_t i = 0; i < 3; i++) {
        size_t wl = strlen(words[i].w);
        if (p->len - p->pos >= wl && memcmp(p->s + p->pos, words[i].w, wl) == 0) {
            p->pos += wl;
            node->type = words[i].t;
            node->num = words[i].v;
            return 0;
        }
    }
    return fail(p, "unexpected character");
}

static void free_blocks(block *b)
{
    while (b) {
        block *n = b->next;
        free(b);
        b = n;
    }
}

int json_parse(const char *text, size_t len, json_doc *doc, size_t *err_off, const char **err_msg)
{
    parser p = {text, len, 0, NULL, NULL};
    doc->root = NULL;
    doc->arena = NULL;
    json_node *root = arena_alloc(&p, sizeof *root);
    if (!root) {
        p.msg = "out of memory";
    } else {
        memset(root, 0, sizeof *root);
        if (parse_value(&p, root, 0) == 0) {
            skip_ws(&p);
            if (p.pos == p.len) {
                doc->root = root;
                doc->arena = p.blocks;
                return 0;
            }
            p.msg = "trailing characters after the value";
        }
    }
    if (err_off) *err_off = p.pos;
    if (err_msg) *err_msg = p.msg ? p.msg : "parse error";
    free_blocks(p.blocks);
    return -1;
}

void json_free(json_doc *doc)
{
    free_blocks(doc->arena);
    doc->arena = NULL;
    doc->root = NULL;
}

const json_node *json_get(const json_node *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    for (const json_node *c = obj->child; c; c = c->next)
        if (strcmp(c->key, key) == 0) return c;
    return NULL;
}

size_t json_quote(char *buf, size_t cap, const char *s)
{
    size_t o = 0;
#define PUT(ch)                                                                                \
    do {                                                                                       \
        if (o + 1 < cap) buf[o] = (ch);                                                        \
        o++;                                                                                   \
    } while (0)
    PUT('"');
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        if (*q == '"' || *q == '\\') {
            PUT('\\');
            PUT((char)*q);
        } else if (*q < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", *q);
            for (int i = 0; esc[i]; i++) PUT(esc[i]);
        } else {
            PUT((char)*q);
        }
    }
    PUT('"');
#undef PUT
    if (cap) buf[o < cap ? o : cap - 1] = 0;
    return o;
}
