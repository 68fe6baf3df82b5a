/* record.c — the run record (elbo.h, "run records"): every option of a
 * training run as key/value strings, for checkpoints and resume. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util/common.h"
#include "trainer.h"

elbo_status elbo_run_record_set(elbo_run_record *r, const char *key, const char *value,
                                elbo_error *err)
{
    if (strlen(key) >= sizeof r->e[0].key || strlen(value) >= sizeof r->e[0].value)
        return elbo_fail(err, ELBO_ERR_ARG, "run record: '%s' or its value is too long", key);
    int i = 0;
    while (i < r->n && strcmp(r->e[i].key, key) != 0) i++;
    if (i == r->n) {
        if (r->n >= ELBO_KV_MAX) return elbo_fail(err, ELBO_ERR_ARG, "run record: full at '%s'", key);
        r->n++;
    }
    snprintf(r->e[i].key, sizeof r->e[i].key, "%s", key);
    snprintf(r->e[i].value, sizeof r->e[i].value, "%s", value);
    return ELBO_OK;
}

const char *elbo_run_record_get(const elbo_run_record *r, const char *key)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->e[i].key, key) == 0) return r->e[i].value;
    return NULL;
}

const char *elbo_format_double(char *buf, size_t cap, double v)
{
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, cap, "%.*g", digits, v);
        if (strtod(buf, NULL) == v || !isfinite(v)) break;
    }
    return buf;
}

static elbo_status set_num(elbo_run_record *r, const char *key, double v, elbo_error *err)
{
    char buf[64];
    elbo_format_double(buf, sizeof buf, v);
    return elbo_run_record_set(r, key, buf, err);
}

elbo_status elbo_run_record_train_config(elbo_run_record *r, const elbo_train_config *tc,
                                         elbo_error *err)
{
    elbo_status st = ELBO_OK;
    if (!st) st = set_num(r, "lr", tc->lr, err);
    if (!st) st = set_num(r, "batch", tc->batch_size, err);
    if (!st) st = set_num(r, "adam_beta1", tc->beta1, err);
    if (!st) st = set_num(r, "adam_beta2", tc->beta2, err);
    if (!st) st = set_num(r, "adam_eps", tc->eps, err);
    if (!st) st = set_num(r, "clip_grad", tc->clip_grad, err);
    if (!st) st = set_num(r, "beta", tc->beta, err);
    if (!st) st = set_num(r, "kl_warmup", tc->kl_warmup_epochs, err);
    if (!st) st = set_num(r, "kl_cycle", tc->kl_cycle_epochs, err);
    if (!st) st = set_num(r, "free_bits", tc->free_bits, err);
    if (!st) st = elbo_run_record_set(r, "objective", tc->objective == ELBO_OBJ_IWAE ? "iwae" : "elbo", err);
    if (!st) st = set_num(r, "samples", tc->samples, err);
    if (!st && tc->labelled_batch) st = set_num(r, "labelled_batch", tc->labelled_batch, err);
    if (!st && trainer_lr_decays(tc)) st = set_num(r, "lr_decay", tc->lr_decay, err);
    if (!st && tc->lr_min != 0.0) st = set_num(r, "lr_min", tc->lr_min, err);
    if (!st && tc->optimizer == ELBO_OPTIM_SGD) st = elbo_run_record_set(r, "optimizer", "sgd", err);
    if (!st && tc->momentum != 0.0) st = set_num(r, "momentum", tc->momentum, err);
    if (!st && tc->ema != 0.0) st = set_num(r, "ema", tc->ema, err);
    return st;
}

/* The number under key, if r has it: 1 read, 0 absent, -1 bad. */
static int get_num(const elbo_run_record *r, const char *key, double *out)
{
    const char *v = elbo_run_record_get(r, key);
    if (!v) return 0;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x)) return -1;
    *out = x;
    return 1;
}

elbo_status elbo_train_config_from_record(const elbo_run_record *r, elbo_train_config *tc,
                                          elbo_error *err)
{
    struct { const char *key; double *d; int *i; } f[] = {
        {"lr", &tc->lr, NULL},           {"batch", NULL, &tc->batch_size},
        {"adam_beta1", &tc->beta1, NULL}, {"adam_beta2", &tc->beta2, NULL},
        {"adam_eps", &tc->eps, NULL},     {"clip_grad", &tc->clip_grad, NULL},
        {"beta", &tc->beta, NULL},        {"kl_warmup", NULL, &tc->kl_warmup_epochs},
        {"kl_cycle", NULL, &tc->kl_cycle_epochs}, {"free_bits", &tc->free_bits, NULL},
        {"samples", NULL, &tc->samples},  {"labelled_batch", NULL, &tc->labelled_batch},
        {"lr_decay", &tc->lr_decay, NULL}, {"lr_min", &tc->lr_min, NULL},
        {"momentum", &tc->momentum, NULL}, {"ema", &tc->ema, NULL}};
    for (size_t k = 0; k < sizeof f / sizeof f[0]; k++) {
        double v;
        int got = get_num(r, f[k].key, &v);
        if (got < 0 || (got && f[k].i && (v != floor(v) || fabs(v) > 1e9)))
            return elbo_fail(err, ELBO_ERR_FORMAT, "run record: '%s' = '%s' is not a valid value",
                             f[k].key, elbo_run_record_get(r, f[k].key));
        if (got && f[k].d) *f[k].d = v;
        if (got && f[k].i) *f[k].i = (int)v;
    }
    const char *obj = elbo_run_record_get(r, "objective");
    if (obj && strcmp(obj, "elbo") && strcmp(obj, "iwae"))
        return elbo_fail(err, ELBO_ERR_FORMAT, "run record: unknown objective '%s'", obj);
    if (obj) tc->objective = strcmp(obj, "iwae") == 0 ? ELBO_OBJ_IWAE : ELBO_OBJ_ELBO;
    const char *opt = elbo_run_record_get(r, "optimizer");
    if (opt && strcmp(opt, "adam") && strcmp(opt, "sgd"))
        return elbo_fail(err, ELBO_ERR_FORMAT, "run record: unknown optimizer '%s'", opt);
    if (opt) tc->optimizer = strcmp(opt, "sgd") == 0 ? ELBO_OPTIM_SGD : ELBO_OPTIM_ADAM;
    return ELBO_OK;
}

elbo_status trainer_record(const trainer *t, const elbo_train_config *tc, int train_rows,
                           elbo_run_record *r, elbo_error *err)
{
    char buf[32];
    elbo_status st = elbo_run_record_train_config(r, tc, err);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)t->seed);
    if (!st) st = elbo_run_record_set(r, "seed", buf, err);
    snprintf(buf, sizeof buf, "%d", train_rows);
    if (!st) st = elbo_run_record_set(r, "train_rows", buf, err);
    return st;
}
