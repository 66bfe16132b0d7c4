/* SPDX-License-Identifier: GPL-2.0 */
/* Credentials of a task. */
#ifndef CSM_LIB_CREDENTIALS_H
#define CSM_LIB_CREDENTIALS_H

static __always_inline void fill_credentials(struct csm_credentials *out, struct task_struct *task)
{
	const struct cred *cred = BPF_CORE_READ(task, cred);

	out->uid = BPF_CORE_READ(cred, uid.val);
	out->gid = BPF_CORE_READ(cred, gid.val);
	out->euid = BPF_CORE_READ(cred, euid.val);
	out->egid = BPF_CORE_READ(cred, egid.val);
	out->fsuid = BPF_CORE_READ(cred, fsuid.val);
	out->fsgid = BPF_CORE_READ(cred, fsgid.val);
	out->auid = BPF_CORE_READ(task, loginuid.val);
	out->_pad = 0;
	/* kernel_cap_t is one u64 since 6.3 and two u32 before: 8 bytes either way. */
	bpf_probe_read_kernel(&out->cap_effective, sizeof(out->cap_effective), &cred->cap_effective);
	bpf_probe_read_kernel(&out->cap_permitted, sizeof(out->cap_permitted), &cred->cap_permitted);
}

#endif /* CSM_LIB_CREDENTIALS_H */
