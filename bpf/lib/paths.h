/* SPDX-License-Identifier: GPL-2.0 */
/* Absolute paths from (dentry, vfsmount): a bounded dentry walk that crosses mounts. */
#ifndef CSM_LIB_PATHS_H
#define CSM_LIB_PATHS_H

#include "maps.h"

/* Offsets into the record scratch buffer are masked with this so the verifier can bound them. */
#define CSM_RECORD_OFFSET_MASK (CSM_MAX_RECORD_LEN - 1)

/* A read-only BTF view of a kernel pointer: fields are then plain loads (faulting loads are caught
 * and read as 0) rather than one bpf_probe_read_kernel helper call each. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
#define CSM_KERNEL_CAST(ptr, type) ((type *)bpf_rdonly_cast((const void *)(ptr), bpf_core_type_id_kernel(type)))

static __always_inline struct path_scratch *get_path_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&path_scratch, &zero);
}

static __always_inline struct mount *real_mount(struct vfsmount *vfsmnt)
{
	return (struct mount *)((void *)vfsmnt - bpf_core_field_offset(struct mount, mnt));
}

/* Assembles the path of (dentry, vfsmnt) backwards so that it ends at CSM_PATH_SCRATCH_LEN in
 * `ps`. Returns where it starts. Sets CSM_PATH_ERR_* bits in *error when it had to stop early: the
 * result is then the tail of the real path, flagged, never a silently shortened one. */
static __always_inline __u32 build_path(struct path_scratch *ps, struct dentry *dentry_ptr,
					struct vfsmount *vfsmnt_ptr, __u32 *error)
{
	struct mount *mnt = CSM_KERNEL_CAST(real_mount(vfsmnt_ptr), struct mount);
	struct dentry *dentry = CSM_KERNEL_CAST(dentry_ptr, struct dentry);
	unsigned long mnt_root = (unsigned long)mnt->mnt.mnt_root;
	bool reached_root = false;
	bool pseudo = false;

	ps->pos = CSM_PATH_SCRATCH_LEN;
	ps->components = 0;
	if (!dentry_ptr) {
		*error |= CSM_PATH_ERR_NO_FILE;
		return ps->pos;
	}

#pragma clang loop unroll(disable)
	for (int i = 0; i < CSM_MAX_PATH_DEPTH + CSM_MAX_MOUNT_CROSSINGS; i++) {
		unsigned long current = (unsigned long)dentry;
		unsigned long parent = (unsigned long)dentry->d_parent;

		if (current == mnt_root) {
			unsigned long mnt_parent = (unsigned long)mnt->mnt_parent;

			if (mnt_parent == (unsigned long)mnt || !mnt_parent) {
				reached_root = true;
				break;
			}
			dentry = CSM_KERNEL_CAST(mnt->mnt_mountpoint, struct dentry);
			mnt = CSM_KERNEL_CAST(mnt_parent, struct mount);
			mnt_root = (unsigned long)mnt->mnt.mnt_root;
			continue;
		}
		if (current == parent || !parent) {
			/* Root of a filesystem that is not mounted here (pipe, socket, detached tree). */
			reached_root = true;
			/* The file's own dentry is its own parent without being its mount's root: a file
			 * of no directory tree (memfd, pipe, socket, anonymous inode). Its name
			 * ("memfd:NAME", "TCP", or empty for a pipe) is all it has: it is written alone,
			 * with no '/', and flagged. */
			if (!parent || ps->components != 0)
				break;
			pseudo = true;
			*error |= CSM_PATH_ERR_PSEUDO;
		}
		if (ps->components >= CSM_MAX_PATH_DEPTH) {
			*error |= CSM_PATH_ERR_TOO_DEEP;
			break;
		}

		const unsigned char *name = dentry->d_name.name;
		__u32 len = dentry->d_name.len;
		__u32 pos = ps->pos;

		if (len > CSM_NAME_MAX)
			len = CSM_NAME_MAX;
		/* pos runs from CSM_PATH_SCRATCH_LEN down; a mask would fold its start to 0. */
		if (pos > CSM_PATH_SCRATCH_LEN)
			pos = CSM_PATH_SCRATCH_LEN;
		if (CSM_PATH_SCRATCH_LEN - pos + len + 1 > CSM_PATH_MAX || pos < len + 1) {
			*error |= CSM_PATH_ERR_TOO_LONG;
			break;
		}
		if (bpf_probe_read_kernel(&ps->buf[(pos - len) & CSM_PATH_SCRATCH_MASK], len, name) != 0) {
			*error |= CSM_PATH_ERR_READ;
			break;
		}
		if (pseudo) {
			ps->pos = pos - len;
			break;
		}
		ps->buf[(pos - len - 1) & CSM_PATH_SCRATCH_MASK] = '/';
		ps->pos = pos - len - 1;
		ps->components++;
		dentry = CSM_KERNEL_CAST(parent, struct dentry);
	}
	if (!reached_root && *error == 0)
		*error |= CSM_PATH_ERR_TOO_DEEP;
	if (ps->pos == CSM_PATH_SCRATCH_LEN && !pseudo) {
		ps->pos = CSM_PATH_SCRATCH_LEN - 1;
		ps->buf[(CSM_PATH_SCRATCH_LEN - 1) & CSM_PATH_SCRATCH_MASK] = '/';
	}
	return ps->pos;
}

/* Resolves (dentry, vfsmnt) and writes the path into this CPU's record scratch at `offset`.
 * Returns the path length in the low 32 bits and csm_path_error bits in the high 32.
 *
 * A global (not inlined) function: the verifier checks its bounded walk once, instead of once per
 * call site and per state of the caller, which made loading take minutes. Pointers travel as
 * scalars because they are only ever read through bpf_probe_read_kernel. */
__noinline __u64 csm_write_path(__u64 dentry_ptr, __u64 vfsmnt_ptr, __u32 offset)
{
	struct path_scratch *ps = get_path_scratch();
	char *record = get_record_scratch();
	__u32 error = 0;
	__u32 start, len;

	if (!ps || !record)
		return (__u64)CSM_PATH_ERR_READ << 32;
	start = build_path(ps, (struct dentry *)dentry_ptr, (struct vfsmount *)vfsmnt_ptr, &error);
	len = CSM_PATH_SCRATCH_LEN - (start & CSM_PATH_SCRATCH_MASK);
	if (len > CSM_PATH_MAX)
		len = CSM_PATH_MAX;
	if (start >= CSM_PATH_SCRATCH_LEN)
		return (__u64)error << 32; /* nothing written: a pseudo file with an empty name (pipe) */
	if (bpf_probe_read_kernel(&record[offset & CSM_RECORD_OFFSET_MASK], len,
				  &ps->buf[start & CSM_PATH_SCRATCH_MASK]) != 0)
		return (__u64)(error | CSM_PATH_ERR_READ) << 32;
	return ((__u64)error << 32) | len;
}

#endif /* CSM_LIB_PATHS_H */
