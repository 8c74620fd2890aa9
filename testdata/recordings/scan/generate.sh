#!/usr/bin/env bash
# Regenerates the scan fixtures: REAL recordings of a bash session made by util-linux `script`
# (--log-io: keystrokes and screen, with timing) under a tmux pseudo-terminal of 80x24, typed
# with `tmux send-keys`. Nothing here is edited by hand; test/scan-recordings.test.ts asserts the
# exact lines, commands, cards and titles found in them.
#
#   shell.log/.tm   output that scrolls the screen (seq), line editing (backspaces, ^U, ^W, ^C, an arrow-key insert, Home/End), a
#                   password typed with echo off (`read -s`), a card number printed by printf,
#                   an OSC 2 window title, vim and less on their alternate screen (less paged
#                   forward, so lines scroll inside it), a `clear`, keypad mode (`tput smkx`:
#                   arrows sent as SS3), a card number cut by the 80-column wrap, and a resize
#                   to 60x20, tab completion and a history recall (Up).
#
# Needs: tmux, script (util-linux), bash, vim, less. Takes about half a minute.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
sock=trailseal-scan-gen
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
export HOME="$work" LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color
cd "$work"

cat > rc <<'EOF'
PS1='admin@db01:~$ '
unset PROMPT_COMMAND
HISTFILE=/dev/null
bind 'set enable-bracketed-paste off'
cd "$HOME"
EOF
for i in $(seq 1 40); do printf 'inventory line %02d: host db%02d.example ok\n' "$i" "$i"; done > inventory.txt
printf 'notes for db01\nrotate the backup key\n' > notes.txt

tmux -L "$sock" -f /dev/null new-session -d -x 80 -y 24 \
  "script -q --log-io '$work/shell.log' --log-timing '$work/shell.tm' -c 'bash --noprofile --rcfile $work/rc -i'"
tmux -L "$sock" set-option -g status off
keys() { tmux -L "$sock" send-keys "$@"; sleep 0.4; }
type() { tmux -L "$sock" send-keys -l "$1"; sleep 0.4; }
sleep 1

type 'echo hello wrold'; keys BSpace BSpace BSpace BSpace; type 'orld'; keys Enter
type "seq -f 'row %g' 1 30"; keys Enter
type 'rm -rf /var/lib/mysql'; keys C-u; type 'echo one two'; keys C-w; type 'three'; keys Enter
type 'sleep 100'; keys C-c
type 'echo abc'; keys Left Left; type 'X'; keys Enter
type 'cho x'; keys Home; type 'e'; keys End; type ' y'; keys Enter
type 'tput smkx'; keys Enter
type 'echo 12'; keys Left; type 'X'; keys Enter
type 'tput rmkx'; keys Enter
type "read -rsp 'Password: ' pw; echo; echo \"got \${#pw} characters\""; keys Enter
type 's3cret-pass'; keys Enter
type "printf 'card: 4111 1111 1111 1111, ref 4111-1111-1111-1112\\n'"; keys Enter
type "printf '\\033]2;db01 maintenance\\007'"; keys Enter
type 'vim -u NONE -N -i NONE notes.txt'; keys Enter
sleep 0.6
type ':q'; keys Enter
type 'less inventory.txt'; keys Enter
sleep 0.4
keys Space
type 'q'
type 'clear'; keys Enter
type "printf '%075d 5555555555554444\\n' 0"; keys Enter
tmux -L "$sock" resize-window -x 60 -y 20; sleep 0.6
type 'echo done'; keys Enter
type 'ech'; keys Tab; type 'completed'; keys Enter
keys Up; keys Enter
type 'exit'; keys Enter
sleep 1

cp shell.log shell.tm "$here/"
echo "wrote $here/shell.log and shell.tm"
