/* SPDX-License-Identifier: GPL-2.0 */
/* struct file / inode to struct csm_file, and fd to struct file. */
#ifndef CSM_LIB_FILES_H
#define CSM_LIB_FILES_H

#include "paths.h"

/* Bound on the fd numbers we look up in the fd table (the table itself bounds it again). */
#define CSM_MAX_FD (1 << 20)

/* Nanoseconds are below 2^30; higher bits of the inode's nsec fields are flags. */
#define CSM_NSEC_MASK 0x3fffffffU

/* Inode times before 6.11 (struct timespec64 members). */
struct inode___pre611 {
	struct timespec64 __i_ctime;
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));

static __always_inline void fill_inode(struct csm_file *out, struct inode *inode_ptr)
{
	/* Direct BTF loads (bpf_rdonly_cast) instead of one bpf_probe_read_kernel call per field: this
	 * runs for every open and the helper calls were most of its cost. */
	struct inode *inode = CSM_KERNEL_CAST(inode_ptr, struct inode);
	struct super_block *sb = inode->i_sb;

	out->inode = inode->i_ino;
	out->mode = inode->i_mode;
	out->uid = inode->i_uid.val;
	out->gid = inode->i_gid.val;
	out->dev = sb->s_dev;
	if (bpf_core_field_exists(inode->i_ctime_sec)) {
		/* Since 6.13 the top bit of i_ctime_nsec flags a queried multigrain timestamp. */
		out->ctime_ns = inode->i_ctime_sec * 1000000000ULL + (inode->i_ctime_nsec & CSM_NSEC_MASK);
		out->mtime_ns = inode->i_mtime_sec * 1000000000ULL + (inode->i_mtime_nsec & CSM_NSEC_MASK);
	} else {
		struct inode___pre611 *old = (void *)inode_ptr;
		out->ctime_ns = BPF_CORE_READ(old, __i_ctime.tv_sec) * 1000000000ULL + BPF_CORE_READ(old, __i_ctime.tv_nsec);
		out->mtime_ns = BPF_CORE_READ(old, i_mtime.tv_sec) * 1000000000ULL + BPF_CORE_READ(old, i_mtime.tv_nsec);
	}
	bpf_probe_read_kernel_str(out->fstype, sizeof(out->fstype), sb->s_type->name);
}

/* Fills `out` from (dentry, vfsmnt) and writes the path into the record scratch at `offset`. */
static __always_inline void fill_file_from_path(struct csm_file *out, __u32 offset,
						struct dentry *dentry, struct vfsmount *vfsmnt)
{
	struct inode *inode = CSM_KERNEL_CAST(dentry, struct dentry)->d_inode;
	__u64 written;

	if (inode)
		fill_inode(out, inode);
	out->mount_id = CSM_KERNEL_CAST(real_mount(vfsmnt), struct mount)->mnt_id;
	written = csm_write_path((__u64)dentry, (__u64)vfsmnt, offset);
	out->path_len = (__u16)written;
	out->path_error |= written >> 32;
}

static __always_inline void fill_file(struct csm_file *out, __u32 offset, struct file *file_ptr)
{
	if (!file_ptr) {
		out->path_error |= CSM_PATH_ERR_NO_FILE;
		return;
	}
	/* Helper reads on purpose: these two travel as scalars into csm_write_path (a global function
	 * takes no BTF pointers). */
	struct dentry *dentry_ptr = BPF_CORE_READ(file_ptr, f_path.dentry);

	fill_file_from_path(out, offset, dentry_ptr, BPF_CORE_READ(file_ptr, f_path.mnt));
	/* d_unlinked(): unhashed and not its own parent. An open file (or running executable) whose
	 * name was removed: exec of such a file is a fileless technique. Pseudo files (memfd, pipe)
	 * are their own parents and flagged CSM_PATH_ERR_PSEUDO instead. */
	if (dentry_ptr) {
		struct dentry *dentry = CSM_KERNEL_CAST(dentry_ptr, struct dentry);

		if (!dentry->d_hash.pprev && (unsigned long)dentry->d_parent != (unsigned long)dentry_ptr)
			out->path_error |= CSM_PATH_ERR_DELETED;
	}
}

/* task->files->fdt->fd[fd], or NULL. Direct BTF loads but for the indexed slot (the verifier wants
 * constant offsets on BTF pointers). */
static __always_inline struct file *file_from_fd(struct task_struct *task_ptr, __s64 fd)
{
	struct task_struct *task = CSM_KERNEL_CAST(task_ptr, struct task_struct);
	struct fdtable *fdt = task->files->fdt;
	struct file **fds;
	struct file *file = NULL;

	if (!fdt || fd < 0 || fd >= CSM_MAX_FD || fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) != 0)
		return NULL;
	return file;
}

#endif /* CSM_LIB_FILES_H */
