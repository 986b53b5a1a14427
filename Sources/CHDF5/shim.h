#ifndef CHDF5_SHIM_H
#define CHDF5_SHIM_H
// HDF5's "constants" are macros over global ids that exist only after H5open(); Swift cannot
// import them, so each one is a static inline function here.
#include <hdf5.h>
#include <stdio.h>

static inline hid_t chdf5_p_default(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_s_all(void) { return H5S_ALL; }
static inline unsigned chdf5_f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline hid_t chdf5_t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t chdf5_t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t chdf5_t_c_s1(void) { return H5T_C_S1; }
static inline hid_t chdf5_t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t chdf5_t_std_i64le(void) { return H5T_STD_I64LE; }
static inline hid_t chdf5_p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t chdf5_p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t chdf5_p_file_create(void) { return H5P_FILE_CREATE; }
static inline size_t chdf5_variable(void) { return H5T_VARIABLE; }

static inline hid_t chdf5_t_native_uint16(void) { return H5T_NATIVE_UINT16; }

// The object-info struct changed between HDF5 1.10 and 1.12; this keeps Swift off it.
static inline int chdf5_is_group(hid_t loc, const char *name) {
    H5O_info_t info;
    if (H5Oget_info_by_name(loc, name, &info, H5P_DEFAULT) < 0) return -1;
    return info.type == H5O_TYPE_GROUP;
}

// The kind of the link `name` in `loc` (0 hard, 1 soft, 2 external, -1 none or error) and, for
// soft and external links, its target in `buf` ("file:/object" for an external one).
static inline int chdf5_link_target(hid_t loc, const char *name, char *buf, size_t size) {
    H5L_info_t info;
    if (size > 0) buf[0] = 0;
    if (H5Lget_info(loc, name, &info, H5P_DEFAULT) < 0) return -1;
    if (info.type == H5L_TYPE_HARD) return 0;
    if (info.type != H5L_TYPE_SOFT && info.type != H5L_TYPE_EXTERNAL) return -1;
    char value[1024];
    size_t length = info.u.val_size < sizeof value ? info.u.val_size : sizeof value;
    if (H5Lget_val(loc, name, value, length, H5P_DEFAULT) < 0) return -1;
    if (info.type == H5L_TYPE_SOFT) {
        snprintf(buf, size, "%.*s", (int)length, value);
        return 1;
    }
    const char *file = NULL, *object = NULL;
    unsigned flags = 0;
    if (H5Lunpack_elink_val(value, length, &flags, &file, &object) < 0) return -1;
    snprintf(buf, size, "%s:%s", file ? file : "?", object ? object : "?");
    return 2;
}

// Silences libhdf5's own stderr dump; errors reach the user as one typed line instead.
static inline void chdf5_silence_errors(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }
// Drops the calling thread's error records after a failure we report ourselves: left behind on
// a worker thread, they keep libhdf5's exit-time shutdown from finishing ("infinite loop
// closing library" on stderr) when the process exits from another thread.
static inline void chdf5_clear_errors(void) { H5Eclear2(H5E_DEFAULT); }

#endif
