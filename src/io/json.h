/* json.h — a small strict JSON parser (RFC 8259) used for safetensors
 * headers. The parse result is a tree of nodes in one arena owned by a
 * json_doc; strings are NUL-terminated UTF-8 copies. Depth is limited. */
#ifndef ELBO_JSON_H
#define ELBO_JSON_H

#include <stddef.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_node {
    json_type type;
    double num;            /* JSON_NUMBER, JSON_BOOL (0/1) */
    const char *str;       /* JSON_STRING value */
    const char *key;       /* member name when the parent is an object */
    struct json_node *child, *next; /* first element/member, next sibling */
    size_t count;          /* number of children (arrays and objects) */
} json_node;

typedef struct {
    json_node *root;
    void *arena; /* owns nodes and strings */
} json_doc;

/* Parses text[len] (need not be NUL-terminated). On failure returns -1 and
 * writes the byte offset of the error to *err_off and a reason to err_msg. */
int json_parse(const char *text, size_t len, json_doc *doc, size_t *err_off, const char **err_msg);
void json_free(json_doc *doc);

/* Member of an object by name, or NULL. */
const json_node *json_get(const json_node *obj, const char *key);

/* Appends s to buf as a JSON string literal (quotes and escapes). Returns the
 * number of bytes written, or the number needed when cap is too small. */
size_t json_quote(char *buf, size_t cap, const char *s);

#endif
