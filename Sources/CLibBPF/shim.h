/* What Swift sees of libbpf, plus the ring-buffer record layout shared with the BPF programs. */
#ifndef CSM_CLIBBPF_SHIM_H
#define CSM_CLIBBPF_SHIM_H
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/btf.h>
#include <linux/bpf.h>
#include "../../bpf/include/events.h"
#endif
