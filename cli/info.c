/* info.c — `elbo info --model M`: what a checkpoint holds, from its
 * metadata alone (elbo_checkpoint_info_read): kind, format, configuration,
 * position and the run record. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>

#include "args.h"
#include "cmds.h"
#include "opts.h"

static void info_help(void)
{
    printf("usage: elbo info --model PATH [--json]\n"
           "\n"
           "Prints what a checkpoint holds: the model kind and format, its configuration,\n"
           "the parameter count, the training position (epoch, step) and the run record\n"
           "(every option the run was started with). PATH is a run folder or a\n"
           "model.safetensors file.\n"
           "  --json       one JSON object instead of text\n");
}

static void print_json_pairs(const char *name, const elbo_run_record *r)
{
    printf(",\"%s\":{", name);
    for (int i = 0; i < r->n; i++) {
        printf("%s", i ? "," : "");
        json_string(r->e[i].key);
        putchar(':');
        json_string(r->e[i].value);
    }
    printf("}");
}

int cmd_info(int argc, char **argv)
{
    static const int allowed[] = {O_MODEL, O_JSON};
    infer_opts o;
    infer_defaults(&o);
    int rc = parse_infer("info", argc, argv, allowed, 2, info_help, 1, &o);
    if (rc != -1) return rc;
    elbo_checkpoint_info *in = malloc(sizeof *in);
    elbo_error err;
    if (!in || elbo_checkpoint_info_read(o.model, in, &err) != ELBO_OK) {
        fprintf(stderr, "elbo info: %s\n", in ? err.msg : "out of memory");
        free(in);
        return 1;
    }
    if (o.json) {
        printf("{\"kind\":");
        json_string(in->kind);
        printf(",\"format\":");
        json_string(in->format);
        printf(",\"elbo_version\":");
        json_string(in->version);
        printf(",\"parameters\":%zu,\"tensors\":%d,\"step\":%ld,\"epoch\":%d,\"epoch_examples\":%ld,"
               "\"optimizer_state\":%s",
               in->n_params, in->n_tensors, in->step, in->epoch, in->epoch_examples,
               in->has_optim ? "true" : "false");
        print_json_pairs("config", &in->config);
        print_json_pairs("run", &in->run);
        printf("}\n");
    } else {
        printf("%s\n  kind        %s (format %s, written by elbo %s)\n  parameters  %zu in %d tensors\n",
               o.model, in->kind, in->format, in->version[0] ? in->version : "?", in->n_params,
               in->n_tensors);
        if (in->has_optim)
            printf("  position    epoch %d done, step %ld%s\n", in->epoch, in->step,
                   in->epoch_examples ? " (inside the next epoch)" : "");
        else
            printf("  position    step %ld (weights only: no optimizer state)\n", in->step);
        printf("config\n");
        for (int i = 0; i < in->config.n; i++) printf("  %-16s %s\n", in->config.e[i].key, in->config.e[i].value);
        printf("run record%s\n", in->run.n ? "" : " (none)");
        for (int i = 0; i < in->run.n; i++) printf("  %-16s %s\n", in->run.e[i].key, in->run.e[i].value);
    }
    free(in);
    return 0;
}
