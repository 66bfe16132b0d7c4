/* SPDX-License-Identifier: GPL-2.0 */
/* splice(2): the flags of fd_out's last pipe buffer before (sys_enter) and after (sys_exit) the call,
 * which is what Dirty Pipe detection (CVE-2022-0847) looks at, and the file behind fd_in. */

#define CSM_S_IFMT 0170000
#define CSM_S_IFIFO 0010000

/* Flags of the last buffer written to the pipe behind `file`, bufs[(head - 1) & (ring_size - 1)].
 * Returns false when `file` is not a pipe. */
static __always_inline bool last_pipe_buf_flags(struct file *file, __u32 *flags)
{
	struct pipe_inode_info *pipe;
	struct pipe_buffer *bufs;
	__u32 head, ring_size;

	*flags = 0;
	if (!file)
		return false;
	if ((BPF_CORE_READ(file, f_inode, i_mode) & CSM_S_IFMT) != CSM_S_IFIFO)
		return false;
	pipe = BPF_CORE_READ(file, private_data);
	if (!pipe)
		return false;
	head = BPF_CORE_READ(pipe, head);
	ring_size = BPF_CORE_READ(pipe, ring_size);
	bufs = BPF_CORE_READ(pipe, bufs);
	if (!bufs || ring_size == 0)
		return true;
	bpf_probe_read_kernel(flags, sizeof(*flags), &bufs[(head - 1) & (ring_size - 1)].flags);
	return true;
}

SEC("tracepoint/syscalls/sys_enter_splice")
int csm_splice__sys_enter_splice(struct trace_event_raw_sys_enter *ctx)
{
	struct pm_pending pending = {};
	__u32 entry_flag = 0;

	if (is_agent_task())
		return 0;
	pending.kind = CSM_EVENT_SPLICE;
	pending.args[0] = ctx->args[0]; /* fd_in */
	pending.args[2] = ctx->args[2]; /* fd_out */
	pending.args[5] = ctx->args[5]; /* flags */
	if (!last_pipe_buf_flags(file_from_fd((struct task_struct *)bpf_get_current_task(), (__s32)ctx->args[2]),
				 &entry_flag))
		pending.aux |= CSM_PM_NOT_A_PIPE;
	pending.extra[0] = entry_flag;
	pm_save(&pending);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_splice")
int csm_splice__sys_exit_splice(struct trace_event_raw_sys_exit *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct csm_splice_event *event;
	struct pm_pending args;
	struct file *file_in;
	char *record;
	__u32 offset, exit_flag = 0;

	if (!pm_take(CSM_EVENT_SPLICE, &args))
		return 0;
	record = get_record_scratch();
	if (!record)
		return 0;
	event = (struct csm_splice_event *)record;
	__builtin_memset(event, 0, sizeof(*event));
	fill_header(&event->hdr, CSM_EVENT_SPLICE);
	event->retval = ctx->ret;
	event->fd_in = (__s32)args.args[0];
	event->fd_out = (__s32)args.args[2];
	event->splice_flags = (__u32)args.args[5];
	event->pipe_entry_flag = (__u32)args.extra[0];
	event->pm_flags = args.aux;
	if (!last_pipe_buf_flags(file_from_fd(task, event->fd_out), &exit_flag))
		event->pm_flags |= CSM_PM_NOT_A_PIPE;
	event->pipe_exit_flag = exit_flag;

	offset = sizeof(*event);
	file_in = file_from_fd(task, event->fd_in);
	if (file_in) {
		event->pm_flags |= CSM_PM_HAS_FILE;
		fill_file(&event->file, offset, file_in);
		offset += event->file.path_len;
	}
	emit_record(record, offset);
	return 0;
}
