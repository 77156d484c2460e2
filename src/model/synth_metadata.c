/*
 * experiment_cfg/metadata.json of a synthesized checkpoint (SPEC.md section
 * 6): the "gr1" embodiment with the fourier_gr1_arms_only keys, so that a
 * policy can be opened on it with that data config. The statistics are
 * invented but shaped like real ones: arm joints in radians around zero,
 * hand joints in [0, 1]-ish ranges, min <= q01 <= mean <= q99 <= max and
 * std > 0 per dimension, and actions (joint targets) spanning a little more
 * than the states they track.
 */
#include <math.h>

#include "model/synth.h"
#include "model/synth_rng.h"

typedef struct part {
    const char *key;
    int dim;
    double center_lo, center_hi; /* range of a dimension's center */
    double half_lo, half_hi;     /* range of its half-width */
} part;

static const part gr1_parts[] = {
    {"left_arm", 7, -0.6, 0.6, 0.4, 1.4},
    {"right_arm", 7, -0.6, 0.6, 0.4, 1.4},
    {"left_hand", 6, 0.3, 0.7, 0.2, 0.5},
    {"right_hand", 6, 0.3, 0.7, 0.2, 0.5},
};
#define NUM_PARTS (int)(sizeof gr1_parts / sizeof gr1_parts[0])
#define MAX_DIM 7

static double between(gr_rng *r, double lo, double hi) { return lo + (hi - lo) * gr_rng_uniform(r); }

/* Six decimals keep the file readable; rounding is monotone, so the order
 * of the statistics survives it. */
static double six(double x) { return round(x * 1e6) / 1e6; }

typedef struct stats {
    double min[MAX_DIM], max[MAX_DIM], mean[MAX_DIM], std[MAX_DIM], q01[MAX_DIM], q99[MAX_DIM];
} stats;

static void draw_stats(gr_rng *r, double center, double half, int i, stats *s)
{
    double lo = center - half, hi = center + half;
    double q01 = lo + half * between(r, 0.02, 0.1), q99 = hi - half * between(r, 0.02, 0.1);
    s->min[i] = six(lo);
    s->max[i] = six(hi);
    s->q01[i] = six(q01);
    s->q99[i] = six(q99);
    s->mean[i] = six(q01 + (q99 - q01) * between(r, 0.3, 0.7));
    s->std[i] = six((q99 - q01) * between(r, 0.15, 0.3));
}

static int add_array(cJSON *o, const char *key, const double *v, int n)
{
    cJSON *a = cJSON_CreateDoubleArray(v, n);
    if (!a)
        return 0;
    if (!cJSON_AddItemToObject(o, key, a)) {
        cJSON_Delete(a);
        return 0;
    }
    return 1;
}

static int add_stats(cJSON *parent, const char *key, const stats *s, int dim)
{
    cJSON *o = cJSON_AddObjectToObject(parent, key);
    return o && add_array(o, "max", s->max, dim) && add_array(o, "min", s->min, dim) &&
           add_array(o, "mean", s->mean, dim) && add_array(o, "std", s->std, dim) &&
           add_array(o, "q01", s->q01, dim) && add_array(o, "q99", s->q99, dim);
}

static int add_modality(cJSON *parent, const char *key, int dim)
{
    cJSON *o = cJSON_AddObjectToObject(parent, key);
    if (!o || !cJSON_AddTrueToObject(o, "absolute") || !cJSON_AddNullToObject(o, "rotation_type"))
        return 0;
    cJSON *shape = cJSON_CreateIntArray(&dim, 1);
    if (!shape || !cJSON_AddItemToObject(o, "shape", shape)) {
        cJSON_Delete(shape);
        return 0;
    }
    return cJSON_AddTrueToObject(o, "continuous") != NULL;
}

static int build(cJSON *root, uint64_t seed)
{
    gr_rng r;
    gr_rng_init(&r, seed, gr_rng_hash("experiment_cfg/metadata.json"), 0);
    cJSON *tag = cJSON_AddObjectToObject(root, "gr1");
    cJSON *st = tag ? cJSON_AddObjectToObject(tag, "statistics") : NULL;
    cJSON *st_state = st ? cJSON_AddObjectToObject(st, "state") : NULL;
    cJSON *st_action = st ? cJSON_AddObjectToObject(st, "action") : NULL;
    if (!st_state || !st_action)
        return 0;
    for (int p = 0; p < NUM_PARTS; p++) {
        const part *pt = &gr1_parts[p];
        stats state, action;
        for (int i = 0; i < pt->dim; i++) {
            double center = between(&r, pt->center_lo, pt->center_hi);
            double half = between(&r, pt->half_lo, pt->half_hi);
            draw_stats(&r, center, half, i, &state);
            draw_stats(&r, center, half * between(&r, 1.0, 1.1), i, &action);
        }
        if (!add_stats(st_state, pt->key, &state, pt->dim) ||
            !add_stats(st_action, pt->key, &action, pt->dim))
            return 0;
    }

    cJSON *mod = cJSON_AddObjectToObject(tag, "modalities");
    cJSON *video = mod ? cJSON_AddObjectToObject(mod, "video") : NULL;
    cJSON *ego = video ? cJSON_AddObjectToObject(video, "ego_view") : NULL;
    if (!ego)
        return 0;
    int resolution[2] = {256, 256}; /* [W, H] of the recorded frames */
    cJSON *res = cJSON_CreateIntArray(resolution, 2);
    if (!res || !cJSON_AddItemToObject(ego, "resolution", res)) {
        cJSON_Delete(res);
        return 0;
    }
    if (!cJSON_AddNumberToObject(ego, "channels", 3) || !cJSON_AddNumberToObject(ego, "fps", 20.0))
        return 0;
    cJSON *m_state = cJSON_AddObjectToObject(mod, "state");
    cJSON *m_action = cJSON_AddObjectToObject(mod, "action");
    if (!m_state || !m_action)
        return 0;
    for (int p = 0; p < NUM_PARTS; p++)
        if (!add_modality(m_state, gr1_parts[p].key, gr1_parts[p].dim) ||
            !add_modality(m_action, gr1_parts[p].key, gr1_parts[p].dim))
            return 0;
    return cJSON_AddStringToObject(tag, "embodiment_tag", "gr1") != NULL;
}

groot_status gr_synth_write_metadata(uint64_t seed, const char *path, gr_error *err)
{
    cJSON *root = cJSON_CreateObject();
    groot_status st = root && build(root, seed)
                          ? gr_synth_write_json(root, path, err)
                          : gr_fail(err, GROOT_ERR_NOMEM, "out of memory building '%s'", path);
    cJSON_Delete(root);
    return st;
}
