/* SPDX-License-Identifier: GPL-2.0 */
/* mount(2), move_mount(2) (the new mount API's attach step) and umount2(2).
 *
 * mount(2): the new mount is not reachable from the arguments. The caller's mount namespace keeps
 * its mounts in an rb-tree ordered by mnt_id_unique with the newest cached (mnt_last_node): at
 * sys_enter the newest id is saved, and a newer one at sys_exit is the mount the call made (with
 * MS_REC or shared propagation several are made; the newest is reported). Its ids, device, fs type,
 * device name and mount point (dentry walk from mnt_mountpoint in the parent mount) come from the
 * kernel. move_mount(2) with MOVE_MOUNT_F_EMPTY_PATH (what fsmount users do) leads through the fd to
 * the moved mount itself. Otherwise (failure, remount, MS_MOVE, path-based move_mount) the record
 * carries the user's arguments and the directory relative paths start from.
 *
 * umount2(2): the kernel cannot look the target up; the record carries the user's target and the
 * directory it is relative to, and user space finds the mount in its mount table. */

#define CSM_MNT_AT_FDCWD -100
#define CSM_MOVE_MOUNT_F_EMPTY_PATH 0x00000004

static __always_inline struct mnt_namespace *current_mnt_ns(struct task_struct *task)
{
	return BPF_CORE_READ(task, nsproxy, mnt_ns);
}

static __always_inline struct mount *newest_mount(struct mnt_namespace *ns)
{
	struct rb_node *node = BPF_CORE_READ(ns, mnt_last_node);

	if (!node)
		return NULL;
	return (struct mount *)((void *)node - bpf_core_field_offset(struct mount, mnt_node));
}

static __always_inline int save_mount(__u32 kind, __u32 syscall, __u64 a0, __u64 a1, __u64 a2, __u64 a3, __u64 a4)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct mount_pending pending = {
		.kind = kind,
		.syscall = syscall,
		.args = { a0, a1, a2, a3, a4 },
	};

	if (is_agent_task())
		return 0;
	if (kind == CSM_EVENT_MOUNT && syscall == CSM_SYS_MOUNT) {
		struct mount *newest = newest_mount(current_mnt_ns((struct task_struct *)bpf_get_current_task()));

		if (newest)
			pending.last_unique_id = BPF_CORE_READ(newest, mnt_id_unique);
	}
	bpf_map_update_elem(&mount_pending, &pid_tgid, &pending, BPF_ANY);
	return 0;
}

static __always_inline bool take_mount_pending(__u32 kind, struct mount_pending *out)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct mount_pending *saved = bpf_map_lookup_elem(&mount_pending, &pid_tgid);

	if (!saved || saved->kind != kind)
		return false;
	*out = *saved;
	bpf_map_delete_elem(&mount_pending, &pid_tgid);
	return true;
}

/* Copies a user string into the record at `offset`; returns the bytes kept (no NUL). */
static __always_inline __u16 put_user_string(char *record, __u32 offset, __u64 ptr, __u32 max, __u32 *flags)
{
	long copied;

	if (!ptr)
		return 0;
	if (max > CSM_MOUNT_USER_STR_MAX)
		max = CSM_MOUNT_USER_STR_MAX;
	copied = bpf_probe_read_user_str(&record[offset & CSM_RECORD_OFFSET_MASK], max + 1, (void *)ptr);
	if (copied < 0) {
		*flags |= CSM_MNT_USER_UNREADABLE;
		return 0;
	}
	if (copied > max) {
		*flags |= CSM_MNT_USER_TRUNCATED;
		return max;
	}
	return copied > 0 ? copied - 1 : 0;
}

static __always_inline bool user_path_is_relative(__u64 ptr)
{
	char first = 0;

	if (!ptr || bpf_probe_read_user(&first, 1, (void *)ptr) != 0)
		return false;
	return first != '/' && first != 0;
}

/* Writes the directory relative user paths start from (cwd, or dirfd's path) at `offset`. */
static __always_inline __u64 write_base_dir(struct task_struct *task, __s32 dirfd, __u32 offset)
{
	struct file *file;

	if (dirfd == CSM_MNT_AT_FDCWD)
		return csm_write_path((__u64)BPF_CORE_READ(task, fs, pwd.dentry),
				      (__u64)BPF_CORE_READ(task, fs, pwd.mnt), offset);
	file = file_from_fd(task, dirfd);
	if (!file)
		return (__u64)CSM_PATH_ERR_NO_FILE << 32;
	return csm_write_path((__u64)BPF_CORE_READ(file, f_path.dentry), (__u64)BPF_CORE_READ(file, f_path.mnt), offset);
}

static __always_inline void describe_mount(struct csm_mount_event *event, char *record, __u32 offset, struct mount *m)
{
	struct mount *parent = BPF_CORE_READ(m, mnt_parent);
	const char *fstype = BPF_CORE_READ(m, mnt.mnt_sb, s_type, name);
	const char *devname = BPF_CORE_READ(m, mnt_devname);
	__u64 written;
	long copied;

	event->mbm_flags |= CSM_MNT_NEW_MOUNT;
	event->mount_id = BPF_CORE_READ(m, mnt_id);
	event->parent_mount_id = parent && parent != m ? BPF_CORE_READ(parent, mnt_id) : 0;
	event->device = BPF_CORE_READ(m, mnt.mnt_sb, s_dev);
	bpf_probe_read_kernel_str(event->fs_type, sizeof(event->fs_type), fstype);
	if (parent && parent != m) {
		written = csm_write_path((__u64)BPF_CORE_READ(m, mnt_mountpoint), (__u64)&parent->mnt, offset);
		event->mountpoint_len = (__u16)written;
		event->mountpoint_error = written >> 32;
	} else {
		event->mountpoint_error = CSM_PATH_ERR_NO_FILE;
	}
	offset += event->mountpoint_len & (CSM_PATH_MAX * 2 - 1);
	copied = bpf_probe_read_kernel_str(&record[offset & CSM_RECORD_OFFSET_MASK], CSM_MOUNT_DEVNAME_MAX, devname);
	if (copied > 0)
		event->devname_len = copied - 1;
}

static __always_inline int emit_mount(long ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct mnt_namespace *ns = current_mnt_ns(task);
	struct csm_mount_event *event;
	struct mount_pending args;
	struct mount *m = NULL;
	__u64 target, source, fstype = 0;
	__s32 base_fd = CSM_MNT_AT_FDCWD;
	__u32 offset;
	char *record;

	if (!take_mount_pending(CSM_EVENT_MOUNT, &args))
		return 0;
	record = get_record_scratch();
	if (!record)
		return 0;
	event = (struct csm_mount_event *)record;
	__builtin_memset(event, 0, sizeof(*event));
	fill_header(&event->hdr, CSM_EVENT_MOUNT);
	event->retval = ret;
	event->syscall = args.syscall;
	event->mnt_ns = BPF_CORE_READ(ns, ns.inum);

	if (args.syscall == CSM_SYS_MOVE_MOUNT) {
		/* move_mount(from_dfd, from_path, to_dfd, to_path, flags) */
		event->mount_flags = args.args[4];
		source = args.args[1];
		target = args.args[3];
		base_fd = (__s32)args.args[2];
		if (ret == 0 && (args.args[4] & CSM_MOVE_MOUNT_F_EMPTY_PATH)) {
			struct file *file = file_from_fd(task, (__s32)args.args[0]);

			if (file)
				m = real_mount(BPF_CORE_READ(file, f_path.mnt));
		}
	} else {
		/* mount(dev_name, dir_name, type, flags, data) */
		event->mount_flags = args.args[3];
		source = args.args[0];
		target = args.args[1];
		fstype = args.args[2];
		if (ret == 0) {
			struct mount *newest = newest_mount(ns);

			if (newest && BPF_CORE_READ(newest, mnt_id_unique) > args.last_unique_id)
				m = newest;
		}
	}

	offset = sizeof(*event);
	if (m)
		describe_mount(event, record, offset, m);
	offset += event->mountpoint_len & (CSM_PATH_MAX * 2 - 1);
	offset += event->devname_len & (CSM_MOUNT_DEVNAME_MAX * 2 - 1);

	event->user_target_len = put_user_string(record, offset, target, CSM_MOUNT_USER_STR_MAX, &event->mbm_flags);
	offset += event->user_target_len & (CSM_MOUNT_USER_STR_MAX * 2 - 1);
	event->user_source_len = put_user_string(record, offset, source, CSM_MOUNT_USER_STR_MAX, &event->mbm_flags);
	offset += event->user_source_len & (CSM_MOUNT_USER_STR_MAX * 2 - 1);
	event->user_fstype_len = put_user_string(record, offset, fstype, CSM_MOUNT_FSTYPE_ARG_MAX, &event->mbm_flags);
	offset += event->user_fstype_len & (CSM_MOUNT_FSTYPE_ARG_MAX * 2 - 1);

	if (user_path_is_relative(target) || user_path_is_relative(source)) {
		__u64 written = write_base_dir(task, base_fd, offset);

		event->mbm_flags |= CSM_MNT_HAS_CWD;
		event->cwd_len = (__u16)written;
		event->cwd_error = written >> 32;
		offset += event->cwd_len & (CSM_PATH_MAX * 2 - 1);
	}
	emit_record(record, offset);
	return 0;
}

static __always_inline int emit_umount(long ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct csm_umount_event *event;
	struct mount_pending args;
	__u32 offset;
	char *record;

	if (!take_mount_pending(CSM_EVENT_UMOUNT, &args))
		return 0;
	record = get_record_scratch();
	if (!record)
		return 0;
	event = (struct csm_umount_event *)record;
	__builtin_memset(event, 0, sizeof(*event));
	fill_header(&event->hdr, CSM_EVENT_UMOUNT);
	event->retval = ret;
	event->flags = (__u32)args.args[1];
	event->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);

	offset = sizeof(*event);
	event->user_target_len = put_user_string(record, offset, args.args[0], CSM_MOUNT_USER_STR_MAX, &event->mbm_flags);
	offset += event->user_target_len & (CSM_MOUNT_USER_STR_MAX * 2 - 1);
	if (user_path_is_relative(args.args[0])) {
		__u64 written = write_base_dir(task, CSM_MNT_AT_FDCWD, offset);

		event->mbm_flags |= CSM_MNT_HAS_CWD;
		event->cwd_len = (__u16)written;
		event->cwd_error = written >> 32;
		offset += event->cwd_len & (CSM_PATH_MAX * 2 - 1);
	}
	emit_record(record, offset);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_mount")
int csm_mount__sys_enter_mount(struct trace_event_raw_sys_enter *ctx)
{
	return save_mount(CSM_EVENT_MOUNT, CSM_SYS_MOUNT, ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[3], 0);
}

SEC("tracepoint/syscalls/sys_exit_mount")
int csm_mount__sys_exit_mount(struct trace_event_raw_sys_exit *ctx)
{
	return emit_mount(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_move_mount")
int csm_mount__sys_enter_move_mount(struct trace_event_raw_sys_enter *ctx)
{
	return save_mount(CSM_EVENT_MOUNT, CSM_SYS_MOVE_MOUNT, ctx->args[0], ctx->args[1], ctx->args[2],
			  ctx->args[3], ctx->args[4]);
}

SEC("tracepoint/syscalls/sys_exit_move_mount")
int csm_mount__sys_exit_move_mount(struct trace_event_raw_sys_exit *ctx)
{
	return emit_mount(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_umount")
int csm_umount__sys_enter_umount(struct trace_event_raw_sys_enter *ctx)
{
	return save_mount(CSM_EVENT_UMOUNT, 0, ctx->args[0], ctx->args[1], 0, 0, 0);
}

SEC("tracepoint/syscalls/sys_exit_umount")
int csm_umount__sys_exit_umount(struct trace_event_raw_sys_exit *ctx)
{
	return emit_umount(ctx->ret);
}
