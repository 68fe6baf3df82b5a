/* main.c — the elbo command-line tool: dispatches to the subcommands. The
 * CLI uses only the public API in include/elbo.h. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "par.h"

static void usage(FILE *f)
{
    fprintf(f,
            "elbo %s — variational inference in C\n"
            "\n"
            "usage: elbo <command> [options]\n"
            "\n"
            "commands:\n"
            "  train        train a VAE (or --kind bnn: a Bayesian classifier) on MNIST-layout\n"
            "               data; writes checkpoint, metrics, images\n"
            "  eval         test-set -ELBO (reconstruction + KL) of a checkpoint\n"
            "  sample       decode samples from the prior into a PNG grid or .npy\n"
            "  decode       decode latents you choose (.npy) into a PNG grid or .npy\n"
            "  reconstruct  test images beside their reconstructions, as PNG\n"
            "  encode       latent means/log-variances as .npy, a scatter PNG, a linear probe\n"
            "  score        anomaly scores (-ELBO, IW -log p(x), reconstruction), AUROC/AUPRC\n"
            "  interpolate  decoded interpolations between pairs of test images, as PNG\n"
            "  manifold     the decoded 2-D latent manifold (latent size 2), as PNG\n"
            "  plot         loss curves from metrics.jsonl, as PNG\n"
            "  info         a checkpoint's kind, configuration, position and run record\n"
            "  bnn          eval / predict / prune a Bayesian network (train --kind bnn)\n"
            "  fit          variational inference for your own model (a plug-in)\n"
            "  lda          topic models: prepare text, train, topics, infer, eval\n"
            "  m2           semi-supervised M2: train, eval, predict, sample, analogies\n"
            "\n"
            "Run 'elbo <command> --help' or 'elbo help <command>' for a command's options.\n"
            "  --version    print the version and whether this build has MPI\n",
            elbo_version());
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
} CMDS[] = {{"train", cmd_train},   {"eval", cmd_eval},         {"sample", cmd_sample},      {"decode", cmd_decode},
            {"reconstruct", cmd_reconstruct}, {"encode", cmd_encode}, {"score", cmd_score},
            {"interpolate", cmd_interpolate}, {"manifold", cmd_manifold}, {"plot", cmd_plot},
            {"info", cmd_info},               {"bnn", cmd_bnn},         {"fit", cmd_fit},
            {"lda", cmd_lda},                 {"m2", cmd_m2}};

/* Runs command name with its argv, or returns -1 when there is none. */
static int dispatch(const char *name, int argc, char **argv)
{
    for (size_t i = 0; i < sizeof CMDS / sizeof CMDS[0]; i++)
        if (!strcmp(name, CMDS[i].name)) return CMDS[i].fn(argc, argv);
    return -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "help") && argc > 2) { /* elbo help CMD: CMD --help */
        char *hargv[] = {argv[2], "--help", NULL};
        int rc = dispatch(argv[2], 2, hargv);
        if (rc != -1) return rc;
        fprintf(stderr, "elbo help: unknown command '%s'\n\n", argv[2]);
        usage(stderr);
        return 2;
    }
    if (!strcmp(c, "-h") || !strcmp(c, "--help") || !strcmp(c, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(c, "--version") || !strcmp(c, "version")) {
        printf("elbo %s (%s)\n", elbo_version(), par_describe());
        return 0;
    }
    /* under mpirun (an MPI build): every rank runs the command; a rank that
     * fails ends the job, so that no other rank waits for it */
    if (par_init(&argc, &argv)) return 1;
    int rc = dispatch(c, argc - 1, argv + 1);
    if (rc == 1) par_abort("the command failed (see the message above); ending the job");
    par_finalize();
    if (rc != -1) return rc;
    fprintf(stderr, "elbo: unknown command '%s'\n\n", c);
    usage(stderr);
    return 2;
}
