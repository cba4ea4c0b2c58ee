# bash completion for prenv(1); kept in step with `prenv --help` by
# test/e2e/test_install.py. Install: /usr/share/bash-completion/completions/prenv
_prenv()
{
	local cur prev words cword cmd i
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	local commands="context render deploy destroy status gc sleep wake touch list version"
	local globals="-c --config -o --output -v --verbose -q --quiet --dry-run --kubeconfig --env --now -h --help"

	case $prev in
	-c|--config|--kubeconfig)
		COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
	--out)
		COMPREPLY=($(compgen -d -- "$cur")); return 0 ;;
	-o|--output)
		COMPREPLY=($(compgen -W "text json yaml" -- "$cur")); return 0 ;;
	--forks)
		COMPREPLY=($(compgen -W "deploy skip" -- "$cur")); return 0 ;;
	--env|--wait|--now)
		return 0 ;;
	esac

	cmd=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-c|--config|--kubeconfig|-o|--output|--env|--wait|--out|--now|--forks) ((i++)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$globals" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return 0
	fi
	local opts="-h --help"
	case $cmd in
	context) opts="$opts -o" ;;
	render) opts="$opts -o --out --allow-missing" ;;
	deploy) opts="$opts --dry-run --wait --strict-report --forks --reseed" ;;
	destroy) opts="$opts --no-wait --dry-run --keep-on-teardown-failure" ;;
	status) opts="$opts -o --all" ;;
	list) opts="$opts -o" ;;
	gc) opts="$opts --dry-run --no-wait -o --keep-on-teardown-failure" ;;
	sleep|touch) opts="$opts --dry-run" ;;
	wake) opts="$opts --dry-run --wait" ;;
	esac
	[[ $cur == -* ]] && COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	return 0
}
complete -F _prenv prenv
