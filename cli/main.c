/* main.c — the elbo command-line tool: dispatches to the subcommands. The
 * CLI uses only the public API in include/elbo.h. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"

static void usage(FILE *f)
{
    fprintf(f,
            "elbo %s — variational inference in C\n"
            "\n"
            "usage: elbo <command> [options]\n"
            "\n"
            "commands:\n"
            "  train        train a VAE on MNIST-layout data; writes checkpoint, metrics, images\n"
            "  eval         test-set -ELBO (reconstruction + KL) of a checkpoint\n"
            "  sample       decode samples from the prior into a PNG grid\n"
            "  reconstruct  test images beside their reconstructions, as PNG\n"
            "  encode       latent means/log-variances as .npy, a scatter PNG, a linear probe\n"
            "  score        anomaly scores (-ELBO, IW -log p(x), reconstruction), AUROC/AUPRC\n"
            "  interpolate  decoded interpolations between pairs of test images, as PNG\n"
            "  manifold     the decoded 2-D latent manifold (latent size 2), as PNG\n"
            "  plot         loss curves from metrics.jsonl, as PNG\n"
            "\n"
            "Run 'elbo <command> --help' for a command's options.\n"
            "  --version    print the version\n",
            elbo_version());
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "-h") || !strcmp(c, "--help") || !strcmp(c, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(c, "--version") || !strcmp(c, "version")) {
        printf("elbo %s\n", elbo_version());
        return 0;
    }
    if (!strcmp(c, "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(c, "eval")) return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(c, "sample")) return cmd_sample(argc - 1, argv + 1);
    if (!strcmp(c, "reconstruct")) return cmd_reconstruct(argc - 1, argv + 1);
    if (!strcmp(c, "encode")) return cmd_encode(argc - 1, argv + 1);
    if (!strcmp(c, "score")) return cmd_score(argc - 1, argv + 1);
    if (!strcmp(c, "interpolate")) return cmd_interpolate(argc - 1, argv + 1);
    if (!strcmp(c, "manifold")) return cmd_manifold(argc - 1, argv + 1);
    if (!strcmp(c, "plot")) return cmd_plot(argc - 1, argv + 1);
    fprintf(stderr, "elbo: unknown command '%s'\n\n", c);
    usage(stderr);
    return 2;
}
