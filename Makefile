# SPDX-License-Identifier: GPL-2.0
#
# pathstore: out-of-tree module build and install, plus the harness that builds a Rust-enabled
# kernel and runs the module in QEMU.
#
#   make                         build the module against KDIR (default: the running kernel)
#   make KDIR=/path/to/build     build against any Rust-enabled kernel build tree
#   make toolchain               only check KDIR and that rustc and bindgen are the kernel's
#   sudo make install            install the module (modules_install), udev rule, C header and
#                                modprobe.d / modules-load.d files; DESTDIR= for a staging tree,
#                                MO= to install a module kbuild built in another folder
#   sudo make uninstall          remove what install installed
#   sudo make dkms-source        copy the sources dkms builds from to /usr/src/pathstore-VERSION
#                                (DKMS_SOURCE= for another folder)
#   make run [CMD='...']         set up, build, boot a VM with the module loaded (shell or CMD)
#   make test                    set up, build, run every test (debug kernel): before a commit
#   make check                   the same passes, smaller: under 5 minutes warm, while working
#   make mutants [TIER=test] [MUTANTS='a b']  apply each deliberate bug of scripts/mutants/list to
#                                a copy of the module and show that `make check` catches it
#   make vm CMD='...'            run CMD in a VM with the module loaded, the checkout mounted
#   make fuzz [SECONDS=N]        fuzz the module against a model for N s (default 600, debug kernel)
#   make bench [QUICK=1]         benchmark against tmpfs, the keyring and a no-op ioctl (lean kernel)
#   make rust-analyzer           write rust-project.json for editors
#   make CLIPPY=1                build with clippy (passed through to kbuild)
#
# The module must be built with the compilers the kernel was built with: LLVM follows the tree's
# configuration (see below; `make LLVM=...` overrides it), and the build stops with an error when
# the rustc or bindgen on PATH is not the one recorded in KDIR/.config.

KDIR ?= /lib/modules/$(shell uname -r)/build
PWD := $(shell pwd)
# The kernel's Rust build needs bindgen, installed by cargo.
export PATH := $(HOME)/.cargo/bin:$(PATH)
# As in the kernel's Makefile: only a value on the command line replaces these.
RUSTC = rustc
BINDGEN = bindgen
# As in kbuild's scripts/depmod.sh.
DEPMOD ?= depmod

# Flavour of the guest kernel for `run` and `vm` (test always uses debug).
KERNEL ?= lean

# Where `make install` puts the module: INSTALL_MOD_PATH/lib/modules/RELEASE/updates/src/ (the
# folder is the object's in Kbuild), as kbuild's modules_install does (INSTALL_MOD_PATH defaults
# to DESTDIR), and everything else.
INSTALL_MOD_PATH ?= $(DESTDIR)
PREFIX ?= /usr/local
INCLUDEDIR ?= $(PREFIX)/include
SYSCONFDIR ?= /etc
UDEVRULESDIR ?= $(SYSCONFDIR)/udev/rules.d
MODPROBEDIR ?= $(SYSCONFDIR)/modprobe.d
MODULESLOADDIR ?= $(SYSCONFDIR)/modules-load.d
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
# The CLI, when it has been built (cd tools && cargo build --release -p pathstore-cli).
CLI := tools/target/release/pathstore
CLI_FILES = $(BINDIR)/pathstore $(DATADIR)/bash-completion/completions/pathstore \
	$(DATADIR)/zsh/vendor-completions/_pathstore $(DATADIR)/fish/vendor_completions.d/pathstore.fish

# $(call kconfig,NAME): the value of CONFIG_NAME in KDIR/.config, without quotes; empty if unset.
kconfig = $(shell sed -n '/^CONFIG_$(1)=/{s///;s/^"\(.*\)"$$/\1/;p;}' '$(KDIR)/.config' 2>/dev/null)

# LLVM: what the kernel tree was built with. kconfig records the compiler it was configured with
# in include/config/auto.conf.cmd (`ifneq "$(CC)" "clang-19"`): `LLVM=-19` gives clang-19,
# `LLVM=1` clang, `LLVM=/dir/` /dir/clang. Without that file (a header package), .config says
# only CONFIG_CC_IS_CLANG and CONFIG_CLANG_VERSION: then clang-MAJOR if it is on PATH, else clang.
# A GCC-built tree gets no LLVM at all. A tree built with clang but not LLVM's linker (CC=clang
# alone) gets that CC instead of LLVM.
ifeq ($(origin LLVM),undefined)
kbuild_cc := $(shell sed -n 's/^ifneq "$$(CC)" "\(.*\)"$$/\1/p' '$(KDIR)/include/config/auto.conf.cmd' 2>/dev/null)
ifeq ($(kbuild_cc),)
ifeq ($(call kconfig,CC_IS_CLANG),y)
clang_major := $(shell expr $(call kconfig,CLANG_VERSION) / 10000 2>/dev/null)
kbuild_cc := $(if $(shell command -v clang-$(clang_major) 2>/dev/null),clang-$(clang_major),clang)
endif
endif
ifneq ($(filter clang%,$(notdir $(kbuild_cc))),)
ifeq ($(call kconfig,LD_IS_LLD),y)
clang_dir := $(filter-out ./,$(dir $(kbuild_cc)))
clang_suffix := $(patsubst clang%,%,$(notdir $(kbuild_cc)))
LLVM := $(or $(clang_dir),$(clang_suffix),1)
else
kbuild_cc_arg := CC=$(kbuild_cc)
endif
endif
endif

# dkms (3.0) appends CC=clang LD=ld.lld to its make command for a clang-built kernel: that would
# replace the clang-NN the tree was built with, so under dkms (DKMS_BUILD=1, set by dkms.conf) they
# are not passed on and LLVM above decides.
ifneq ($(DKMS_BUILD),)
MAKEOVERRIDES := $(filter-out CC=% LD=%,$(MAKEOVERRIDES))
unexport CC LD
endif

# MO: kbuild's output folder for the module (default: beside the sources, src/pathstore.ko).
kbuild = $(MAKE) -C $(KDIR) M=$(PWD) $(if $(MO),MO=$(MO)) $(if $(LLVM),LLVM=$(LLVM)) $(kbuild_cc_arg)

.PHONY: all modules clean modules_install install uninstall dkms-source toolchain rust-analyzer setup \
	run vm test check mutants fuzz heavy bench
all: modules

# The kernel tree must be a configured build tree with Rust support and its Rust metadata, and
# rustc and bindgen must be the ones it was built with: a module built by another rustc cannot
# use the kernel's crates. Kbuild strips '#' from the version texts, so this does too.
toolchain:
	@test -f '$(KDIR)/.config' || { \
		echo "pathstore: KDIR=$(KDIR) is not a configured kernel build tree (no .config)." >&2; \
		echo "  Give the build tree of your kernel: make KDIR=/path/to/linux-build" >&2; exit 1; }
	@test '$(call kconfig,RUST)' = y || { \
		echo "pathstore: the kernel in KDIR=$(KDIR) was built without CONFIG_RUST=y." >&2; exit 1; }
	@test -f '$(KDIR)/rust/libkernel.rmeta' || { \
		echo "pathstore: KDIR=$(KDIR) has CONFIG_RUST=y but no Rust metadata (rust/libkernel.rmeta)." >&2; \
		echo "  Distribution header packages do not ship it: out-of-tree Rust modules need the" >&2; \
		echo "  kernel's own build tree (see README.md, \"Real hosts\")." >&2; exit 1; }
	@want='$(call kconfig,RUSTC_VERSION_TEXT)'; \
	have=$$($(RUSTC) --version 2>/dev/null | head -n 1 | tr -d '#'); \
	test "$$have" = "$$want" || { \
		echo "pathstore: rustc does not match the kernel's." >&2; \
		echo "  The kernel was built by: $$want" >&2; \
		echo "  $(RUSTC) here is:       $${have:-(not found)}" >&2; \
		v=$${want#rustc }; v=$${v%% *}; \
		echo "  Install that rustc (rustup toolchain install $$v) and select it here" >&2; \
		echo "  (rustup override set $$v), or name it: make RUSTC=/path/to/rustc" >&2; exit 1; }
	@want='$(call kconfig,BINDGEN_VERSION_TEXT)'; \
	have=$$($(BINDGEN) --version 2>/dev/null | head -n 1 | tr -d '#'); \
	test -z "$$want" || test "$$have" = "$$want" || { \
		echo "pathstore: bindgen does not match the kernel's." >&2; \
		echo "  The kernel was built with: $$want" >&2; \
		echo "  $(BINDGEN) here is:     $${have:-(not found)}" >&2; \
		echo "  Install it with cargo install --locked bindgen-cli --version $${want#bindgen }," >&2; \
		echo "  or name it: make BINDGEN=/path/to/bindgen" >&2; exit 1; }

modules: toolchain
	+$(kbuild) modules

modules_install:
	+$(kbuild) modules_install

# kbuild's generator adds an external module's crate only when a Makefile or Kbuild in the folder
# of its root names it, and ours is one folder up (obj-m := src/pathstore.o): add the crate, with
# the folder of the ABI file it includes (tools/pathstore-abi/src/) among its sources.
define rust_analyzer_module
import json, os
path = "rust-project.json"
project = json.load(open(path))
crates = project["crates"]
index = {c["display_name"]: i for i, c in enumerate(crates)}
root = os.path.abspath("src/pathstore.rs")
crates[:] = [c for c in crates if c["root_module"] != root]
crates.append({
    "display_name": "pathstore",
    "root_module": root,
    "is_workspace_member": True,
    "deps": [{"crate": index[n], "name": n}
             for n in ("core", "kernel", "pin_init", "zerocopy", "zerocopy_derive") if n in index],
    "cfg": crates[index["kernel"]]["cfg"],
    "edition": "2021",
    "env": {"RUST_MODFILE": "This is only for rust-analyzer"},
    "source": {"include_dirs": [os.path.abspath("src"), os.path.abspath("tools/pathstore-abi/src")],
               "exclude_dirs": []},
})
json.dump(project, open(path, "w"), sort_keys=True, indent=4)
print("rust-project.json: the crate pathstore (src/pathstore.rs) added")
endef
export rust_analyzer_module

rust-analyzer: toolchain
	+$(kbuild) rust-analyzer
	@python3 -c "$$rust_analyzer_module"

clean:
	+$(kbuild) clean 2>/dev/null || true
	rm -rf build

# Installs what `make` built, the way kbuild installs modules (modules_install: copy, then
# depmod), plus the files in udev/ and packaging/. An edited modprobe.d file is kept. Without
# DESTDIR it also creates the system group "pathstore" the udev rule names and has a running udevd
# reload its rules and apply them to /dev/pathstore if it exists.
install:
	@test -f '$(or $(MO),.)/src/pathstore.ko' || { echo "pathstore: build the module first: make KDIR=$(KDIR)" >&2; exit 1; }
	+$(kbuild) INSTALL_MOD_PATH=$(INSTALL_MOD_PATH) modules_install
	install -D -m 644 udev/60-pathstore.rules '$(DESTDIR)$(UDEVRULESDIR)/60-pathstore.rules'
	install -D -m 644 include/uapi/linux/pathstore.h '$(DESTDIR)$(INCLUDEDIR)/linux/pathstore.h'
	install -D -m 644 packaging/modules-load.d/pathstore.conf '$(DESTDIR)$(MODULESLOADDIR)/pathstore.conf'
	@if [ -x '$(CLI)' ]; then \
		set -e; \
		echo "install the CLI, its shell completions and man pages under $(DESTDIR)$(PREFIX)"; \
		install -D -m 755 '$(CLI)' '$(DESTDIR)$(BINDIR)/pathstore'; \
		mkdir -p '$(DESTDIR)$(DATADIR)/bash-completion/completions' '$(DESTDIR)$(DATADIR)/zsh/vendor-completions' \
			'$(DESTDIR)$(DATADIR)/fish/vendor_completions.d' '$(DESTDIR)$(MANDIR)/man1'; \
		'$(CLI)' completions bash >'$(DESTDIR)$(DATADIR)/bash-completion/completions/pathstore'; \
		'$(CLI)' completions zsh >'$(DESTDIR)$(DATADIR)/zsh/vendor-completions/_pathstore'; \
		'$(CLI)' completions fish >'$(DESTDIR)$(DATADIR)/fish/vendor_completions.d/pathstore.fish'; \
		'$(CLI)' man --dir '$(DESTDIR)$(MANDIR)/man1'; \
	else \
		echo "the CLI is not built, so not installed: cd tools && cargo build --release -p pathstore-cli"; \
	fi
	@dst='$(DESTDIR)$(MODPROBEDIR)/pathstore.conf'; \
	if [ -e "$$dst" ] && ! cmp -s packaging/modprobe.d/pathstore.conf "$$dst"; then \
		echo "kept $$dst (edited); the shipped one is packaging/modprobe.d/pathstore.conf"; \
	else \
		echo "install -D -m 644 packaging/modprobe.d/pathstore.conf $$dst"; \
		install -D -m 644 packaging/modprobe.d/pathstore.conf "$$dst"; \
	fi
ifeq ($(DESTDIR),)
	getent group pathstore >/dev/null || groupadd --system pathstore
	@if command -v udevadm >/dev/null && udevadm control --ping 2>/dev/null; then \
		echo "udevadm control --reload; udevadm trigger --name-match=pathstore"; \
		udevadm control --reload && udevadm trigger --name-match=pathstore 2>/dev/null; \
	fi; true
endif

uninstall:
	rm -f '$(INSTALL_MOD_PATH)/lib/modules/$(shell cat '$(KDIR)/include/config/kernel.release' 2>/dev/null)/updates/src/pathstore.ko'
	rm -f '$(DESTDIR)$(UDEVRULESDIR)/60-pathstore.rules' '$(DESTDIR)$(INCLUDEDIR)/linux/pathstore.h' \
		'$(DESTDIR)$(MODULESLOADDIR)/pathstore.conf' $(foreach f,$(CLI_FILES),'$(DESTDIR)$(f)') \
		'$(DESTDIR)$(MANDIR)'/man1/pathstore.1 '$(DESTDIR)$(MANDIR)'/man1/pathstore-*.1
	@dst='$(DESTDIR)$(MODPROBEDIR)/pathstore.conf'; \
	if [ -e "$$dst" ] && ! cmp -s packaging/modprobe.d/pathstore.conf "$$dst"; then \
		echo "kept $$dst (edited)"; else rm -f "$$dst"; fi
	-$(DEPMOD) $(if $(INSTALL_MOD_PATH),-b '$(INSTALL_MOD_PATH)') '$(shell cat '$(KDIR)/include/config/kernel.release' 2>/dev/null)'

# The tree dkms builds from: the module's sources and the ABI file they include from the crate
# pathstore-abi, at the same paths as in the checkout, and nothing built.
dkms_version = $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"$$/\1/p' dkms.conf)
DKMS_SOURCE ?= $(DESTDIR)/usr/src/pathstore-$(dkms_version)
dkms_files = Kbuild Makefile dkms.conf $(shell find src -name '*.rs' | sort) tools/pathstore-abi/src/uapi.rs

dkms-source:
	install -d '$(DKMS_SOURCE)'
	cp --parents $(dkms_files) '$(DKMS_SOURCE)/'

setup:
	scripts/setup.sh

# CMD reaches the guest byte for byte: $(value CMD) is not expanded by make, and the recipe reads
# it from the environment, so `$`, quotes, `$(...)` and `$?` stay the shell's.
run vm: export PATHSTORE_CMD = $(value CMD)

run: setup
	scripts/vm.sh --kernel $(KERNEL) $(if $(value CMD),--cmd "$$PATHSTORE_CMD") --interactive-if-tty

vm: setup
	@test -n "$$PATHSTORE_CMD" || { echo "usage: make vm CMD='command' [KERNEL=lean|debug]" >&2; exit 2; }
	scripts/vm.sh --kernel $(KERNEL) --cmd "$$PATHSTORE_CMD"

test: setup
	scripts/test.sh

check: setup
	scripts/check.sh

# Not part of `make test` (each mutant boots the guest): see docs/testing.md, "Mutants".
mutants: setup
	scripts/mutants.sh $(if $(TIER),--tier $(TIER)) $(MUTANTS)

fuzz: setup
	scripts/fuzz.sh $(or $(SECONDS),600)

# Not part of `make test`: the heavy delete at a million nodes, in the lean kernel.
heavy: setup
	scripts/heavy.sh $(SCALE)

bench: setup
	scripts/bench.sh $(if $(filter 1,$(QUICK)),--quick)
