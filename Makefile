# SPDX-License-Identifier: GPL-2.0
#
# pathstore: out-of-tree module build, plus the harness that builds a Rust-enabled kernel and
# runs the module in QEMU.
#
#   make                         build the module against KDIR (default: the running kernel)
#   make KDIR=/path/to/build     build against any Rust-enabled kernel build tree
#   make run [CMD='...']         set up, build, boot a VM with the module loaded (shell or CMD)
#   make test                    set up, build, run every test (debug kernel)
#   make vm CMD='...'            run CMD in a VM with the module loaded, the checkout mounted
#   make fuzz [SECONDS=N]        fuzz the module against a model for N s (default 600, debug kernel)
#   make bench [QUICK=1]         benchmark against tmpfs, the keyring and a no-op ioctl (lean kernel)
#   make rust-analyzer           write rust-project.json for editors
#   make CLIPPY=1                build with clippy (passed through to kbuild)

KDIR ?= /lib/modules/$(shell uname -r)/build
LLVM ?= -19
PWD := $(shell pwd)
# The kernel's Rust build needs bindgen, installed by cargo.
export PATH := $(HOME)/.cargo/bin:$(PATH)

# Flavour of the guest kernel for `run` and `vm` (test always uses debug).
KERNEL ?= lean

.PHONY: all modules clean modules_install rust-analyzer setup run vm test fuzz bench tools check-format
all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(PWD) LLVM=$(LLVM) modules

modules_install:
	$(MAKE) -C $(KDIR) M=$(PWD) LLVM=$(LLVM) modules_install

rust-analyzer:
	$(MAKE) -C $(KDIR) M=$(PWD) LLVM=$(LLVM) rust-analyzer

clean:
	$(MAKE) -C $(KDIR) M=$(PWD) LLVM=$(LLVM) clean 2>/dev/null || true
	rm -rf build

setup:
	scripts/setup.sh

run: setup
	scripts/vm.sh --kernel $(KERNEL) $(if $(CMD),--cmd "$$PATHSTORE_CMD") --interactive-if-tty
run vm: export PATHSTORE_CMD = $(CMD)

vm: setup
	@test -n "$$PATHSTORE_CMD" || { echo "usage: make vm CMD='command' [KERNEL=lean|debug]" >&2; exit 2; }
	scripts/vm.sh --kernel $(KERNEL) --cmd "$$PATHSTORE_CMD"

test: setup
	scripts/test.sh

fuzz: setup
	scripts/fuzz.sh $(or $(SECONDS),600)

bench: setup
	scripts/bench.sh $(if $(filter 1,$(QUICK)),--quick)
