/* SPDX-License-Identifier: GPL-2.0 */
/* bind(2): arguments saved at sys_enter, the record built at sys_exit with the user's sockaddr copied
 * as passed (bounded by CSM_BIND_SOCKADDR_MAX; user space parses the family, IP, port or unix path,
 * so a hostile addrlen only ever costs a flag) and the socket's protocol and type. */

#define CSM_BIND_S_IFMT 00170000
#define CSM_BIND_S_IFSOCK 0140000

SEC("tracepoint/syscalls/sys_enter_bind")
int csm_bind__sys_enter_bind(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct bind_pending pending = {
		.args = { ctx->args[0], ctx->args[1], ctx->args[2] },
	};

	if (is_agent_task())
		return 0;
	bpf_map_update_elem(&bind_pending, &pid_tgid, &pending, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int csm_bind__sys_exit_bind(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct bind_pending *saved = bpf_map_lookup_elem(&bind_pending, &pid_tgid);
	struct csm_bind_event *event;
	struct task_struct *task;
	struct file *file;
	__u64 args[3];
	__s32 addrlen;
	__u32 len;
	char *record;

	if (!saved)
		return 0;
	args[0] = saved->args[0];
	args[1] = saved->args[1];
	args[2] = saved->args[2];
	bpf_map_delete_elem(&bind_pending, &pid_tgid);

	record = get_record_scratch();
	if (!record)
		return 0;
	event = (struct csm_bind_event *)record;
	__builtin_memset(event, 0, sizeof(*event));
	fill_header(&event->hdr, CSM_EVENT_BIND);
	event->retval = ctx->ret;
	event->fd = (__s32)args[0];
	addrlen = (__s32)args[2];
	event->addrlen = addrlen;

	if (addrlen > 0) {
		len = (__u32)addrlen;
		if (len > CSM_BIND_SOCKADDR_MAX) {
			len = CSM_BIND_SOCKADDR_MAX;
			event->mbm_flags |= CSM_BIND_ADDR_TRUNCATED;
		}
		/* In asm so that the compiler cannot hand the helper the unclamped register. */
		asm volatile("%[len] &= %[mask]" : [len] "+r"(len) : [mask] "i"(CSM_BIND_SOCKADDR_MAX * 2 - 1));
		if (len > CSM_BIND_SOCKADDR_MAX)
			len = CSM_BIND_SOCKADDR_MAX;
		if (bpf_probe_read_user(event->sockaddr, len, (void *)args[1]) == 0)
			event->sockaddr_len = len;
		else
			event->mbm_flags |= CSM_BIND_ADDR_UNREADABLE;
	}

	task = (struct task_struct *)bpf_get_current_task();
	file = file_from_fd(task, event->fd);
	if (file && (BPF_CORE_READ(file, f_inode, i_mode) & CSM_BIND_S_IFMT) == CSM_BIND_S_IFSOCK) {
		struct socket *sock = BPF_CORE_READ(file, private_data);

		event->sock_type = BPF_CORE_READ(sock, type);
		event->protocol = BPF_CORE_READ(sock, sk, sk_protocol);
	}
	emit_record(event, sizeof(*event));
	return 0;
}
