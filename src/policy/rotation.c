/*
 * Rotation conversions with pytorch3d's formulas (see rotation.h), so that
 * a state converted here lands on the same numbers the reference feeds its
 * network.
 */
#include <math.h>
#include <string.h>

#include "policy/rotation.h"

static int axis_index(char c)
{
    return c == 'X' ? 0 : c == 'Y' ? 1 : c == 'Z' ? 2 : -1;
}

groot_status gr_rotation_parse(const char *name, const char *what, gr_rotation *out,
                               gr_error *err)
{
    memset(out, 0, sizeof *out);
    if (!name)
        return gr_fail(err, GROOT_ERR_FORMAT, "%s: no rotation type given", what);
    if (strcmp(name, "quaternion") == 0) {
        out->kind = GR_ROT_QUATERNION;
        return GROOT_OK;
    }
    if (strcmp(name, "axis_angle") == 0) {
        out->kind = GR_ROT_AXIS_ANGLE;
        return GROOT_OK;
    }
    if (strcmp(name, "rotation_6d") == 0) {
        out->kind = GR_ROT_6D;
        return GROOT_OK;
    }
    if (strcmp(name, "matrix") == 0) {
        out->kind = GR_ROT_MATRIX;
        return GROOT_OK;
    }
    const char *pre = "euler_angles_";
    size_t np = strlen(pre);
    if (strncmp(name, pre, np) == 0 && strlen(name) == np + 3) {
        char conv[4] = {0};
        int seen = 0;
        for (int i = 0; i < 3; i++) {
            char c = name[np + i];
            char a = c == 'r' ? 'X' : c == 'p' ? 'Y' : c == 'y' ? 'Z' : c;
            int k = axis_index(a);
            if (k < 0 || (seen & (1 << k)))
                goto bad;
            seen |= 1 << k;
            conv[i] = a;
        }
        out->kind = GR_ROT_EULER;
        memcpy(out->convention, conv, 4);
        return GROOT_OK;
    }
bad:
    return gr_fail(err, GROOT_ERR_FORMAT,
                   "%s: unknown rotation type \"%s\": expected quaternion, axis_angle, "
                   "rotation_6d, matrix or euler_angles_ with a permutation of r,p,y "
                   "(euler_angles_rpy, _ryp, _pry, _pyr, _yrp, _ypr)",
                   what, name);
}

int gr_rotation_dim(const gr_rotation *r)
{
    switch (r->kind) {
    case GR_ROT_QUATERNION: return 4;
    case GR_ROT_AXIS_ANGLE: return 3;
    case GR_ROT_EULER: return 3;
    case GR_ROT_6D: return 6;
    case GR_ROT_MATRIX: return 9;
    }
    return 0;
}

int gr_rotation_same(const gr_rotation *a, const gr_rotation *b)
{
    if (a->kind != b->kind)
        return 0;
    return a->kind != GR_ROT_EULER || strcmp(a->convention, b->convention) == 0;
}

/* ---- quaternion ---- */

static void quat_to_matrix(const double *q, double *m)
{
    double r = q[0], i = q[1], j = q[2], k = q[3];
    double two_s = 2.0 / (r * r + i * i + j * j + k * k);
    m[0] = 1 - two_s * (j * j + k * k);
    m[1] = two_s * (i * j - k * r);
    m[2] = two_s * (i * k + j * r);
    m[3] = two_s * (i * j + k * r);
    m[4] = 1 - two_s * (i * i + k * k);
    m[5] = two_s * (j * k - i * r);
    m[6] = two_s * (i * k - j * r);
    m[7] = two_s * (j * k + i * r);
    m[8] = 1 - two_s * (i * i + j * j);
}

static double sqrt_pos(double x)
{
    return x > 0 ? sqrt(x) : 0.0;
}

/* pytorch3d: four candidate quaternions, each exact where its own |q_c| is
 * large; take the one with the largest |q_c| (first on ties), then make the
 * real part non-negative. */
static void matrix_to_quat(const double *m, double *q)
{
    double m00 = m[0], m01 = m[1], m02 = m[2];
    double m10 = m[3], m11 = m[4], m12 = m[5];
    double m20 = m[6], m21 = m[7], m22 = m[8];
    double qa[4] = {sqrt_pos(1 + m00 + m11 + m22), sqrt_pos(1 + m00 - m11 - m22),
                    sqrt_pos(1 - m00 + m11 - m22), sqrt_pos(1 - m00 - m11 + m22)};
    double cand[4][4] = {
        {qa[0] * qa[0], m21 - m12, m02 - m20, m10 - m01},
        {m21 - m12, qa[1] * qa[1], m10 + m01, m02 + m20},
        {m02 - m20, m10 + m01, qa[2] * qa[2], m12 + m21},
        {m10 - m01, m20 + m02, m21 + m12, qa[3] * qa[3]},
    };
    int best = 0;
    for (int c = 1; c < 4; c++)
        if (qa[c] > qa[best])
            best = c;
    double den = 2.0 * (qa[best] > 0.1 ? qa[best] : 0.1);
    for (int c = 0; c < 4; c++)
        q[c] = cand[best][c] / den;
    if (q[0] < 0)
        for (int c = 0; c < 4; c++)
            q[c] = -q[c];
}

/* ---- axis-angle (through the quaternion, as pytorch3d does) ---- */

/* sin(angle/2)/angle, with its Taylor expansion near 0. */
static double sin_half_over(double angle)
{
    if (fabs(angle) < 1e-6)
        return 0.5 - angle * angle / 48.0;
    return sin(angle * 0.5) / angle;
}

static void axis_angle_to_matrix(const double *a, double *m)
{
    double angle = sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
    double s = sin_half_over(angle);
    double q[4] = {cos(angle * 0.5), a[0] * s, a[1] * s, a[2] * s};
    quat_to_matrix(q, m);
}

static void matrix_to_axis_angle(const double *m, double *a)
{
    double q[4];
    matrix_to_quat(m, q);
    double n = sqrt(q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    double half = atan2(n, q[0]);
    double s = sin_half_over(2.0 * half);
    for (int i = 0; i < 3; i++)
        a[i] = q[i + 1] / s;
}

/* ---- euler angles ---- */

static void axis_rotation(char axis, double angle, double *r)
{
    double c = cos(angle), s = sin(angle);
    memset(r, 0, 9 * sizeof(double));
    if (axis == 'X') {
        r[0] = 1, r[4] = c, r[5] = -s, r[7] = s, r[8] = c;
    } else if (axis == 'Y') {
        r[0] = c, r[2] = s, r[4] = 1, r[6] = -s, r[8] = c;
    } else {
        r[0] = c, r[1] = -s, r[3] = s, r[4] = c, r[8] = 1;
    }
}

static void matmul3(const double *a, const double *b, double *out)
{
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            out[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
}

static void euler_to_matrix(const char *conv, const double *e, double *m)
{
    double r0[9], r1[9], r2[9], t[9];
    axis_rotation(conv[0], e[0], r0);
    axis_rotation(conv[1], e[1], r1);
    axis_rotation(conv[2], e[2], r2);
    matmul3(r0, r1, t);
    matmul3(t, r2, m);
}

/* pytorch3d's _angle_from_tan: data is a row or a column of the matrix. */
static double angle_from_tan(char axis, char other, const double *data, int horizontal,
                             int tait_bryan)
{
    int i1 = axis == 'X' ? 2 : axis == 'Y' ? 0 : 1;
    int i2 = axis == 'X' ? 1 : axis == 'Y' ? 2 : 0;
    if (horizontal) {
        int t = i1;
        i1 = i2;
        i2 = t;
    }
    int even = (axis == 'X' && other == 'Y') || (axis == 'Y' && other == 'Z') ||
               (axis == 'Z' && other == 'X');
    if (horizontal == even)
        return atan2(data[i1], data[i2]);
    if (tait_bryan)
        return atan2(-data[i2], data[i1]);
    return atan2(data[i2], -data[i1]);
}

static void matrix_to_euler(const char *conv, const double *m, double *e)
{
    int i0 = axis_index(conv[0]), i2 = axis_index(conv[2]);
    int tait_bryan = i0 != i2;
    double central;
    if (tait_bryan) {
        double sign = (i0 - i2 == -1 || i0 - i2 == 2) ? -1.0 : 1.0;
        double v = m[i0 * 3 + i2] * sign;
        /* Rounding can push a gimbal-locked entry past +-1; asin would give
         * NaN where the angle is plainly +-pi/2. */
        v = v > 1.0 ? 1.0 : v < -1.0 ? -1.0 : v;
        central = asin(v);
    } else {
        double v = m[i0 * 3 + i0];
        v = v > 1.0 ? 1.0 : v < -1.0 ? -1.0 : v;
        central = acos(v);
    }
    double col[3] = {m[i2], m[3 + i2], m[6 + i2]};
    const double *row = m + i0 * 3;
    e[0] = angle_from_tan(conv[0], conv[1], col, 0, tait_bryan);
    e[1] = central;
    e[2] = angle_from_tan(conv[2], conv[1], row, 1, tait_bryan);
}

/* ---- 6D ---- */

static void sixd_to_matrix(const double *d, double *m)
{
    double n1 = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    /* F.normalize divides by max(norm, 1e-12). */
    n1 = n1 > 1e-12 ? n1 : 1e-12;
    double b1[3] = {d[0] / n1, d[1] / n1, d[2] / n1};
    double dot = b1[0] * d[3] + b1[1] * d[4] + b1[2] * d[5];
    double b2[3] = {d[3] - dot * b1[0], d[4] - dot * b1[1], d[5] - dot * b1[2]};
    double n2 = sqrt(b2[0] * b2[0] + b2[1] * b2[1] + b2[2] * b2[2]);
    n2 = n2 > 1e-12 ? n2 : 1e-12;
    for (int i = 0; i < 3; i++)
        b2[i] /= n2;
    double b3[3] = {b1[1] * b2[2] - b1[2] * b2[1], b1[2] * b2[0] - b1[0] * b2[2],
                    b1[0] * b2[1] - b1[1] * b2[0]};
    memcpy(m, b1, sizeof b1);
    memcpy(m + 3, b2, sizeof b2);
    memcpy(m + 6, b3, sizeof b3);
}

void gr_rotation_to_matrix(const gr_rotation *r, const double *in, double m[9])
{
    switch (r->kind) {
    case GR_ROT_QUATERNION: quat_to_matrix(in, m); break;
    case GR_ROT_AXIS_ANGLE: axis_angle_to_matrix(in, m); break;
    case GR_ROT_EULER: euler_to_matrix(r->convention, in, m); break;
    case GR_ROT_6D: sixd_to_matrix(in, m); break;
    case GR_ROT_MATRIX: memcpy(m, in, 9 * sizeof(double)); break;
    }
}

void gr_rotation_from_matrix(const gr_rotation *r, const double m[9], double *out)
{
    switch (r->kind) {
    case GR_ROT_QUATERNION: matrix_to_quat(m, out); break;
    case GR_ROT_AXIS_ANGLE: matrix_to_axis_angle(m, out); break;
    case GR_ROT_EULER: matrix_to_euler(r->convention, m, out); break;
    case GR_ROT_6D: memcpy(out, m, 6 * sizeof(double)); break;
    case GR_ROT_MATRIX: memcpy(out, m, 9 * sizeof(double)); break;
    }
}

void gr_rotation_convert(const gr_rotation *from, const double *in, const gr_rotation *to,
                         double *out)
{
    double m[9];
    gr_rotation_to_matrix(from, in, m);
    gr_rotation_from_matrix(to, m, out);
}
