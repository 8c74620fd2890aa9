Script started on 2026-11-23 01:14:17+00:00 [COMMAND="printf 'step 1\n'; sleep 0.3; printf 'step 2 \303\251\n'" <not executed on terminal>]
step 1
step 2 é

Script done on 2026-11-23 01:14:18+00:00 [COMMAND_EXIT_CODE="0"]
