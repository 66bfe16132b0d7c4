/* SPDX-License-Identifier: GPL-2.0 */
/* open, openat, openat2, creat: arguments saved at sys_enter, the event built at sys_exit where the
 * returned fd leads to the struct file and so to the real path (symlinks followed, mounts crossed).
 * A failed open reports the user path and the directory it was relative to. */

#define CSM_AT_FDCWD -100
#define CSM_CREAT_FLAGS 01101 /* O_CREAT | O_WRONLY | O_TRUNC */

/* struct open_how of openat2(2). */
struct csm_open_how {
	__u64 flags;
	__u64 mode;
	__u64 resolve;
};

static __always_inline int save_open(__u64 user_path, __u32 flags, __u32 mode, __s32 dirfd, __u32 syscall)
{
	struct pending_open *pending;

	if (is_agent_task())
		return 0;
	pending = bpf_task_storage_get(&pending_opens, bpf_get_current_task_btf(), 0,
				       BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!pending)
		return 0;
	pending->user_path = user_path;
	pending->flags = flags;
	pending->mode = mode;
	pending->dirfd = dirfd;
	pending->syscall = syscall;
	pending->in_flight = 1;
	return 0;
}

static __always_inline int emit_open(long retval)
{
	struct pending_open *saved = bpf_task_storage_get(&pending_opens, bpf_get_current_task_btf(), 0, 0);
	struct pending_open args;
	struct task_struct *task;
	struct csm_open_event *event;
	char *record;
	__u32 offset;
	long copied;

	if (!saved || !saved->in_flight)
		return 0;
	args = *saved;
	saved->in_flight = 0;

	record = get_record_scratch();
	if (!record)
		return 0;
	event = (struct csm_open_event *)record;
	__builtin_memset(event, 0, sizeof(*event));
	fill_header(&event->hdr, CSM_EVENT_OPEN);
	event->retval = retval;
	event->flags = args.flags;
	event->mode = args.mode;
	event->dirfd = args.dirfd;
	event->syscall = args.syscall;

	task = (struct task_struct *)bpf_get_current_task();
	offset = sizeof(*event);
	if (retval >= 0) {
		fill_file(&event->file, offset, file_from_fd(task, retval));
	} else {
		char first = 0;

		bpf_probe_read_user(&first, 1, (void *)args.user_path);
		if (first != '/') {
			/* Only the base directory's path and mount matter: the file itself does not exist. */
			struct csm_file base = {};

			if (args.dirfd == CSM_AT_FDCWD)
				fill_file_from_path(&base, offset, BPF_CORE_READ(task, fs, pwd.dentry),
						    BPF_CORE_READ(task, fs, pwd.mnt));
			else
				fill_file(&base, offset, file_from_fd(task, args.dirfd));
			event->file.path_len = base.path_len;
			event->file.path_error = base.path_error;
			event->file.mount_id = base.mount_id;
		}
	}
	offset += event->file.path_len;

	copied = bpf_probe_read_user_str(&record[offset & CSM_RECORD_OFFSET_MASK], CSM_PATH_MAX,
					 (void *)args.user_path);
	if (copied > 0)
		event->user_path_len = copied - 1;
	else
		event->file.path_error |= CSM_PATH_ERR_USER_READ;
	offset += event->user_path_len & (CSM_PATH_MAX - 1);

	emit_record(record, offset);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int csm_open__sys_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return save_open(ctx->args[0], ctx->args[1], ctx->args[2], CSM_AT_FDCWD, CSM_SYS_OPEN);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int csm_open__sys_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return save_open(ctx->args[1], ctx->args[2], ctx->args[3], (__s32)ctx->args[0], CSM_SYS_OPENAT);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int csm_open__sys_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct csm_open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return save_open(ctx->args[1], (__u32)how.flags, (__u32)how.mode, (__s32)ctx->args[0], CSM_SYS_OPENAT2);
}

SEC("tracepoint/syscalls/sys_enter_creat")
int csm_open__sys_enter_creat(struct trace_event_raw_sys_enter *ctx)
{
	return save_open(ctx->args[0], CSM_CREAT_FLAGS, ctx->args[1], CSM_AT_FDCWD, CSM_SYS_CREAT);
}

SEC("tracepoint/syscalls/sys_exit_open")
int csm_open__sys_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return emit_open(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int csm_open__sys_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return emit_open(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int csm_open__sys_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return emit_open(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_creat")
int csm_open__sys_exit_creat(struct trace_event_raw_sys_exit *ctx)
{
	return emit_open(ctx->ret);
}
