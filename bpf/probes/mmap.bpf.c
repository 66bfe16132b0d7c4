/* SPDX-License-Identifier: GPL-2.0 */
/* mmap(2) and mprotect(2). Both fire often on a busy host, so both stay cheap: arguments saved at
 * sys_enter, a fixed record at sys_exit, and a path walk only for file-backed mappings.
 *
 * mprotect reads the VMA holding the start address at sys_enter (bpf_find_vma), so vm_protection
 * is the protection before the call even when the call succeeds and changes it. */

#define CSM_MAP_ANONYMOUS 0x20
#define CSM_VM_READ 0x1
#define CSM_VM_WRITE 0x2
#define CSM_VM_EXEC 0x4

SEC("tracepoint/syscalls/sys_enter_mmap")
int csm_mmap__sys_enter_mmap(struct trace_event_raw_sys_enter *ctx)
{
	struct pm_pending pending = {};

	if (is_agent_task())
		return 0;
	pending.kind = CSM_EVENT_MMAP;
	pending.args[0] = ctx->args[0]; /* addr */
	pending.args[1] = ctx->args[1]; /* len */
	pending.args[2] = ctx->args[2]; /* prot */
	pending.args[3] = ctx->args[3]; /* flags */
	pending.args[4] = ctx->args[4]; /* fd */
	pending.args[5] = ctx->args[5]; /* offset, bytes */
	pm_save(&pending);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_mmap")
int csm_mmap__sys_exit_mmap(struct trace_event_raw_sys_exit *ctx)
{
	struct pm_pending args;
	struct csm_mmap_event *event;
	struct file *file = NULL;
	char *record;
	__u32 offset;
	long retval = ctx->ret;

	if (!pm_take(CSM_EVENT_MMAP, &args))
		return 0;
	record = get_record_scratch();
	if (!record)
		return 0;
	event = (struct csm_mmap_event *)record;
	__builtin_memset(event, 0, sizeof(*event));
	fill_header(&event->hdr, CSM_EVENT_MMAP);
	event->retval = retval;
	event->address = retval >= 0 ? (__u64)retval : args.args[0];
	event->length = args.args[1];
	event->protection = (__u32)args.args[2];
	event->flags = (__u32)args.args[3];
	event->fd = (__s32)args.args[4];
	event->offset = args.args[5];

	offset = sizeof(*event);
	if (!(event->flags & CSM_MAP_ANONYMOUS) && event->fd >= 0)
		file = file_from_fd((struct task_struct *)bpf_get_current_task(), event->fd);
	if (file) {
		event->pm_flags |= CSM_PM_HAS_FILE;
		fill_file(&event->file, offset, file);
		offset += event->file.path_len;
	}
	emit_record(record, offset);
	return 0;
}

static long mprotect_vma_cb(struct task_struct *task, struct vm_area_struct *vma, struct pm_pending *pending)
{
	__u64 vm_flags = BPF_CORE_READ(vma, vm_flags);
	__u32 prot = 0;

	if (vm_flags & CSM_VM_READ)
		prot |= 0x1; /* PROT_READ */
	if (vm_flags & CSM_VM_WRITE)
		prot |= 0x2; /* PROT_WRITE */
	if (vm_flags & CSM_VM_EXEC)
		prot |= 0x4; /* PROT_EXEC */
	pending->extra[0] = BPF_CORE_READ(vma, vm_start);
	pending->extra[1] = BPF_CORE_READ(vma, vm_end);
	pending->extra[2] = prot;
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_mprotect")
int csm_mprotect__sys_enter_mprotect(struct trace_event_raw_sys_enter *ctx)
{
	struct pm_pending pending = {};
	long found;

	if (is_agent_task())
		return 0;
	pending.kind = CSM_EVENT_MPROTECT;
	pending.args[0] = ctx->args[0]; /* start */
	pending.args[1] = ctx->args[1]; /* len */
	pending.args[2] = ctx->args[2]; /* prot */
	found = bpf_find_vma((struct task_struct *)bpf_get_current_task_btf(), pending.args[0],
			     mprotect_vma_cb, &pending, 0);
	if (found == -2 /* -ENOENT */)
		pending.aux |= CSM_PM_NO_VMA;
	else if (found != 0)
		pending.aux |= CSM_PM_VMA_BUSY;
	pm_save(&pending);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_mprotect")
int csm_mprotect__sys_exit_mprotect(struct trace_event_raw_sys_exit *ctx)
{
	struct csm_mprotect_event event = {};
	struct pm_pending args;

	if (!pm_take(CSM_EVENT_MPROTECT, &args))
		return 0;
	fill_header(&event.hdr, CSM_EVENT_MPROTECT);
	event.retval = ctx->ret;
	event.req_start = args.args[0];
	event.req_length = args.args[1];
	event.req_protection = (__u32)args.args[2];
	event.vm_start = args.extra[0];
	event.vm_end = args.extra[1];
	event.vm_protection = (__u32)args.extra[2];
	event.pm_flags = args.aux;
	emit_record(&event, sizeof(event));
	return 0;
}
