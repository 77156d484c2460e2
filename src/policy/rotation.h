/*
 * Rotation representations and their conversions through the rotation
 * matrix, with pytorch3d's conventions (what the reference's
 * StateActionTransform calls):
 *   quaternion   4 values, real part first (w, x, y, z); matrix_to_quaternion
 *                returns the one with w >= 0;
 *   axis_angle   3 values, axis * angle (radians), angle in [0, pi];
 *   euler_angles 3 values for a convention of three axis letters, e.g. "XYZ":
 *                R = R_X(a0) @ R_Y(a1) @ R_Z(a2) (intrinsic); the six
 *                Tait-Bryan orders are supported;
 *   rotation_6d  the first two ROWS of the matrix, flattened; back through
 *                Gram-Schmidt (normalize row 1, remove its part from row 2,
 *                normalize, row 3 = cross product);
 *   matrix       9 values, row-major.
 * All arithmetic is in double.
 */
#ifndef GR_POLICY_ROTATION_H
#define GR_POLICY_ROTATION_H

#include "core/error.h"

typedef enum gr_rot_kind {
    GR_ROT_QUATERNION = 0,
    GR_ROT_AXIS_ANGLE,
    GR_ROT_EULER,
    GR_ROT_6D,
    GR_ROT_MATRIX
} gr_rot_kind;

typedef struct gr_rotation {
    gr_rot_kind kind;
    char convention[4]; /* euler only: "XYZ" etc., NUL-terminated */
} gr_rotation;

/* Parses a rotation type as the reference's metadata and data configs spell
 * it: "quaternion", "axis_angle", "rotation_6d", "matrix", or
 * "euler_angles_" + three of r,p,y (roll X, pitch Y, yaw Z: "euler_angles_rpy"
 * is convention "XYZ"). "euler_angles_XYZ"-style upper-case axis letters are
 * accepted too. Anything else is GROOT_ERR_FORMAT naming the string and the
 * accepted names. `what` prefixes the message (a key name). */
groot_status gr_rotation_parse(const char *name, const char *what, gr_rotation *out,
                               gr_error *err);

/* Number of values of a representation (4, 3, 3, 6, 9). */
int gr_rotation_dim(const gr_rotation *r);

/* Same representation (kind and, for euler, convention). */
int gr_rotation_same(const gr_rotation *a, const gr_rotation *b);

/* Conversions of one rotation; in/out hold gr_rotation_dim values. */
void gr_rotation_to_matrix(const gr_rotation *r, const double *in, double m[9]);
void gr_rotation_from_matrix(const gr_rotation *r, const double m[9], double *out);

/* in (representation `from`) -> out (representation `to`), via the matrix. */
void gr_rotation_convert(const gr_rotation *from, const double *in, const gr_rotation *to,
                         double *out);

#endif
