/*
 * The state and action transforms of a data config for one embodiment's
 * metadata (SPEC.md section 6), compiled into a plan once and applied per
 * call without allocating.
 *
 * Per key, in config order, each StateActionSinCosTransform and
 * StateActionTransform that names the key becomes a chain of ops:
 *   sincos      x -> [sin(x), cos(x)]              (inverse: atan2)
 *   rotate      rotation_type -> target_rotations  (inverse: back)
 *   normalize   min_max / q99 / mean_std / binary  (inverse: unnormalize)
 * Forward runs the chain (states into the model); inverse runs it backwards
 * (actions out of the model). Keys are taken in the ConcatTransform's order;
 * a key's raw dim is its metadata "shape", its model dim what the chain
 * makes of it.
 *
 * Semantics follow the reference exactly, including its degenerate cases:
 * min_max gives 0 where max == min; q99 leaves x where q01 == q99 and then
 * clamps everything to [-1, 1]; mean_std leaves x where std == 0; binary is
 * x > 0.5. A converted absolute rotation that is normalized uses min_max
 * over fixed ranges ([-1, 1] for rotation_6d, quaternion and matrix;
 * [-pi, pi] for euler angles and axis-angle) instead of statistics;
 * normalizing a converted relative rotation is an error, as in the
 * reference. Arithmetic is double; statistics are float32 values.
 */
#ifndef GR_POLICY_NORMALIZE_H
#define GR_POLICY_NORMALIZE_H

#include "core/error.h"
#include "policy/data_config.h"
#include "policy/metadata.h"

typedef enum gr_sa_side { GR_SIDE_STATE = 0, GR_SIDE_ACTION = 1 } gr_sa_side;

typedef struct gr_transform_plan gr_transform_plan;

/* Checks everything that can be checked before data arrives: every key in
 * the concat orders has a metadata shape; rotation types parse and match
 * the shapes; every statistic a mode needs is present with the right length
 * (else GROOT_ERR_FORMAT naming file, tag, modality, key and statistic); the
 * action keys fit max_action_dim. A state wider than max_state_dim is not
 * an error: it is truncated, as the reference does. */
groot_status gr_transform_plan_build(const gr_data_config *cfg, const gr_metadata *md,
                                     gr_transform_plan **out, gr_error *err);
void gr_transform_plan_free(gr_transform_plan *p);

/* Keys of a side, in concat order: full name ("state.left_arm"), raw dim
 * (what the robot sends or receives) and model dim (after the chain). */
int gr_plan_num_keys(const gr_transform_plan *p, gr_sa_side side);
const char *gr_plan_key(const gr_transform_plan *p, gr_sa_side side, int i);
int gr_plan_raw_dim(const gr_transform_plan *p, gr_sa_side side, int i);
int gr_plan_model_dim(const gr_transform_plan *p, gr_sa_side side, int i);
/* Sum of the model dims of a side. */
int gr_plan_total_model_dim(const gr_transform_plan *p, gr_sa_side side);

/* One row forward: inputs[i] holds key i's raw values (concat order); out
 * gets the concatenated model values, zero-padded or truncated to out_dim
 * (max_state_dim for the state, as GR00TTransform does). */
groot_status gr_plan_forward(gr_transform_plan *p, gr_sa_side side, const double *const *inputs,
                             float *out, int out_dim, gr_error *err);

/* Rows backward: in is [rows, in_dim] model values (the action head's
 * [horizon, action_dim]); key i's raw values land in outs[i] as
 * [rows, raw_dim(i)]. The dims past the keys' total are dropped.
 * GROOT_ERR_INVALID_ARG when in_dim is smaller than the keys' total. */
groot_status gr_plan_inverse(gr_transform_plan *p, gr_sa_side side, const float *in, int rows,
                             int in_dim, float *const *outs, gr_error *err);

#endif
