/* SPDX-License-Identifier: GPL-2.0 */
/* bpf(2): the command, and what it creates. At sys_enter the bpf_attr is read from user memory
 * (map type and name for BPF_MAP_CREATE; program type, attach type and name for BPF_PROG_LOAD) and,
 * for a program, its instructions are scanned for helper calls in a bpf_loop. At sys_exit a loaded
 * program's tag is read from the struct bpf_prog behind the returned fd. */

#define CSM_BPF_MAP_CREATE 0
#define CSM_BPF_PROG_LOAD 5
#define CSM_BPF_CALL_OPCODE 0x85 /* BPF_JMP | BPF_CALL */
/* The bpf_attr bytes read: up to expected_attach_type of the BPF_PROG_LOAD layout. */
#define CSM_BPF_ATTR_READ 72
#define CSM_BPF_ATTR_READ_POW2 64

/* The parts of union bpf_attr this probe reads (offsets from include/uapi/linux/bpf.h). */
struct csm_bpf_attr {
	union {
		struct {
			__u32 map_type;            /* 0 */
			__u32 key_size, value_size, max_entries, map_flags, inner_map_fd, numa_node;
			char map_name[CSM_BPF_OBJ_NAME_LEN]; /* 28 */
		};
		struct {
			__u32 prog_type;           /* 0 */
			__u32 insn_cnt;            /* 4 */
			__u64 insns;               /* 8 */
			__u64 license;
			__u32 log_level, log_size;
			__u64 log_buf;
			__u32 kern_version, prog_flags;
			char prog_name[CSM_BPF_OBJ_NAME_LEN]; /* 48 */
			__u32 prog_ifindex;        /* 64 */
			__u32 expected_attach_type; /* 68 */
		};
		/* Twice the bytes read: a length masked with (its size - 1) stays inside. */
		char raw[2 * CSM_BPF_ATTR_READ_POW2];
	};
};

static __always_inline struct bpf_insn_scan *get_insn_scan(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&bpf_insn_scan, &zero);
}

/* One bpf_loop step: copies CSM_BPF_SCAN_CHUNK instructions and records the helpers they call. */
static long scan_insn_chunk(__u64 index, void *unused)
{
	struct bpf_insn_scan *scan = get_insn_scan();
	__u32 first, count, bytes;

	if (!scan)
		return 1;
	first = index * CSM_BPF_SCAN_CHUNK;
	if (first >= scan->insn_cnt)
		return 1;
	count = scan->insn_cnt - first;
	if (count > CSM_BPF_SCAN_CHUNK)
		count = CSM_BPF_SCAN_CHUNK;
	bytes = count * sizeof(__u64);
	/* In asm so the compiler cannot reuse the unclamped value: the verifier needs the bound. */
	asm volatile("%[bytes] &= %[mask]" : [bytes] "+r"(bytes) : [mask] "i"(sizeof(scan->chunk) - 1));
	if (bpf_probe_read_user(scan->chunk, bytes, (void *)(scan->insns + (__u64)first * sizeof(__u64))) != 0) {
		scan->failed = 1;
		return 1;
	}
	for (__u32 i = 0; i < CSM_BPF_SCAN_CHUNK; i++) {
		__u64 insn;
		__u32 helper;

		if (i >= count)
			break;
		insn = scan->chunk[i];
		/* Little-endian struct bpf_insn: code, dst_reg:4 | src_reg:4, off (16), imm (32). A helper
		 * call is BPF_JMP|BPF_CALL with src_reg 0 (1 and 2 are bpf-to-bpf and kfunc calls). */
		if ((insn & 0xff) != CSM_BPF_CALL_OPCODE || ((insn >> 12) & 0xf) != 0)
			continue;
		helper = (__u32)(insn >> 32);
		if (helper < CSM_BPF_HELPER_BITMAP_WORDS * 64)
			scan->helpers[(helper >> 6) & (CSM_BPF_HELPER_BITMAP_WORDS - 1)] |= 1ULL << (helper & 63);
		else
			scan->failed |= 2;
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_bpf")
int csm_bpf__sys_enter_bpf(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct bpf_pending pending = {};
	struct csm_bpf_attr attr = {};
	struct bpf_insn_scan *scan;
	__u32 size = (__u32)ctx->args[2];

	if (is_agent_task())
		return 0;
	pending.cmd = (__u32)ctx->args[0];
	if (pending.cmd != CSM_BPF_MAP_CREATE && pending.cmd != CSM_BPF_PROG_LOAD)
		goto save;
	/* The kernel zero-fills what a shorter attr does not carry; so does this read. */
	if (size > CSM_BPF_ATTR_READ)
		size = CSM_BPF_ATTR_READ;
	asm volatile("%[size] &= %[mask]" : [size] "+r"(size) : [mask] "i"(sizeof(attr.raw) - 1));
	if (size == 0 || bpf_probe_read_user(&attr, size, (void *)ctx->args[1]) != 0) {
		pending.pm_flags |= CSM_PM_ATTR_UNREADABLE;
		goto save;
	}
	if (pending.cmd == CSM_BPF_MAP_CREATE) {
		pending.pm_flags |= CSM_PM_HAS_MAP;
		pending.map_type = attr.map_type;
		__builtin_memcpy(pending.map_name, attr.map_name, CSM_BPF_OBJ_NAME_LEN);
		goto save;
	}

	pending.pm_flags |= CSM_PM_HAS_PROG;
	pending.prog_type = attr.prog_type;
	pending.attach_type = attr.expected_attach_type;
	pending.insn_cnt = attr.insn_cnt;
	__builtin_memcpy(pending.prog_name, attr.prog_name, CSM_BPF_OBJ_NAME_LEN);
	scan = get_insn_scan();
	if (!scan)
		goto save;
	__builtin_memset(scan->helpers, 0, sizeof(scan->helpers));
	scan->failed = 0;
	scan->insns = attr.insns;
	scan->insn_cnt = attr.insn_cnt;
	if (scan->insn_cnt > CSM_BPF_MAX_SCANNED_INSNS) {
		scan->insn_cnt = CSM_BPF_MAX_SCANNED_INSNS;
		pending.pm_flags |= CSM_PM_HELPERS_TRUNCATED;
	}
	bpf_loop((scan->insn_cnt + CSM_BPF_SCAN_CHUNK - 1) / CSM_BPF_SCAN_CHUNK, scan_insn_chunk, NULL, 0);
	if (scan->failed & 1)
		pending.pm_flags |= CSM_PM_INSNS_UNREADABLE;
	if (scan->failed & 2)
		pending.pm_flags |= CSM_PM_HELPERS_TRUNCATED;
	__builtin_memcpy(pending.helpers, scan->helpers, sizeof(pending.helpers));
save:
	bpf_map_update_elem(&bpf_pending, &pid_tgid, &pending, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bpf")
int csm_bpf__sys_exit_bpf(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct bpf_pending *saved = bpf_map_lookup_elem(&bpf_pending, &pid_tgid);
	struct csm_bpf_event *event;
	char *record;

	if (!saved)
		return 0;
	record = get_record_scratch();
	if (!record) {
		bpf_map_delete_elem(&bpf_pending, &pid_tgid);
		return 0;
	}
	event = (struct csm_bpf_event *)record;
	__builtin_memset(event, 0, sizeof(*event));
	fill_header(&event->hdr, CSM_EVENT_BPF);
	event->retval = ctx->ret;
	event->cmd = saved->cmd;
	event->pm_flags = saved->pm_flags;
	event->map_type = saved->map_type;
	event->prog_type = saved->prog_type;
	event->attach_type = saved->attach_type;
	event->insn_cnt = saved->insn_cnt;
	__builtin_memcpy(event->map_name, saved->map_name, CSM_BPF_OBJ_NAME_LEN);
	__builtin_memcpy(event->prog_name, saved->prog_name, CSM_BPF_OBJ_NAME_LEN);
	__builtin_memcpy(event->helpers, saved->helpers, sizeof(event->helpers));
	bpf_map_delete_elem(&bpf_pending, &pid_tgid);

	if (event->cmd == CSM_BPF_PROG_LOAD && ctx->ret >= 0) {
		struct file *file = file_from_fd((struct task_struct *)bpf_get_current_task(), ctx->ret);
		struct bpf_prog *prog = file ? BPF_CORE_READ(file, private_data) : NULL;

		/* The fd was created by this very call; the type check guards against it having been
		 * closed and reused by another thread in between. */
		if (prog && BPF_CORE_READ(prog, type) == event->prog_type &&
		    bpf_probe_read_kernel(event->tag, sizeof(event->tag), &prog->tag) == 0)
			event->pm_flags |= CSM_PM_HAS_TAG;
	}
	emit_record(record, sizeof(*event));
	return 0;
}
