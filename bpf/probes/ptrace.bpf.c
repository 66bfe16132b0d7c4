/* SPDX-License-Identifier: GPL-2.0 */
/* ptrace(2): request, tracee and address saved at sys_enter, the event written at sys_exit with the
 * return value (a refused PTRACE_ATTACH is reported too). The tracee's process context is resolved
 * in user space from its pid. */

#define CSM_PTRACE_TRACEME 0

SEC("tracepoint/syscalls/sys_enter_ptrace")
int csm_ptrace__sys_enter_ptrace(struct trace_event_raw_sys_enter *ctx)
{
	struct pm_pending pending = {};

	if (is_agent_task())
		return 0;
	pending.kind = CSM_EVENT_PTRACE;
	pending.args[0] = ctx->args[0]; /* request */
	pending.args[1] = ctx->args[1]; /* pid */
	pending.args[2] = ctx->args[2]; /* addr */
	pm_save(&pending);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_ptrace")
int csm_ptrace__sys_exit_ptrace(struct trace_event_raw_sys_exit *ctx)
{
	struct csm_ptrace_event event = {};
	struct pm_pending args;

	if (!pm_take(CSM_EVENT_PTRACE, &args))
		return 0;
	fill_header(&event.hdr, CSM_EVENT_PTRACE);
	event.retval = ctx->ret;
	event.request = (__u32)args.args[0];
	event.address = args.args[2];
	/* PTRACE_TRACEME ignores pid: the caller is the one that becomes traced. */
	event.pid = event.request == CSM_PTRACE_TRACEME ? event.hdr.pid : (__u32)args.args[1];
	emit_record(&event, sizeof(event));
	return 0;
}
