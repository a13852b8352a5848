#!/usr/bin/env bash
# Builds everything and boots a VM with the module loaded: `make run` and `make vm`.
#
#   scripts/vm.sh [--kernel lean|debug] [--cmd CMD] [--interactive-if-tty] [--params 'k=v ...']
#
# Without --cmd: an interactive shell when standard input is a terminal (and
# --interactive-if-tty is given), otherwise the script read from standard input.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
flavor=lean cmd= have_cmd=0 interactive_if_tty=0 params=
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) flavor=$2; shift 2 ;;
	--cmd) cmd=$2; have_cmd=1; shift 2 ;;
	--interactive-if-tty) interactive_if_tty=1; shift ;;
	--params) params=$2; shift 2 ;;
	*) echo "vm.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

{ read -r kdir; read -r module; } < <("$here/scripts/build.sh" "$flavor")
[ -n "${module:-}" ] || exit 1

if [ $have_cmd -eq 0 ] && [ $interactive_if_tty -eq 1 ] && [ -t 0 ]; then
	echo "[vm] booting the $flavor kernel (TCG, a few seconds); 'exit' or Ctrl-A x leaves" >&2
	exec "$here/qemu/run.sh" --kernel-dir "$kdir" --module "$module" --params "$params" --interactive
fi
if [ $have_cmd -eq 0 ]; then
	cmd=$(cat)
fi
echo "[vm] booting the $flavor kernel (TCG, a few seconds) to run the command" >&2
exec "$here/qemu/run.sh" --kernel-dir "$kdir" --module "$module" --params "$params" --cmd "$cmd"
