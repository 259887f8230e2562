# bash completion for peer-agent(1): commands, their subcommands, options and
# the files or folders an option takes.
_peer_agent()
{
	local cur prev words cword
	_init_completion || return

	case $prev in
	--home | --dest)
		_filedir -d
		return
		;;
	--dot)
		_filedir
		return
		;;
	--log-level)
		COMPREPLY=($(compgen -W 'debug info warn error' -- "$cur"))
		return
		;;
	--email | --repository | --repositories | --name)
		return
		;;
	esac

	local cmd='' sub='' i
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--home | --dest | --dot | --log-level | --email | --repository | --repositories | --name)
			((i++))
			;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=${words[i]}
			elif [[ -z $sub ]]; then
				sub=${words[i]}
			fi
			;;
		esac
	done

	if [[ $cur == -* ]]; then
		local opts='--home --json --log-level --help --version'
		case $cmd in
		init) opts+=' --email --force' ;;
		peers) opts+=' --repository' ;;
		broadcast) opts+=' --repositories' ;;
		topology) opts+=' --dot' ;;
		ui) opts+=' --open' ;;
		torrent)
			case $sub in
			create) opts+=' --name' ;;
			get) opts+=' --dest --no-wait' ;;
			remove) opts+=' --delete-data' ;;
			esac
			;;
		esac
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi

	case $cmd in
	'')
		COMPREPLY=($(compgen -W 'init run status peers discover lookup broadcast
			topology torrent relay ui doctor' -- "$cur"))
		;;
	broadcast)
		[[ -z $sub ]] && COMPREPLY=($(compgen -W 'on off' -- "$cur"))
		;;
	torrent)
		if [[ -z $sub ]]; then
			COMPREPLY=($(compgen -W 'create list search get remove' -- "$cur"))
		elif [[ $sub == create || $sub == get ]]; then
			_filedir
		fi
		;;
	relay)
		[[ -z $sub ]] && COMPREPLY=($(compgen -W 'status' -- "$cur"))
		;;
	topology)
		_filedir -d
		;;
	esac
} &&
	complete -F _peer_agent peer-agent
