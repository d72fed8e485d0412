#!/usr/bin/env bash
# Stage1's first steps (live-bootstrap's checksum-transcriber and simple-patch, the steps
# before the first one that needs an upstream distfile) twice: in the engine (BuildKit, on
# the Stage0 OCI layout in OUT) and in stage0-runner's emulator (the same root: Stage0's
# /bin as /usr/bin, M2libc, live-bootstrap's steps, Stage1's ENV and WORKDIR), then compares
# the files both produced with each other and with the checksums live-bootstrap records.
#
# usage: scripts/stage1-first-steps.sh STAGEX OUT STAGE0_RUNNER WORK
#   STAGEX         StageX checkout whose fetch/bootstrap/stage1 holds the live-bootstrap and
#                  M2libc tarballs (`stagex-pipeline build bootstrap-stage1 --engine docker
#                  --snapshots ... --missing-sources=continue` places them)
#   OUT            holds bootstrap-stage0/ (an OCI layout)
#   STAGE0_RUNNER  a stage0-runner binary (release build)
#   WORK           scratch directory (replaced)
# Exit 0 only when every file matches on both sides and the recorded checksums.
set -euo pipefail
STAGEX=$(realpath "$1") OUT=$(realpath "$2") RUNNER=$(realpath "$3") WORK=$4
CF=$STAGEX/packages/bootstrap/stage1/Containerfile
FETCH=$STAGEX/fetch/bootstrap/stage1
LB=$(ls "$FETCH"/live-bootstrap-*.tar.gz)
M2=$(ls "$FETCH"/m2libc-*.tar.gz)
LB_VERSION=$(basename "$LB" .tar.gz); LB_VERSION=${LB_VERSION#live-bootstrap-}
M2_VERSION=$(basename "$M2" .tar.gz); M2_VERSION=${M2_VERSION#m2libc-}
STEPS=(checksum-transcriber-1.0 simple-patch-1.0)
BINS=(checksum-transcriber simple-patch)
# The first step needing a distfile (mes-0.27 checks its sources first).
CUT=$(grep -n '^ENV pkg=mes-0.27' "$CF" | cut -d: -f1)
rm -rf "$WORK"; mkdir -p "$WORK"; WORK=$(realpath "$WORK")

echo "== engine: $CF up to line $((CUT - 1)), files exported"
head -n $((CUT - 1)) "$CF" >"$WORK/Containerfile.first"
cat >>"$WORK/Containerfile.first" <<EOF
FROM scratch AS first-steps
COPY --from=build /usr/bin/checksum-transcriber /usr/bin/simple-patch /usr/bin/
COPY --from=build /steps/checksum-transcriber-1.0.x86.checksums /steps/simple-patch-1.0.x86.checksums /steps/
EOF
start=$(date +%s)
(cd "$STAGEX" && SOURCE_DATE_EPOCH=1 docker buildx build --progress=plain --platform=linux/386 \
    --build-arg SOURCE_DATE_EPOCH=1 \
    --build-arg LIVE_BOOTSTRAP_VERSION="$LB_VERSION" --build-arg LIVE_BOOTSTRAP_SOURCE="$(basename "$LB")" \
    --build-arg M2LIBC_VERSION="$M2_VERSION" --build-arg M2LIBC_SOURCE="$(basename "$M2")" \
    --build-context fetch="$FETCH" \
    --build-context stagex/bootstrap-stage0=oci-layout://"$OUT/bootstrap-stage0" \
    --target first-steps --output type=local,dest="$WORK/engine" \
    -f "$WORK/Containerfile.first" packages/bootstrap/stage1) >"$WORK/engine.log" 2>&1 ||
    { tail -20 "$WORK/engine.log"; exit 1; }
echo "engine: $(( $(date +%s) - start )) s (log $WORK/engine.log)"

echo "== emulator: the same root, the same steps"
R=$WORK/root
mkdir -p "$R/usr" "$R/tmp" "$R/usr/lib/mes" "$R/usr/include/mes" "$R/external/distfiles" "$WORK/src" "$WORK/stage0"
python3 - "$OUT/bootstrap-stage0" "$WORK/stage0" <<'EOF'
import json, sys, tarfile
layout, dest = sys.argv[1], sys.argv[2]
blob = lambda d: f"{layout}/blobs/sha256/{d.split(':')[1]}"
index = json.load(open(f"{layout}/index.json"))
inner = json.load(open(blob(index["manifests"][0]["digest"])))
manifest = json.load(open(blob(inner["manifests"][0]["digest"])))
for layer in manifest["layers"]:
    with tarfile.open(blob(layer["digest"])) as t:
        t.extractall(dest)
EOF
mv "$WORK/stage0/bin" "$R/usr/bin"
tar -xzf "$M2" -C "$WORK/src"; cp -a "$WORK/src/M2libc-$M2_VERSION" "$R/M2libc"
tar -xzf "$LB" -C "$WORK/src"; cp -a "$WORK/src/live-bootstrap-$LB_VERSION/steps" "$R/steps"
cp "$FETCH"/* "$R/external/distfiles/"
# Stage1's ENV lines before the cut, ${VAR} expanded as BuildKit does.
mapfile -t ENVS < <(python3 - "$CF" "$CUT" <<'EOF'
import re, sys
env = {}
for n, line in enumerate(open(sys.argv[1]), 1):
    if n >= int(sys.argv[2]):
        break
    if line.startswith("ENV "):
        k, v = line[4:].strip().split("=", 1)
        env[k] = re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), v)
for k, v in env.items():
    if k != "pkg":
        print(f"{k}={v}")
EOF
)
args=()
for e in "${ENVS[@]}"; do args+=(--env "$e"); done
for pkg in "${STEPS[@]}"; do
    start=$(date +%s)
    "$RUNNER" exec -v --root "$R" --cwd "/steps/$pkg" "${args[@]}" --env "pkg=$pkg" \
        -- /usr/bin/kaem --verbose --file pass1.kaem >"$WORK/emulated-$pkg.log" 2>&1 ||
        { tail -20 "$WORK/emulated-$pkg.log"; exit 1; }
    echo "emulator: $pkg in $(( $(date +%s) - start )) s: $(tail -n 1 "$WORK/emulated-$pkg.log")"
done

echo "== compare"
bad=0
for i in "${!STEPS[@]}"; do
    pkg=${STEPS[$i]} bin=${BINS[$i]}
    recorded=$(cut -d' ' -f1 "$WORK/src/live-bootstrap-$LB_VERSION/steps/$pkg/$pkg.x86.checksums")
    engine=$(sha256sum "$WORK/engine/usr/bin/$bin" | cut -d' ' -f1)
    emulated=$(sha256sum "$R/usr/bin/$bin" | cut -d' ' -f1)
    echo "$bin: recorded $recorded engine $engine emulator $emulated"
    [ "$engine" = "$recorded" ] && [ "$emulated" = "$recorded" ] || bad=1
    cmp "$WORK/engine/steps/$pkg.x86.checksums" "$R/steps/$pkg.x86.checksums" || bad=1
done
[ $bad = 0 ] && echo "VERIFIED: engine = emulator = live-bootstrap's recorded checksums" || {
    echo "DIFFERENT"; exit 1; }
