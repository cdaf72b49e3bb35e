# bash completion for resctrlctl                                   -*- shell-script -*-
# Commands, options, files for definitions, and domain names from the daemon (resctrlctl list
# --names, on the bus the command line names).

_resctrlctl_domains() {
    local bus=() i
    for ((i = 1; i < ${#COMP_WORDS[@]}; i++)); do
        case ${COMP_WORDS[i]} in
            --bus) bus=(--bus "${COMP_WORDS[i + 1]}") ;;
            --bus=*) bus=("${COMP_WORDS[i]}") ;;
        esac
    done
    "${COMP_WORDS[0]}" "${bus[@]}" list --names 2>/dev/null
}

_resctrlctl() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local commands="status list show layout capabilities validate start update stop stats counters top monitor"
    local global="--json --bus --bytes --quiet --help --version"
    local command="" operand=0 i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --bus | --pid | --threads | -n | --iterations | --sort) ((i++)) ;;
            -*) ;;
            *) if [[ -z $command ]]; then command=${COMP_WORDS[i]}; else ((operand++)); fi ;;
        esac
    done

    case $prev in
        --bus) COMPREPLY=($(compgen -W "system session" -- "$cur")); return ;;
        --sort) COMPREPLY=($(compgen -W "occupancy bandwidth" -- "$cur")); return ;;
        --pid | --threads | -n | --iterations) COMPREPLY=(); return ;;
    esac

    if [[ -z $command ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$global" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi

    local options=""
    case $command in
        capabilities) options="--xml" ;;
        start) options="--pid --threads --status" ;;
        top) options="--iterations --batch --sort" ;;
        monitor) options="--iterations" ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$global $options" -- "$cur"))
        return
    fi
    case $command:$operand in
        show:0 | stop:0 | stats:0 | update:0)
            COMPREPLY=($(compgen -W "$(_resctrlctl_domains)" -- "$cur")) ;;
        validate:0 | start:0 | update:1)
            COMPREPLY=($(compgen -f -- "$cur")) ;;
        *) COMPREPLY=() ;;
    esac
}

complete -F _resctrlctl resctrlctl
