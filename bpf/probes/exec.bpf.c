/* SPDX-License-Identifier: GPL-2.0 */
/* exec: sched_process_exec fires once the new image is in place, so args and envs are read from the
 * new mm and the executable from bprm->file. A failed execve never reaches it. */

SEC("tp_btf/sched_process_exec")
int BPF_PROG(csm_exec__sched_process_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	char *record;
	struct csm_exec_event *event;
	struct mm_struct *mm;
	struct tty_struct *tty;
	__u64 start, end, len;
	__u32 offset;

	if (is_agent_task())
		return 0;
	record = get_record_scratch();
	if (!record)
		return 0;
	event = (struct csm_exec_event *)record;
	__builtin_memset(event, 0, sizeof(*event));
	fill_header(&event->hdr, CSM_EVENT_EXEC);

	offset = sizeof(*event);
	fill_file(&event->file, offset, BPF_CORE_READ(bprm, file));
	offset += event->file.path_len;

	fill_credentials(&event->creds, task);
	event->fork_time_ns = BPF_CORE_READ(task, start_boottime);
	event->ppid = BPF_CORE_READ(task, real_parent, tgid);

	tty = BPF_CORE_READ(task, signal, tty);
	if (tty)
		bpf_probe_read_kernel_str(event->tty, sizeof(event->tty), __builtin_preserve_access_index(&tty->name));

	mm = BPF_CORE_READ(task, mm);
	start = BPF_CORE_READ(mm, arg_start);
	end = BPF_CORE_READ(mm, arg_end);
	len = end > start ? end - start : 0;
	if (len > CSM_MAX_ARGS_LEN) {
		len = CSM_MAX_ARGS_LEN;
		event->flags |= CSM_EXEC_ARGS_TRUNCATED;
	}
	if (bpf_probe_read_user(&record[offset & CSM_RECORD_OFFSET_MASK], len, (void *)start) == 0)
		event->args_len = len;
	offset += event->args_len;

	start = BPF_CORE_READ(mm, env_start);
	end = BPF_CORE_READ(mm, env_end);
	len = end > start ? end - start : 0;
	if (len > CSM_MAX_ENVS_LEN) {
		len = CSM_MAX_ENVS_LEN;
		event->flags |= CSM_EXEC_ENVS_TRUNCATED;
	}
	if (bpf_probe_read_user(&record[offset & CSM_RECORD_OFFSET_MASK], len, (void *)start) == 0)
		event->envs_len = len;
	offset += event->envs_len;

	emit_record(record, offset);
	return 0;
}
