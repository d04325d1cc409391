#!/usr/bin/env bash
# End to end on kind, with the commands of the README's "Deploy on Kubernetes" section: a kind cluster, the three
# images built and loaded, the umbrella chart installed (upstream operators fetched by `helm dependency build`),
# the KETI ForecastPipeline applied, then: the pipeline Ready, forecasts in OpenTSDB, Grafana's API, `helm test`.
# Needs Docker, kind, kubectl, helm and the internet (base images, Maven Central, the chart repositories); it
# cannot run on the build machine of this project, only where those exist (e.g. .github/workflows/kind-e2e.yml).
#   bash hack/e2e-kind.sh            # KEEP_CLUSTER=1 leaves the cluster up; logs in out/e2e-kind on failure
set -euo pipefail
cd "$(dirname "$0")/.."
CLUSTER=${CLUSTER:-sensorcast-e2e}
NS=${NS:-sensorcast}
OUT=${OUT:-out/e2e-kind}
HELM=${HELM:-helm}
TIMEOUT=${TIMEOUT:-1800}  # seconds for the pipeline to become Ready and write forecasts

log() { printf '[%s] e2e-kind: %s\n' "$(date +%H:%M:%S)" "$*"; }
need() { command -v "$1" > /dev/null || { echo "e2e-kind needs $1 on PATH" >&2; exit 1; }; }
need docker; need kind; need kubectl; need "$HELM"

# repository:tag of an image, from its Dockerfile's labels (the tests check the charts name the same)
image_ref() {
  local df=images/$1/Dockerfile title version
  title=$(sed -n 's/.*org\.opencontainers\.image\.title="\([^"]*\)".*/\1/p' "$df")
  version=$(sed -n 's/.*org\.opencontainers\.image\.version="\([^"]*\)".*/\1/p' "$df")
  echo "$title:$version"
}

collect_logs() {
  log "collecting diagnostics into $OUT"
  mkdir -p "$OUT"
  kubectl get all,pvc,fp,kafka,kafkanodepool,kafkatopic,sparkapplication -A -o wide > "$OUT/objects.txt" 2>&1 || true
  kubectl -n "$NS" describe fp,sparkapplication,pods,jobs > "$OUT/describe.txt" 2>&1 || true
  kubectl get events -A --sort-by=.lastTimestamp > "$OUT/events.txt" 2>&1 || true
  for pod in $(kubectl -n "$NS" get pods -o name 2> /dev/null); do
    kubectl -n "$NS" logs "$pod" --all-containers --prefix > "$OUT/${pod#pod/}.log" 2>&1 || true
  done
  kind export logs "$OUT/kind" --name "$CLUSTER" > /dev/null 2>&1 || true
}
finish() {
  local rc=$?
  [ "$rc" = 0 ] || collect_logs
  if [ -z "${KEEP_CLUSTER:-}" ]; then kind delete cluster --name "$CLUSTER" > /dev/null 2>&1 || true; fi
  exit "$rc"
}
trap finish EXIT

# 1. cluster
if ! kind get clusters | grep -qx "$CLUSTER"; then
  log "creating kind cluster $CLUSTER"
  kind create cluster --name "$CLUSTER" --wait 180s
fi
kubectl config use-context "kind-$CLUSTER"

# 2. images: build and load into the cluster's node
for name in spark operator opentsdb; do
  ref=$(image_ref "$name")
  log "building $ref"
  docker build -f "images/$name/Dockerfile" -t "$ref" .
  kind load docker-image "$ref" --name "$CLUSTER"
done

# 3. the umbrella chart (README: Deploy on Kubernetes)
"$HELM" repo add strimzi https://strimzi.io/charts/ --force-update
"$HELM" repo add spark-operator https://kubeflow.github.io/spark-operator --force-update
"$HELM" dependency build charts/sensorcast
log "installing the umbrella into namespace $NS"
"$HELM" install sensorcast charts/sensorcast --namespace "$NS" --create-namespace \
  --set "spark-operator.spark.jobNamespaces={$NS}" --wait --timeout 20m
kubectl -n "$NS" wait kafka/sensorcast --for=condition=Ready --timeout=900s
kubectl -n "$NS" rollout status statefulset/opentsdb --timeout=600s
kubectl -n "$NS" rollout status deployment/sensorcast-operator --timeout=300s

# 4. the KETI pipeline (a GitHub runner has 4 CPUs: one executor instead of the example's two)
kubectl -n "$NS" apply -f operator/examples/keti.yaml
kubectl -n "$NS" patch fp keti --type merge -p '{"spec":{"spark":{"executor":{"instances":1}}}}'
log "waiting for ForecastPipeline keti to be Ready"
kubectl -n "$NS" wait fp/keti --for=condition=Ready --timeout="${TIMEOUT}s"

# 5. forecasts land in OpenTSDB (the sink's metric names)
log "waiting for sensorcast.prediction points in OpenTSDB"
deadline=$((SECONDS + TIMEOUT))
until kubectl -n "$NS" exec statefulset/opentsdb -c tsd -- \
    curl -fsS "http://127.0.0.1:4242/api/query?start=2000/01/01-00:00:00&m=sum:sensorcast.prediction" \
    | grep -q '"dps":{"'; do
  [ "$SECONDS" -lt "$deadline" ] || { echo "no forecasts in OpenTSDB after ${TIMEOUT}s" >&2; exit 1; }
  sleep 20
done

# 6. Grafana's API answers with the provisioned data source, and every chart's helm test passes
# shellcheck disable=SC2016  # expanded inside the Grafana pod, from its mounted admin Secret
kubectl -n "$NS" exec deployment/grafana -- sh -c \
  'wget -qO- --header "Authorization: Basic $(printf %s:%s "$(cat /etc/grafana-admin/admin-user)" "$(cat /etc/grafana-admin/admin-password)" | base64)" http://127.0.0.1:3000/api/datasources/uid/sensorcast-opentsdb'
"$HELM" test sensorcast --namespace "$NS" --timeout 10m
log "ok: pipeline Ready, forecasts in OpenTSDB, Grafana answers, helm tests pass"
