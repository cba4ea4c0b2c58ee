# fish completion for prenv(1); kept in step with `prenv --help` by
# test/e2e/test_install.py. Install: /usr/share/fish/vendor_completions.d/prenv.fish
set -l commands context render deploy destroy status gc sleep wake touch list version
complete -c prenv -f
complete -c prenv -n "not __fish_seen_subcommand_from $commands" -a context -d 'what was detected and the environment chosen'
complete -c prenv -n "not __fish_seen_subcommand_from $commands" -a render -d 'render the manifests (no cluster, no network)'
complete -c prenv -n "not __fish_seen_subcommand_from $commands" -a deploy -d 'create or update the environment, wait, report the URL'
complete -c prenv -n "not __fish_seen_subcommand_from $commands" -a destroy -d 'delete the environment, report it'
complete -c prenv -n "not __fish_seen_subcommand_from $commands" -a status -d "the environment's state"
complete -c prenv -n "not __fish_seen_subcommand_from $commands" -a gc -d 'destroy, sleep or wake environments (PR, TTL, schedule)'
complete -c prenv -n "not __fish_seen_subcommand_from $commands" -a sleep -d 'put the environment to sleep'
complete -c prenv -n "not __fish_seen_subcommand_from $commands" -a wake -d 'wake a sleeping environment'
complete -c prenv -n "not __fish_seen_subcommand_from $commands" -a touch -d 'note that the environment is in use'
complete -c prenv -n "not __fish_seen_subcommand_from $commands" -a list -d "this app's environments"
complete -c prenv -n "not __fish_seen_subcommand_from $commands" -a version -d 'print the version'
complete -c prenv -s c -l config -r -F -d 'configuration file'
complete -c prenv -s o -l output -x -a 'text json yaml' -d 'output format'
complete -c prenv -s v -l verbose -d 'more detail'
complete -c prenv -s q -l quiet -d 'errors and warnings only'
complete -c prenv -l dry-run -d 'change nothing'
complete -c prenv -l kubeconfig -r -F -d 'the kubeconfig'
complete -c prenv -l env -x -d 'act on environment NAME'
complete -c prenv -l now -x -d 'the clock of gc, sleep, wake, touch (RFC 3339)'
complete -c prenv -s h -l help -d 'help'
complete -c prenv -n '__fish_seen_subcommand_from render' -l out -x -a '(__fish_complete_directories)' -d 'one file per object into DIR'
complete -c prenv -n '__fish_seen_subcommand_from render' -l allow-missing -d 'render missing variables as empty'
complete -c prenv -n '__fish_seen_subcommand_from deploy wake' -l wait -x -d 'bound the wait (300, 5m; 0 = do not wait)'
complete -c prenv -n '__fish_seen_subcommand_from deploy' -l strict-report -d 'fail when reporting fails'
complete -c prenv -n '__fish_seen_subcommand_from deploy' -l forks -x -a 'deploy skip' -d 'pull requests from forks'
complete -c prenv -n '__fish_seen_subcommand_from destroy gc' -l no-wait -d 'do not wait until gone'
complete -c prenv -n '__fish_seen_subcommand_from deploy' -l reseed -d 'run the run: once phases again'
complete -c prenv -n '__fish_seen_subcommand_from destroy gc' -l keep-on-teardown-failure -d 'keep the environment when on_destroy fails'
complete -c prenv -n '__fish_seen_subcommand_from status' -l all -d 'every environment in every context'
