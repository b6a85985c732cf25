#!/usr/bin/env bash
# Fill a RunPod network volume (or any folder) with the models storybench's ComfyUI
# workflow templates use, in ComfyUI's layout: <dest>/models/{diffusion_models,text_encoders,vae}/.
#
# Usage: download_models.sh [--set NAME]... [--dest DIR] [--dry-run] [--list]
#   --set NAME   model set to fetch (repeatable; default: storybench):
#                  kontext-fp8   FLUX.1 Kontext [dev] fp8 + clip_l + t5xxl fp8 + ae   (~17 GB)
#                  kontext-full  FLUX.1 Kontext [dev] bf16 + clip_l + t5xxl fp16 + ae (~33 GB, gated)
#                  flux-dev      FLUX.1 [dev] + clip_l + t5xxl fp8 + ae               (~29 GB, gated)
#                  schnell       FLUX.1 [schnell] + clip_l + t5xxl fp8 + ae           (~29 GB)
#                  storybench    kontext-fp8 + flux-dev (the RunPod backend's default workflows)
#   --dest DIR   volume root; default /runpod-volume (serverless), else /workspace (pod), else .
#   --dry-run    print what would be downloaded, fetch nothing
#   --list       print the sets and exit
# Environment: HF_ENDPOINT (a Hugging Face mirror; default https://huggingface.co), HF_TOKEN (Hugging Face token; needed for the gated black-forest-labs repos,
# after accepting their licence on huggingface.co). The token is passed to curl on stdin,
# never on the command line, and never printed.
set -euo pipefail

HF="${HF_ENDPOINT:-https://huggingface.co}"   # HF_ENDPOINT: a mirror (the huggingface_hub convention)

# set -> lines of "<models subfolder> <target file name> <repo> <path in repo>"
set_files() {
    local clip="text_encoders clip_l.safetensors comfyanonymous/flux_text_encoders clip_l.safetensors"
    local t5fp8="text_encoders t5xxl_fp8_e4m3fn.safetensors comfyanonymous/flux_text_encoders t5xxl_fp8_e4m3fn.safetensors"
    local t5fp16="text_encoders t5xxl_fp16.safetensors comfyanonymous/flux_text_encoders t5xxl_fp16.safetensors"
    local ae="vae ae.safetensors Comfy-Org/Lumina_Image_2.0_Repackaged split_files/vae/ae.safetensors"
    case "$1" in
        kontext-fp8)
            echo "diffusion_models flux1-kontext-dev-fp8.safetensors Comfy-Org/flux1-kontext-dev_ComfyUI split_files/diffusion_models/flux1-dev-kontext_fp8_scaled.safetensors"
            printf '%s\n' "$clip" "$t5fp8" "$ae" ;;
        kontext-full)
            echo "diffusion_models flux1-kontext-dev.safetensors black-forest-labs/FLUX.1-Kontext-dev flux1-kontext-dev.safetensors"
            printf '%s\n' "$clip" "$t5fp16" "$ae" ;;
        flux-dev)
            echo "diffusion_models flux1-dev.safetensors black-forest-labs/FLUX.1-dev flux1-dev.safetensors"
            printf '%s\n' "$clip" "$t5fp8" "$ae" ;;
        schnell)
            echo "diffusion_models flux1-schnell.safetensors black-forest-labs/FLUX.1-schnell flux1-schnell.safetensors"
            printf '%s\n' "$clip" "$t5fp8" "$ae" ;;
        storybench)
            set_files kontext-fp8
            set_files flux-dev ;;
        *)
            echo "unknown model set: $1 (known: kontext-fp8 kontext-full flux-dev schnell storybench)" >&2
            return 2 ;;
    esac
}

SETS=()
DEST=""
DRY_RUN=0
while [ $# -gt 0 ]; do
    case "$1" in
        --set) SETS+=("${2:?--set needs a name}"); shift 2 ;;
        --dest) DEST="${2:?--dest needs a folder}"; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        --list)
            for s in kontext-fp8 kontext-full flux-dev schnell storybench; do
                echo "$s:"; set_files "$s" | awk '!seen[$0]++' | awk '{print "  models/" $1 "/" $2 "  <- " $3 "/" $4}'
            done
            exit 0 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ ${#SETS[@]} -eq 0 ] && SETS=(storybench)
if [ -z "$DEST" ]; then
    if [ -d /runpod-volume ]; then DEST=/runpod-volume
    elif [ -d /workspace ]; then DEST=/workspace
    else DEST=.; fi
fi

# Collect the files once (sets share encoders and the VAE).
FILES=$(for s in "${SETS[@]}"; do set_files "$s" || exit 2; done | sort -u)

fetch() {  # <url> <target>
    local url="$1" target="$2" part="$2.part"
    if [ -n "${HF_TOKEN:-}" ]; then
        printf 'header = "Authorization: Bearer %s"\n' "$HF_TOKEN" \
            | curl --config - --fail --location --retry 5 --retry-delay 5 --continue-at - --output "$part" "$url"
    else
        curl --fail --location --retry 5 --retry-delay 5 --continue-at - --output "$part" "$url"
    fi
    mv -f "$part" "$target"   # a file under its final name is always complete
}

status=0
while read -r folder name repo path; do
    [ -z "$folder" ] && continue
    target="$DEST/models/$folder/$name"
    url="$HF/$repo/resolve/main/$path"
    if [ -s "$target" ]; then
        echo "have   models/$folder/$name"
        continue
    fi
    if [ "$DRY_RUN" = 1 ]; then
        echo "would  models/$folder/$name  <- $url"
        continue
    fi
    echo "fetch  models/$folder/$name  <- $url"
    mkdir -p "$DEST/models/$folder"
    if ! fetch "$url" "$target"; then
        echo "FAILED models/$folder/$name (gated repo? accept its licence on huggingface.co and set HF_TOKEN)" >&2
        status=1
    fi
done <<< "$FILES"
echo "models under $DEST/models:"
[ "$DRY_RUN" = 1 ] || du -sh "$DEST"/models/* 2>/dev/null || true
exit $status
