#!/usr/bin/env bash
# Regenerates the recordings in this directory. Every file is a REAL recording made here by the
# Debian `asciinema` (2.2, asciicast v2) or util-linux `script`, under a pseudo-terminal (tmux
# or script itself); only short-v3.cast is converted (from short.cast, by the asciicast v3 spec:
# header term object, relative intervals, `#` comments, `x` exit) because asciinema 2.2 cannot
# write v3. Nothing here is edited by hand.
#
#   admin-session.cast   a ~30 s administration session with keystrokes (asciinema rec --stdin)
#                        for `trailseal demo`: uname, id, sudo -l with a typed password, a
#                        config edit in vim, a check; the shell is staged (see stage/ below):
#                        `sudo`, `id`, `uname` and `systemctl` are shell functions so no real
#                        account or privilege is involved, the rest is real bash and vim.
#   short.cast           asciinema rec --stdin of a tiny command with typed input
#   short-v3.cast        short.cast converted to asciicast v3 (see above)
#   script-io.log/.tm    script --log-io / --log-timing (advanced, input and output)
#   script-classic.ts/.tm script -t (classic typescript + timing)
#
# Needs: asciinema, tmux, script (util-linux), vim, python3. Takes about a minute.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'tmux -L trailseal-gen kill-server 2>/dev/null || true; rm -rf "$work"' EXIT
export HOME="$work" LANG=C.UTF-8 LC_ALL=C.UTF-8
cd "$work"

# --- admin-session.cast -------------------------------------------------------------------
mkdir -p stage/etc/ssh
cat > stage/etc/ssh/sshd_config <<'EOF'
# sshd_config on db01 (managed by ops)
Include /etc/ssh/sshd_config.d/*.conf
Port 22
#PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding no
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
cat > stage/rc <<'EOF'
PS1='admin@db01:~$ '
cd "$HOME/stage"
uname() { echo "Linux db01 6.1.0-18-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01) x86_64 GNU/Linux"; }
id() { echo "uid=1000(admin) gid=1000(admin) groups=1000(admin),4(adm),27(sudo)"; }
systemctl() { sleep 0.4; }
vi() { command vim -u NONE -N -i NONE "$@"; }
sudo() {
  local pw
  read -rsp "[sudo] password for admin: " pw; echo
  if [ "$1" = "-l" ]; then
    cat <<'L'
Matching Defaults entries for admin on db01:
    env_reset, mail_badpass,
    secure_path=/usr/local/sbin\:/usr/local/bin\:/usr/sbin\:/usr/bin\:/sbin\:/bin,
    use_pty, log_input, log_output

User admin may run the following commands on db01:
    (root) /usr/bin/systemctl reload ssh, /usr/bin/vi /etc/ssh/sshd_config
    (ALL : ALL) ALL
L
  else
    "$@"
  fi
}
EOF

T="tmux -L trailseal-gen"
$T -f /dev/null new-session -d -s rec -x 80 -y 24 \
  "asciinema rec --stdin -q -c 'bash --noprofile --rcfile $work/stage/rc -i' $work/admin-session.cast"
for _ in $(seq 100); do [ -s admin-session.cast ] && break; sleep 0.1; done
sleep 1.5
type() { # types like a person: one key at a time
  local s="$1" i
  for ((i = 0; i < ${#s}; i++)); do $T send-keys -t "${target:-rec}" -l -- "${s:i:1}"; sleep 0.07; done
}
enter() { $T send-keys -t "${target:-rec}" Enter || true; sleep "${1:-1}"; }
type "uname -a"; enter 1.2
type "id"; enter 1.2
type "sudo -l"; enter 1
type "Tr0ub4dor&3"; enter 2.5
type "grep -n PermitRootLogin etc/ssh/sshd_config"; enter 1.5
type "sudo vi etc/ssh/sshd_config"; enter 1
type "s3cret-Passw0rd"; enter 2
type "/PermitRootLogin"; enter 0.8
type "ccPermitRootLogin no"; sleep 0.5
$T send-keys -t rec Escape; sleep 0.8
type ":wq"; enter 1
type "grep -n PermitRootLogin etc/ssh/sshd_config"; enter 1.5
type "sudo systemctl reload ssh"; enter 0.8
type "Tr0ub4dor&3"; enter 1.5
type "exit"; enter 1
for _ in $(seq 50); do $T has-session -t rec 2>/dev/null || break; sleep 0.2; done
cp admin-session.cast "$here/admin-session.cast"

# --- short.cast (asciinema --stdin) and its v3 conversion ----------------------------------
$T -f /dev/null new-session -d -s short -x 80 -y 24 \
  "asciinema rec --stdin -q -c 'read -rp \"name? \" x; echo \"hello \$x\"' $work/short.cast"
for _ in $(seq 100); do [ -s short.cast ] && break; sleep 0.1; done
sleep 0.8
target=short; type "root"; enter 1
for _ in $(seq 50); do $T has-session -t short 2>/dev/null || break; sleep 0.2; done
cp short.cast "$here/short.cast"
python3 - short.cast "$here/short-v3.cast" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
h = json.loads(lines[0])
header = {"version": 3, "term": {"cols": h["width"], "rows": h["height"]}, "timestamp": h["timestamp"]}
if h.get("env", {}).get("TERM"):
    header["term"]["type"] = h["env"]["TERM"]
for k in ("command", "title", "env", "idle_time_limit"):
    if k in h:
        header[k] = h[k]
out = [json.dumps(header, ensure_ascii=False), "# converted from asciicast v2 by generate.sh"]
prev = 0
for line in lines[1:]:
    t, code, data = json.loads(line)
    us = round(t * 1e6)
    out.append(json.dumps(["%.6f" % ((us - prev) / 1e6), code, data], ensure_ascii=False).replace('["', "[", 1).replace('",', ",", 1))
    prev = us
out.append(json.dumps([0.1, "x", "0"]))
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(out) + "\n")
PY

# --- script --log-io / --log-timing, and classic script -t ----------------------------------
(sleep 0.5; printf 'yes\r'; sleep 1) | script -q --log-io script-io.log --log-timing script-io.tm \
  -c "read -rp 'continue? ' a; echo \"answer: \$a\"; printf '\303\251t\303\251 \342\202\254\n'" > /dev/null
script -q -t 2>script-classic.tm -c "printf 'step 1\n'; sleep 0.3; printf 'step 2 \303\251\n'" script-classic.ts > /dev/null
cp script-io.log script-io.tm script-classic.ts script-classic.tm "$here/"
ls -l "$here"
