/* SPDX-License-Identifier: GPL-2.0 */
/* Syscall arguments saved at sys_enter and taken back at sys_exit (ptrace, signal, mmap, mprotect,
 * splice): one pm_pending entry per thread, tagged with the saving hook's event type. */
#ifndef CSM_LIB_PENDING_ARGS_H
#define CSM_LIB_PENDING_ARGS_H

#include "maps.h"

static __always_inline void pm_save(struct pm_pending *pending)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	bpf_map_update_elem(&pm_pending, &pid_tgid, pending, BPF_ANY);
}

/* Copies this thread's saved arguments into *out and forgets them. False when there are none for
 * `kind` (the agent's own syscalls, or sys_enter ran before the probes were attached). */
static __always_inline bool pm_take(__u32 kind, struct pm_pending *out)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pm_pending *saved = bpf_map_lookup_elem(&pm_pending, &pid_tgid);

	if (!saved || saved->kind != kind)
		return false;
	*out = *saved;
	bpf_map_delete_elem(&pm_pending, &pid_tgid);
	return true;
}

#endif /* CSM_LIB_PENDING_ARGS_H */
