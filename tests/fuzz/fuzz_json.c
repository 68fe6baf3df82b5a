/* fuzz_json.c — the JSON parser used for safetensors headers, in memory. */
#include <stdint.h>
#include <string.h>

#include "io/json.h"

static size_t walk(const json_node *n, int depth)
{
    size_t k = 1;
    if (n->type == JSON_STRING) k += strlen(n->str);
    for (const json_node *c = n->child; c; c = c->next) k += walk(c, depth + 1);
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_doc doc;
    size_t off;
    const char *msg;
    if (json_parse((const char *)data, size, &doc, &off, &msg) == 0) {
        walk(doc.root, 0);
        char buf[256];
        if (doc.root->type == JSON_OBJECT && doc.root->child)
            json_quote(buf, sizeof buf, doc.root->child->key);
        json_free(&doc);
    } else if (off > size) {
        __builtin_trap(); /* error offsets must lie inside the input */
    }
    return 0;
}
