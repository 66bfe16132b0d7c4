/* SPDX-License-Identifier: GPL-2.0 */
/* Writing records: common header, adaptive wakeup, lost-event accounting. */
#ifndef CSM_LIB_OUTPUT_H
#define CSM_LIB_OUTPUT_H

#include "maps.h"

/* Set by user space before load (read-only data, so the verifier folds them). */
const volatile __u32 agent_tgid = 0;
/* Wake the reader only when this many bytes wait: waking it per record costs more than the
 * tracing itself. The reader also consumes on a short timer, so a quiet host still sees events. */
const volatile __u64 wakeup_threshold_bytes = 1024 * 1024;

/* True for events the agent itself causes (its /proc reads would otherwise feed back). */
static __always_inline bool is_agent_task(void)
{
	return agent_tgid != 0 && (bpf_get_current_pid_tgid() >> 32) == agent_tgid;
}

static __always_inline char *get_record_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&record_scratch, &zero);
}

static __always_inline void fill_header(struct csm_event_header *hdr, __u32 type)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	hdr->type = type;
	hdr->size = 0;
	hdr->timestamp_ns = bpf_ktime_get_boot_ns();
	hdr->pid = pid_tgid >> 32;
	hdr->tid = (__u32)pid_tgid;
	hdr->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(hdr->comm, sizeof(hdr->comm));
}

static __always_inline void count_lost(__u32 type)
{
	__u64 *counter = bpf_map_lookup_elem(&lost_events, &type);

	if (counter)
		__sync_fetch_and_add(counter, 1);
}

/* Copies `size` bytes of `record` to the ring buffer, waking the reader only past the threshold. */
static __always_inline void emit_record(void *record, __u64 size)
{
	struct csm_event_header *hdr = record;
	__u64 flags = BPF_RB_NO_WAKEUP;

	/* Records never reach CSM_MAX_RECORD_LEN; the clamp and mask are for the verifier. */
	if (size >= CSM_MAX_RECORD_LEN)
		size = CSM_MAX_RECORD_LEN - 1;
	/* In asm so the compiler cannot fold it into 32-bit shifts that lose the bound. */
	asm volatile("%[size] &= %[mask]" : [size] "+r"(size) : [mask] "i"(CSM_MAX_RECORD_LEN - 1));
	hdr->size = (__u32)size;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + size >= wakeup_threshold_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, record, size, flags) != 0)
		count_lost(hdr->type);
}

#endif /* CSM_LIB_OUTPUT_H */
