/* SPDX-License-Identifier: GPL-2.0 */
/* init_module, finit_module, delete_module.
 *
 * Not every kernel has syscall tracepoints for these (none without CONFIG_MODULES, like this one),
 * so the record is built at the raw sys_exit tracepoint, where the syscall number and arguments are
 * still in pt_regs: the program runs on every syscall of the host and returns on its first
 * instructions unless the number matches. Where the kernel has the per-syscall tracepoints they are
 * used too (the loader switches them off when missing); once one of them has run, the raw programs
 * stand down (module_syscall_tracepoints_seen) so that nothing is reported twice. Where the kernel
 * has the module/module_load tracepoint, the loaded struct module's name is added to the record.
 *
 * init_module: the image is in user memory; its section headers are scanned (bpf_loop, bounded)
 * for .modinfo, whose first bytes travel in the record (user space reads `name=` from them).
 * finit_module: the fd leads to the file and its path; user space reads .modinfo from it. */

#if defined(__TARGET_ARCH_x86)
#define CSM_NR_INIT_MODULE 175
#define CSM_NR_DELETE_MODULE 176
#define CSM_NR_FINIT_MODULE 313
#define CSM_SYSCALL_NR(regs) ((regs)->orig_ax)
#elif defined(__TARGET_ARCH_arm64)
#define CSM_NR_INIT_MODULE 105
#define CSM_NR_DELETE_MODULE 106
#define CSM_NR_FINIT_MODULE 273
#define CSM_SYSCALL_NR(regs) ((regs)->syscallno)
#else
#error "module.bpf.c: syscall numbers for this architecture"
#endif

#define CSM_ELF_SHDR_SIZE 64

/* Set by the per-syscall module tracepoint programs the first time one runs. */
__u32 module_syscall_tracepoints_seen = 0;

/* Elf64_Shdr, the fields read. */
struct csm_elf_shdr {
	__u32 sh_name;
	__u32 sh_type;
	__u64 sh_flags;
	__u64 sh_addr;
	__u64 sh_offset;
	__u64 sh_size;
};

static __always_inline struct module_scan *get_module_scan(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&module_scan, &zero);
}

/* One section header per call: stops (returns 1) at .modinfo or at anything out of bounds. */
static long modinfo_scan_step(__u64 index, void *unused)
{
	struct module_scan *s = get_module_scan();
	struct csm_elf_shdr sh = {};
	char name[16] = {};
	__u64 at;

	if (!s || index >= s->shnum)
		return 1;
	at = s->shoff + index * CSM_ELF_SHDR_SIZE;
	if (at < s->shoff || at + CSM_ELF_SHDR_SIZE > s->image_len)
		return 1;
	if (bpf_probe_read_user(&sh, sizeof(sh), (void *)(s->image + at)) != 0)
		return 1;
	if ((__u64)sh.sh_name + 9 > s->strsize)
		return 0;
	if (bpf_probe_read_user(name, 9, (void *)(s->image + s->stroff + sh.sh_name)) != 0)
		return 0;
	if (name[0] != '.' || name[1] != 'm' || name[2] != 'o' || name[3] != 'd' || name[4] != 'i' ||
	    name[5] != 'n' || name[6] != 'f' || name[7] != 'o' || name[8] != 0)
		return 0;
	if (sh.sh_offset >= s->image_len || sh.sh_size > s->image_len - sh.sh_offset)
		return 1;
	s->found_off = sh.sh_offset;
	s->found_size = sh.sh_size;
	s->found = 1;
	return 1;
}

/* Finds .modinfo in the init_module image; true when found (offset and size in the scan state). */
static __always_inline bool find_modinfo(struct module_scan *s, __u64 image, __u64 image_len)
{
	__u8 ehdr[64] = {};
	struct csm_elf_shdr strtab = {};
	__u64 shoff, at;
	__u16 shentsize, shnum, shstrndx;

	s->found = 0;
	if (image_len < sizeof(ehdr) || bpf_probe_read_user(ehdr, sizeof(ehdr), (void *)image) != 0)
		return false;
	if (ehdr[0] != 0x7f || ehdr[1] != 'E' || ehdr[2] != 'L' || ehdr[3] != 'F' || ehdr[4] != 2 /* ELFCLASS64 */)
		return false;
	__builtin_memcpy(&shoff, &ehdr[40], 8);
	__builtin_memcpy(&shentsize, &ehdr[58], 2);
	__builtin_memcpy(&shnum, &ehdr[60], 2);
	__builtin_memcpy(&shstrndx, &ehdr[62], 2);
	if (shentsize != CSM_ELF_SHDR_SIZE || shstrndx >= shnum || shoff >= image_len)
		return false;
	at = shoff + (__u64)shstrndx * CSM_ELF_SHDR_SIZE;
	if (at + CSM_ELF_SHDR_SIZE > image_len || bpf_probe_read_user(&strtab, sizeof(strtab), (void *)(image + at)) != 0)
		return false;
	if (strtab.sh_offset >= image_len || strtab.sh_size > image_len - strtab.sh_offset)
		return false;
	s->image = image;
	s->image_len = image_len;
	s->shoff = shoff;
	s->stroff = strtab.sh_offset;
	s->strsize = strtab.sh_size;
	s->shnum = shnum > CSM_MODULE_MAX_SECTIONS ? CSM_MODULE_MAX_SECTIONS : shnum;
	bpf_loop(CSM_MODULE_MAX_SECTIONS, modinfo_scan_step, NULL, 0);
	return s->found != 0;
}

static __always_inline void take_kernel_name(struct module_pending *pending, char *name, __u32 *flags)
{
	if (pending && pending->has_name) {
		__builtin_memcpy(name, pending->name, CSM_MODULE_NAME_LEN);
		name[CSM_MODULE_NAME_LEN - 1] = 0;
		*flags |= CSM_MOD_KERNEL_NAME;
	}
}

/* Builds and writes a load_module record. `nr` is init_module's or finit_module's number. */
static __always_inline int emit_load_module(__u64 nr, __u64 a0, __u64 a1, __u64 a2, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct module_pending *pending = bpf_map_lookup_elem(&module_pending, &pid_tgid);
	struct csm_load_module_event *event;
	struct task_struct *task;
	struct module_scan *scan;
	__u64 uargs;
	__u32 offset;
	long copied;
	char *record;

	record = get_record_scratch();
	if (!record)
		return 0;
	event = (struct csm_load_module_event *)record;
	__builtin_memset(event, 0, sizeof(*event));
	fill_header(&event->hdr, CSM_EVENT_LOAD_MODULE);
	event->retval = ret;
	take_kernel_name(pending, event->kernel_name, &event->mbm_flags);
	if (pending)
		bpf_map_delete_elem(&module_pending, &pid_tgid);

	offset = sizeof(*event);
	if (nr == CSM_NR_FINIT_MODULE) {
		struct file *file;

		event->syscall = CSM_SYS_FINIT_MODULE;
		event->fd = (__s32)a0;
		event->finit_flags = (__u32)a2;
		uargs = a1;
		task = (struct task_struct *)bpf_get_current_task();
		file = file_from_fd(task, event->fd);
		if (file) {
			fill_file(&event->file, offset, file);
			event->mbm_flags |= CSM_MOD_HAS_FILE;
		} else {
			event->file.path_error = CSM_PATH_ERR_NO_FILE;
		}
		offset += event->file.path_len & (CSM_PATH_MAX * 2 - 1);
	} else {
		event->syscall = CSM_SYS_INIT_MODULE;
		event->fd = -1;
		event->image_len = a1;
		uargs = a2;
	}

	copied = bpf_probe_read_user_str(&record[offset & CSM_RECORD_OFFSET_MASK], CSM_MODULE_ARGS_MAX + 1,
					 (void *)uargs);
	if (copied > CSM_MODULE_ARGS_MAX) {
		event->args_len = CSM_MODULE_ARGS_MAX;
		event->mbm_flags |= CSM_MOD_ARGS_TRUNCATED;
	} else if (copied > 0) {
		event->args_len = copied - 1;
	} else if (uargs != 0) {
		event->mbm_flags |= CSM_MOD_ARGS_UNREADABLE;
	}
	offset += event->args_len & (CSM_MODULE_ARGS_MAX * 2 - 1);

	scan = get_module_scan();
	if (nr == CSM_NR_INIT_MODULE && scan) {
		if (find_modinfo(scan, a0, a1)) {
			__u64 size = scan->found_size;

			if (size > CSM_MODULE_MODINFO_MAX)
				size = CSM_MODULE_MODINFO_MAX;
			if (bpf_probe_read_user(&record[offset & CSM_RECORD_OFFSET_MASK], size,
						(void *)(a0 + scan->found_off)) == 0) {
				event->modinfo_len = size;
				event->mbm_flags |= CSM_MOD_MODINFO;
			} else {
				event->mbm_flags |= CSM_MOD_IMAGE_UNREADABLE;
			}
		} else {
			event->mbm_flags |= CSM_MOD_IMAGE_UNREADABLE;
		}
	}
	offset += event->modinfo_len & (CSM_MODULE_MODINFO_MAX * 2 - 1);

	emit_record(record, offset);
	return 0;
}

static __always_inline int emit_unload_module(__u64 name, __u64 flags, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct csm_unload_module_event *event;
	char *record;

	bpf_map_delete_elem(&module_pending, &pid_tgid);
	record = get_record_scratch();
	if (!record)
		return 0;
	event = (struct csm_unload_module_event *)record;
	__builtin_memset(event, 0, sizeof(*event));
	fill_header(&event->hdr, CSM_EVENT_UNLOAD_MODULE);
	event->retval = ret;
	event->flags = (__u32)flags;
	if (bpf_probe_read_user_str(event->name, sizeof(event->name), (void *)name) < 0)
		event->mbm_flags |= CSM_MNT_USER_UNREADABLE;
	emit_record(event, sizeof(*event));
	return 0;
}

/* ---- raw syscall exit: every kernel with BTF ---- */

/* One raw sys_exit program for the three module syscalls: it runs on every syscall of the host, so
 * one dispatch (one id compare for the common case) instead of one program per event type. It also
 * serves unload_module (ProbeCatalog knows). */
SEC("tp_btf/sys_exit")
int BPF_PROG(csm_load_module__sys_exit, struct pt_regs *regs, long ret)
{
	long nr = CSM_SYSCALL_NR(regs);

	if (nr != CSM_NR_INIT_MODULE && nr != CSM_NR_FINIT_MODULE && nr != CSM_NR_DELETE_MODULE)
		return 0;
	if (module_syscall_tracepoints_seen || is_agent_task())
		return 0;
	if (nr == CSM_NR_DELETE_MODULE)
		return emit_unload_module(PT_REGS_PARM1_CORE_SYSCALL(regs), PT_REGS_PARM2_CORE_SYSCALL(regs), ret);
	return emit_load_module(nr, PT_REGS_PARM1_CORE_SYSCALL(regs), PT_REGS_PARM2_CORE_SYSCALL(regs),
				PT_REGS_PARM3_CORE_SYSCALL(regs), ret);
}

/* ---- module/module_load: the kernel's own name for what it loaded ---- */

SEC("tp_btf/module_load")
int BPF_PROG(csm_load_module__module_load, struct module *mod)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct module_pending fresh = {};
	struct module_pending *pending;

	if (is_agent_task())
		return 0;
	pending = bpf_map_lookup_elem(&module_pending, &pid_tgid);
	if (!pending) {
		bpf_map_update_elem(&module_pending, &pid_tgid, &fresh, BPF_NOEXIST);
		pending = bpf_map_lookup_elem(&module_pending, &pid_tgid);
		if (!pending)
			return 0;
	}
	bpf_probe_read_kernel_str(pending->name, sizeof(pending->name), mod->name);
	pending->has_name = 1;
	return 0;
}

/* ---- per-syscall tracepoints, where the kernel has them ---- */

static __always_inline int save_module_args(__u32 nr, __u64 a0, __u64 a1, __u64 a2)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct module_pending pending = {
		.args = { a0, a1, a2 },
		.nr = nr,
	};

	module_syscall_tracepoints_seen = 1;
	if (is_agent_task())
		return 0;
	bpf_map_update_elem(&module_pending, &pid_tgid, &pending, BPF_ANY);
	return 0;
}

static __always_inline int emit_saved_module(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct module_pending *pending = bpf_map_lookup_elem(&module_pending, &pid_tgid);
	__u64 a0, a1, a2;
	__u32 nr;

	if (!pending || pending->nr == 0)
		return 0;
	nr = pending->nr;
	a0 = pending->args[0];
	a1 = pending->args[1];
	a2 = pending->args[2];
	if (nr == CSM_NR_DELETE_MODULE)
		return emit_unload_module(a0, a1, ret);
	return emit_load_module(nr, a0, a1, a2, ret);
}

SEC("tracepoint/syscalls/sys_enter_init_module")
int csm_load_module__sys_enter_init_module(struct trace_event_raw_sys_enter *ctx)
{
	return save_module_args(CSM_NR_INIT_MODULE, ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_init_module")
int csm_load_module__sys_exit_init_module(struct trace_event_raw_sys_exit *ctx)
{
	return emit_saved_module(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_finit_module")
int csm_load_module__sys_enter_finit_module(struct trace_event_raw_sys_enter *ctx)
{
	return save_module_args(CSM_NR_FINIT_MODULE, ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_finit_module")
int csm_load_module__sys_exit_finit_module(struct trace_event_raw_sys_exit *ctx)
{
	return emit_saved_module(ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_delete_module")
int csm_unload_module__sys_enter_delete_module(struct trace_event_raw_sys_enter *ctx)
{
	return save_module_args(CSM_NR_DELETE_MODULE, ctx->args[0], ctx->args[1], 0);
}

SEC("tracepoint/syscalls/sys_exit_delete_module")
int csm_unload_module__sys_exit_delete_module(struct trace_event_raw_sys_exit *ctx)
{
	return emit_saved_module(ctx->ret);
}
