/* SPDX-License-Identifier: GPL-2.0 */
/* exit: reported once per process, by its last thread. do_exit() decrements signal->live before this
 * tracepoint, so live == 0 means the whole thread group is gone (works with or without the
 * tracepoint's group_dead argument, which only newer kernels pass). */

SEC("tp_btf/sched_process_exit")
int BPF_PROG(csm_exit__sched_process_exit, struct task_struct *task)
{
	struct csm_exit_event event = {};
	__u32 status;

	if (is_agent_task())
		return 0;
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	fill_header(&event.hdr, CSM_EVENT_EXIT);
	status = BPF_CORE_READ(task, exit_code);
	if ((status & 0x7f) == 0) {
		event.cause = CSM_EXIT_EXITED;
		event.code = (status >> 8) & 0xff;
	} else {
		event.cause = (status & 0x80) ? CSM_EXIT_COREDUMPED : CSM_EXIT_SIGNALED;
		event.code = status & 0x7f;
	}
	emit_record(&event, sizeof(event));
	return 0;
}
