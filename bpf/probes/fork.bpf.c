/* SPDX-License-Identifier: GPL-2.0 */
/* fork: new processes only; a new thread (child pid != tgid) is not a process event. */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(csm_fork__sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	struct csm_fork_event event = {};

	if (is_agent_task())
		return 0;
	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0;
	fill_header(&event.hdr, CSM_EVENT_FORK);
	fill_credentials(&event.creds, child);
	event.child_pid = BPF_CORE_READ(child, tgid);
	event.child_tid = BPF_CORE_READ(child, pid);
	event.child_start_ns = BPF_CORE_READ(child, start_boottime);
	emit_record(&event, sizeof(event));
	return 0;
}
