{{/* Names and labels of the kafka-cluster chart. */}}
{{- define "kafka-cluster.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Kafka resource's name (Strimzi derives every pod and service name from it). */}}
{{- define "kafka-cluster.clusterName" -}}
{{- default .Release.Name .Values.clusterName | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "kafka-cluster.bootstrap" -}}
{{- printf "%s-kafka-bootstrap.%s.svc:9092" (include "kafka-cluster.clusterName" .) .Release.Namespace -}}
{{- end -}}

{{- define "kafka-cluster.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kafka-cluster.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kafka-cluster.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kafka-cluster.labels" -}}
helm.sh/chart: {{ include "kafka-cluster.chart" . }}
{{ include "kafka-cluster.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sensorcast
{{- end -}}
