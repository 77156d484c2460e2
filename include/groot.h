/*
 * groot: GR00T N1.5 vision-language-action policies, natively.
 *
 * Public API. Every handle is opaque. Every call returns a groot_status; on
 * failure, groot_errmsg(handle) says what went wrong, naming the file, tensor
 * or key involved. Handles are created even when opening fails (as sqlite3_open
 * does) so that the message can be read; close them in every case.
 *
 * A handle is not thread-safe: use one per thread, or serialize calls.
 */
#ifndef GROOT_H
#define GROOT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GROOT_VERSION "0.1.0"

typedef enum groot_status {
    GROOT_OK = 0,
    GROOT_ERR_IO,          /* a file could not be opened, read, mapped or written */
    GROOT_ERR_FORMAT,      /* a file's content is malformed or inconsistent */
    GROOT_ERR_INVALID_ARG, /* a caller-supplied value is out of range or the wrong shape */
    GROOT_ERR_NOMEM,       /* host or device allocation failed */
    GROOT_ERR_UNSUPPORTED, /* a valid request this build or device cannot serve */
    GROOT_ERR_DEVICE,      /* the accelerator or its runtime failed */
    GROOT_ERR_INTERNAL     /* a broken invariant: a bug in groot */
} groot_status;

/* Short name of a status code ("GROOT_ERR_FORMAT"). Never NULL. */
const char *groot_status_name(groot_status s);

/* The message of the last failed call on handle (any groot_* handle), or "" when
 * the last call succeeded. Valid until the next call on that handle. */
const char *groot_errmsg(const void *handle);

/* The CPU math library's kernels. Debian's OpenBLAS picks them by CPU model
 * when it loads and falls back to generic SSE3 code ("Prescott") on models
 * newer than it knows (an Emerald Rapids Xeon, for one), 4-6x slower. Returns
 * the OPENBLAS_CORETYPE value that selects the kernels this CPU runs (AVX-512
 * or AVX2), or NULL where the detected kernels are right or the environment
 * already chose. Only a new process can act on it (the groot tool restarts
 * itself with it set). */
const char *groot_cpu_kernels_advice(void);

/* ---------------------------------------------------------------- model --- */

typedef struct groot_model groot_model;

typedef struct groot_model_options {
    /* "cpu" (default) or "cuda". */
    const char *device;
    /* "fp32" (default), "tf32", "bf16", "fp16", or per component, e.g.
     * "vit=bf16,llm=bf16,vl=bf16,dit=fp16". Components: vit, llm, vl, dit. */
    const char *precision;
    /* Denoising steps; 0 takes num_inference_timesteps from config.json. */
    int denoising_steps;
    /* Accumulate reduced-precision GEMMs and softmax in fp32 (default 1). */
    int fp32_accumulate;
    /* CPU worker threads; 0 lets OpenMP decide. */
    int num_threads;
} groot_model_options;

/* Fills opts with the defaults above. */
void groot_model_options_init(groot_model_options *opts);

/* Opens a checkpoint directory (config.json, model.safetensors[.index.json],
 * optional eagle2_hg_model/config.json). assets_dir holds groot's bundled
 * assets (the default backbone config); NULL uses the compiled-in path.
 * *out is set even on failure (NULL only when memory ran out). */
groot_status groot_model_open(const char *checkpoint_dir, const char *assets_dir,
                              const groot_model_options *opts, groot_model **out);
void groot_model_close(groot_model *model);

/* Sizes a caller needs to build inputs and size outputs. */
typedef struct groot_model_dims {
    int image_size;          /* 224 */
    int tokens_per_image;    /* 256 */
    int image_token_id;      /* 151669 */
    int vocab_size;
    int backbone_dim;        /* language model width: backbone_features' last dim */
    int max_state_dim;       /* 64 */
    int action_horizon;      /* 16 */
    int action_dim;          /* 32 */
    int state_feature_dim;   /* action head input_embedding_dim: state_features' width */
    int denoising_steps;     /* as opened */
    int num_embodiments;     /* 32 */
    int seq_bucket;          /* prompts are padded to a multiple of this many tokens (1: not padded) */
} groot_model_dims;

groot_status groot_model_get_dims(groot_model *model, groot_model_dims *dims);

/* A camera frame the engine crops and resizes itself, on the model's device:
 * the window (crop_top, crop_left, crop_height, crop_width) of an RGB image
 * is resized to image_size x image_size (SPEC.md section 3: antialiased
 * bilinear, truncated to uint8) and normalized as pixel_values are. The
 * same bytes as the host path (the policy's preprocessing before). */
typedef struct groot_frame {
    const uint8_t *rgb; /* [height, width, 3], row-major */
    int height, width;  /* 1 .. 16384 each */
    int crop_top, crop_left, crop_height, crop_width;
} groot_frame;

/* One sample, already tokenized and preprocessed (what the network sees). */
typedef struct groot_sample {
    const int32_t *input_ids; /* [seq_len]; exactly num_views*tokens_per_image image tokens */
    int seq_len;
    const float *pixel_values; /* [num_views, 3, image_size, image_size], normalized */
    const groot_frame *frames; /* or [num_views] camera frames: exactly one of the two is set */
    int num_views;
    const float *state;        /* [max_state_dim], normalized, zero-padded */
    int embodiment_id;         /* 0 .. num_embodiments-1 */
    const float *init_noise;   /* [action_horizon, action_dim] */
} groot_sample;

/* Where to put one sample's results. Any pointer may be NULL (not wanted). */
typedef struct groot_sample_out {
    float *action_pred;       /* [action_horizon, action_dim] */
    float *vit_embeds;        /* [num_views, tokens_per_image, backbone_dim] (after mlp1) */
    float *backbone_features; /* [seq_len, backbone_dim] */
    float *vl_embs;           /* [seq_len, backbone_dim] (after vlln + vl_self_attention) */
    float *state_features;    /* [state_feature_dim]: the state encoder's one token */
    float *velocities;        /* [denoising_steps, action_horizon, action_dim] */
} groot_sample_out;

/* Time of each stage of the last call, in milliseconds, from the backend's
 * timer marks (CUDA events on the GPU, the monotonic clock on the CPU). */
typedef struct groot_timings {
    double preprocess_ms;  /* policy only: tokenizer, crop windows, state */
    /* upload_ms: inputs copied in, camera frames given as frames resized */
    double upload_ms, vision_ms, language_ms, vl_ms, action_head_ms, download_ms;
    double postprocess_ms; /* policy only: unnormalize, split per key */
    double total_ms;
    /* 1: the call replayed the recorded work of an earlier call of its shape
     * (batch, views, prompt length bucket); 0: it ran that work directly, as
     * every CPU call and the first two GPU calls of a shape do (the first
     * also tunes the GEMMs, the second captures a CUDA graph). */
    int replayed;
} groot_timings;

/* Runs the network on a batch. Each sample is computed exactly as if it were
 * alone (SPEC.md, Rule — batching). timings may be NULL. */
groot_status groot_forward(groot_model *model, const groot_sample *samples, int batch,
                           groot_sample_out *outs, groot_timings *timings);

/* ----------------------------------------------------------- benchmarks --- */
/* Times one component of the network on synthetic inputs (the reference's
 * run_groot_torchtrt.py --benchmark cuda_event) with the backend's timer
 * marks (CUDA events on the GPU, the monotonic clock on the CPU), and
 * compares it with its floor on this device: the bytes it must move over
 * the measured copy bandwidth, or the FLOPs it must do over the measured
 * GEMM rate in its precision, whichever is larger.
 *
 * component: vit, llm, vl (vlln + vl_self_attention), state_encoder,
 * action_encoder, dit (one step), action_decoder, action_head (state
 * encoder and every step), backbone (vit + llm), all (the whole forward:
 * upload, network, download). Anything else is GROOT_ERR_INVALID_ARG
 * naming the valid ones. seq_len 0 takes the reference benchmark's prompt
 * length: 38 + views*(tokens_per_image + 7) - 7. The model's plan is left
 * sized for this shape. */
typedef struct groot_bench_result {
    const char *component; /* static string */
    int batch, views, seq_len, iters;
    double median_ms, min_ms, p90_ms, mean_ms;
    double bytes, flops;          /* what one call must move and compute */
    double bandwidth_gbs;         /* measured copy bandwidth, GB/s (read + write) */
    double matrix_tflops;         /* measured GEMM rate in this component's precision(s) */
    double floor_ms;              /* max(bytes / bandwidth, flops / matrix rate) */
    double ratio;                 /* median_ms / floor_ms */
    double memory_mib;            /* device memory in use (GPU) or resident memory (CPU), MiB */
    /* all only (0 otherwise): medians of the call's parts, from the same
     * runs' groot_timings: inputs uploaded, the network, outputs back. */
    double upload_ms, network_ms, download_ms;
} groot_bench_result;

groot_status groot_bench(groot_model *model, const char *component, int batch, int views, int seq_len, int iters,
                         int warmup, groot_bench_result *out);

/* The rates the floors use, measured on the model's device on first use
 * (well under 2 s on the CPU) and cached in the model. matrix_tflops is the
 * GEMM rate in the language model's precision. Either pointer may be NULL. */
groot_status groot_bench_device_rates(groot_model *model, double *bandwidth_gbs, double *matrix_tflops);

/* --------------------------------------------------------- tensor files --- */
/* Named tensors in a .safetensors file: what `groot forward` reads and
 * writes, and what tests compare. Reading memory-maps and validates the file. */

typedef enum groot_dtype {
    GROOT_F32 = 0,
    GROOT_BF16,
    GROOT_F16,
    GROOT_I32,
    GROOT_U8,
    GROOT_F64,
    GROOT_I64,
    GROOT_I16,
    GROOT_I8,
    GROOT_BOOL
} groot_dtype;

#define GROOT_MAX_DIMS 8

typedef struct groot_tensors groot_tensors;

/* Opens a file for reading. *out is set even on failure (see groot_errmsg). */
groot_status groot_tensors_open(const char *path, groot_tensors **out);
/* Creates an empty set for writing. */
groot_status groot_tensors_create(groot_tensors **out);
/* Looks a tensor up; GROOT_ERR_INVALID_ARG naming it when absent. Any out
 * pointer may be NULL. data stays valid until groot_tensors_close. */
groot_status groot_tensors_get(groot_tensors *t, const char *name, groot_dtype *dtype, int *ndim,
                               int64_t shape[GROOT_MAX_DIMS], const void **data);
/* Number of tensors and the name of the i-th (sorted by name). */
int groot_tensors_count(const groot_tensors *t);
const char *groot_tensors_name(const groot_tensors *t, int i);
/* Adds a tensor to a set made by groot_tensors_create (data is copied). */
groot_status groot_tensors_add(groot_tensors *t, const char *name, groot_dtype dtype, int ndim,
                               const int64_t *shape, const void *data);
groot_status groot_tensors_write(groot_tensors *t, const char *path);
void groot_tensors_close(groot_tensors *t);

/* ------------------------------------------------------------ synthesis --- */
/* Writes a complete checkpoint in the released layout with seeded random
 * weights of realistic scale: config.json, model.safetensors.index.json, bf16
 * shards of at most 4 GiB, eagle2_hg_model/config.json and
 * experiment_cfg/metadata.json. preset: "tiny" or "n1.5-3b". The weights are
 * random: actions from them mean nothing. On failure errbuf (if not NULL)
 * holds the message. */
groot_status groot_synth(const char *preset, uint64_t seed, const char *out_dir,
                         char *errbuf, size_t errbuf_size);

/* Describes a checkpoint from its configs and tensor headers alone (no
 * weights are loaded): configuration, parameter counts per component, weight
 * memory per precision, and whether every tensor the network needs is present
 * with the right shape. On failure `out` holds the error message. */
groot_status groot_checkpoint_describe(const char *checkpoint_dir, const char *assets_dir, char *out,
                                       size_t out_size);

/* Human-readable description of an opened model: configuration, parameter
 * counts per component, weight memory per precision. Returns a string the
 * model owns, valid until the next call on it. */
const char *groot_model_describe(groot_model *model);

/* ------------------------------------------------------------ tokenizer --- */
/* Qwen2 byte-level BPE (SPEC.md section 2) from the bundled vocab.json,
 * merges.txt and added_tokens.json. */

typedef struct groot_tokenizer groot_tokenizer;

/* assets_dir NULL: compiled-in path; the files are in assets_dir/eagle2_hg_model. */
groot_status groot_tokenizer_open(const char *assets_dir, groot_tokenizer **out);
void groot_tokenizer_close(groot_tokenizer *tok);
/* Encodes UTF-8 text (special tokens matched literally; no BOS/EOS). *ids is
 * owned by the tokenizer, valid until its next call. Invalid UTF-8 is
 * GROOT_ERR_INVALID_ARG naming the byte offset. */
groot_status groot_tokenize(groot_tokenizer *tok, const char *text, size_t len,
                            const int32_t **ids, size_t *num_ids);

/* -------------------------------------------------- image preprocessing --- */
/* Camera frames as uint8 H x W x 3 RGB, row-major (SPEC.md section 3). On
 * failure errbuf (if not NULL) holds the message. */

/* Reads a PNG or JPEG (RGBA drops alpha; gray is replicated) or a .npy uint8
 * [H,W,3]. *pixels is allocated: release it with groot_image_free. */
groot_status groot_image_load(const char *path, uint8_t **pixels, int *height, int *width,
                              char *errbuf, size_t errbuf_size);
void groot_image_free(uint8_t *pixels);

/* The reference's eval-mode preprocessing: center crop by crop_scale, then
 * antialiased bilinear resize to out_height x out_width (224x224 for the
 * model), back to uint8 by truncation. out holds out_height*out_width*3. */
groot_status groot_image_preprocess(const uint8_t *pixels, int height, int width,
                                    double crop_scale, int out_height, int out_width,
                                    uint8_t *out, char *errbuf, size_t errbuf_size);

/* Writes a .png or .npy (chosen by the extension of path). */
groot_status groot_image_save(const char *path, const uint8_t *pixels, int height, int width,
                              char *errbuf, size_t errbuf_size);

/* --------------------------------------------------------------- policy --- */
/* Observation in, actions out (SPEC.md sections 2, 3 and 6): tokenizer and
 * prompt, camera preprocessing, state normalization for an embodiment's data
 * config, the network, and actions back in the robot's units per key. */

typedef struct groot_policy groot_policy;

typedef struct groot_policy_options {
    groot_model_options model;
    const char *data_config;    /* a bundled config's name ("fourier_gr1_arms_only") or a JSON file path */
    const char *embodiment_tag; /* "gr1", "new_embodiment", ... */
    uint64_t seed;              /* initial-noise generator seed */
    const char *assets_dir;     /* NULL: compiled-in path */
} groot_policy_options;

void groot_policy_options_init(groot_policy_options *opts);

groot_status groot_policy_open(const char *checkpoint_dir, const groot_policy_options *opts,
                               groot_policy **out);
void groot_policy_close(groot_policy *policy);

/* A named array, C order. */
typedef struct groot_array {
    const char *name;
    groot_dtype dtype;
    int ndim;
    int64_t shape[GROOT_MAX_DIMS];
    const void *data;
} groot_array;

/* The observation of one call. Unbatched (batch == 0): video.K uint8
 * [1,H,W,3], state.K float32/float64 [1,d], one instruction. Batched
 * (batch == B >= 1): a leading B on every array and B instructions. */
typedef struct groot_observation {
    const groot_array *arrays;
    int num_arrays;
    const char *const *instructions; /* UTF-8; 1 (unbatched) or B of them */
    int batch;
    /* Optional [max(B,1), horizon, action_dim] initial noise replacing the
     * seeded generator's (replaying a recorded call, tests); NULL normally. */
    const float *init_noise;
} groot_observation;

/* Runs one call. On success *actions points at num_actions arrays
 * "action.K" float32 [16,d] (or [B,16,d] when batched), owned by the policy
 * and valid until the next call on it. */
groot_status groot_policy_get_action(groot_policy *policy, const groot_observation *obs,
                                     const groot_array **actions, int *num_actions);

/* The modality description a client asks for, as compact JSON:
 * {"video":{"delta_indices":[0],"modality_keys":["video.ego_view"]},"state":...,
 *  "action":...,"language":...}. Owned by the policy. */
const char *groot_policy_modality_json(groot_policy *policy);

/* Stage times of the last get_action. */
groot_status groot_policy_timings(groot_policy *policy, groot_timings *timings);

/* Runs calls on a synthetic observation (mid-gray frames, a state at the
 * metadata's mean) so that the first real calls find every buffer planned
 * and, on CUDA, their GEMMs tuned and their graphs recorded: there, twice
 * each, instructions of 1 to 65 words, whose prompts reach five buckets of
 * prompt lengths (groot_model_dims.seq_bucket), so that an instruction of
 * up to about 64 tokens runs at full speed from its first call (about 1.5 s
 * for the 3B model on an H100); on the CPU, one call. The noise generator
 * is left as it was. */
groot_status groot_policy_warmup(groot_policy *policy);

/* Re-seeds the initial-noise generator. */
void groot_policy_seed(groot_policy *policy, uint64_t seed);

#ifdef __cplusplus
}
#endif
#endif /* GROOT_H */
