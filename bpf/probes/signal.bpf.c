/* SPDX-License-Identifier: GPL-2.0 */
/* kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo: target and signal saved at sys_enter, the
 * event written at sys_exit with the return value. kill(0 or -pgid) (process groups) is reported
 * with the pid as passed. Signal 0 (an existence probe) is reported too: it is what was asked. */

static __always_inline int save_signal(__s32 pid, __u32 tid, __u32 sig, __u32 syscall)
{
	struct pm_pending pending = {};

	if (is_agent_task())
		return 0;
	pending.kind = CSM_EVENT_SIGNAL;
	pending.aux = syscall;
	pending.args[0] = (__u64)(__s64)pid;
	pending.args[1] = tid;
	pending.args[2] = sig;
	pm_save(&pending);
	return 0;
}

static __always_inline int emit_signal(long retval)
{
	struct csm_signal_event event = {};
	struct pm_pending args;

	if (!pm_take(CSM_EVENT_SIGNAL, &args))
		return 0;
	fill_header(&event.hdr, CSM_EVENT_SIGNAL);
	event.retval = retval;
	event.pid = (__s32)args.args[0];
	event.tid = (__u32)args.args[1];
	event.type = (__u32)args.args[2];
	event.syscall = args.aux;
	emit_record(&event, sizeof(event));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_kill")
int csm_signal__sys_enter_kill(struct trace_event_raw_sys_enter *ctx)
{
	return save_signal((__s32)ctx->args[0], 0, (__u32)ctx->args[1], CSM_SYS_KILL);
}

SEC("tracepoint/syscalls/sys_enter_tkill")
int csm_signal__sys_enter_tkill(struct trace_event_raw_sys_enter *ctx)
{
	return save_signal((__s32)ctx->args[0], 0, (__u32)ctx->args[1], CSM_SYS_TKILL);
}

SEC("tracepoint/syscalls/sys_enter_tgkill")
int csm_signal__sys_enter_tgkill(struct trace_event_raw_sys_enter *ctx)
{
	return save_signal((__s32)ctx->args[0], (__u32)ctx->args[1], (__u32)ctx->args[2], CSM_SYS_TGKILL);
}

SEC("tracepoint/syscalls/sys_enter_rt_sigqueueinfo")
int csm_signal__sys_enter_rt_sigqueueinfo(struct trace_event_raw_sys_enter *ctx)
{
	return save_signal((__s32)ctx->args[0], 0, (__u32)ctx->args[1], CSM_SYS_RT_SIGQUEUEINFO);
}

SEC("tracepoint/syscalls/sys_enter_rt_tgsigqueueinfo")
int csm_signal__sys_enter_rt_tgsigqueueinfo(struct trace_event_raw_sys_enter *ctx)
{
	return save_signal((__s32)ctx->args[0], (__u32)ctx->args[1], (__u32)ctx->args[2],
			   CSM_SYS_RT_TGSIGQUEUEINFO);
}

SEC("tracepoint/syscalls/sys_exit_kill")
int csm_signal__sys_exit_kill(struct trace_event_raw_sys_exit *ctx)
{
	return emit_signal(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_tkill")
int csm_signal__sys_exit_tkill(struct trace_event_raw_sys_exit *ctx)
{
	return emit_signal(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_tgkill")
int csm_signal__sys_exit_tgkill(struct trace_event_raw_sys_exit *ctx)
{
	return emit_signal(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_rt_sigqueueinfo")
int csm_signal__sys_exit_rt_sigqueueinfo(struct trace_event_raw_sys_exit *ctx)
{
	return emit_signal(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_rt_tgsigqueueinfo")
int csm_signal__sys_exit_rt_tgsigqueueinfo(struct trace_event_raw_sys_exit *ctx)
{
	return emit_signal(ctx->ret);
}
