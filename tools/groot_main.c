/* groot: the command-line entry point. Each subcommand lives in its own
 * cmd_*.c file and uses only the public API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"run", cmd_run, "observation in, actions out: images, state, instruction -> actions per key"},
    {"forward", cmd_forward, "run the network on preprocessed inputs from a .safetensors file"},
    {"serve", cmd_serve, "serve robots over ZeroMQ + msgpack (and HTTP)"},
    {"bench", cmd_bench, "time components of the pipeline against the device's floor"},
    {"synth", cmd_synth, "write a checkpoint with seeded random weights (tiny or n1.5-3b)"},
    {"info", cmd_info, "describe a checkpoint: configuration, parameters, memory"},
    {"tokenize", cmd_tokenize, "print the token ids of a text as JSON"},
    {"preprocess-image", cmd_preprocess_image, "crop and resize a camera frame as the model sees it"},
};

static void usage(FILE *f)
{
    fprintf(f, "groot %s - GR00T N1.5 policies in C\n\nusage: groot <command> [options]\n\n", GROOT_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-17s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'groot <command> --help' describes a command's options.\n");
}

/* OpenBLAS picked its kernels as this program loaded, and on a CPU model it
 * does not know they are the generic ones (groot_cpu_kernels_advice): run
 * again with the right ones chosen, once (the new image finds the choice
 * made). Should exec fail, carry on as detected. */
static void choose_cpu_kernels(char **argv)
{
    const char *core = groot_cpu_kernels_advice();
    if (!core || setenv("OPENBLAS_CORETYPE", core, 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE");
}

int main(int argc, char **argv)
{
    choose_cpu_kernels(argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("groot %s\n", GROOT_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "groot: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
