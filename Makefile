# csm-agent build entry points. `make run` and `make test` are the two commands the README shows.
# Everything but the agent's events goes to stderr, so that `make run | shipper` carries events only.
SHELL := /bin/bash
.DEFAULT_GOAL := build

export PATH := /opt/swift/usr/bin:$(PATH)
SWIFT ?= swift
BPFTOOL ?= bpftool
# Debian's clang builds the BPF object; Swift's toolchain clang would do as well.
BPF_CLANG ?= $(firstword $(wildcard /usr/bin/clang-14 /usr/bin/clang) clang)
BPF_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BPF_OUT := .build/bpf
BPF_SOURCES := $(wildcard bpf/*.c bpf/*/*.c bpf/*/*.h)
DEB_PACKAGES := libbpf-dev libelf-dev zlib1g-dev clang bpftool pkg-config python3-jsonschema python3-pytest python3-yaml
AGENT := .build/release/csm-agent

.PHONY: deps bpf build run test unit-test integration-test fuzz-test clean

deps:
	@if ! dpkg -s $(DEB_PACKAGES) >/dev/null 2>&1; then \
		echo "installing $(DEB_PACKAGES)" >&2; \
		apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEB_PACKAGES) >&2; \
	fi
	@python3 -c 'import jsonschema, pytest, yaml' 2>/dev/null || python3 -m pip install -q jsonschema pytest pyyaml >&2

# vmlinux.h is generated from the running kernel's BTF at build time; it is never committed.
$(BPF_OUT)/vmlinux.h:
	@mkdir -p $(BPF_OUT)
	@echo "generating $@ from /sys/kernel/btf/vmlinux" >&2
	@$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BPF_OUT)/csm.bpf.o: $(BPF_SOURCES) $(BPF_OUT)/vmlinux.h
	@echo "compiling $@ with $(BPF_CLANG)" >&2
	@$(BPF_CLANG) -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(BPF_ARCH) \
		-I$(BPF_OUT) -Ibpf -Ibpf/include -c bpf/csm.bpf.c -o $@.tmp >&2 && mv $@.tmp $@

bpf: $(BPF_OUT)/csm.bpf.o

build: deps bpf
	@$(SWIFT) build -c release --product csm-agent >&2

run: build
	@$(AGENT) run

unit-test: deps bpf
	$(SWIFT) test

integration-test: build
	python3 -m pytest -q Tests/Integration

# The fuzzers (fuzz/, libFuzzer): their saved crash inputs, then a fixed-seed run of FUZZ_RUNS inputs
# each (the same inputs every time: a test must not fail by chance). By time, by hand: bash fuzz/run.sh 600.
FUZZ_RUNS ?= 20000
fuzz-test: deps bpf
	FUZZ_RUNS=$(FUZZ_RUNS) bash fuzz/run.sh

test: unit-test integration-test fuzz-test

clean:
	rm -rf .build fuzz/.build
