{{/* Names, labels and security contexts of the sensorcast-operator chart. */}}
{{- define "sensorcast-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sensorcast-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "sensorcast-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sensorcast-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sensorcast-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sensorcast-operator.labels" -}}
helm.sh/chart: {{ include "sensorcast-operator.chart" . }}
{{ include "sensorcast-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sensorcast
{{- end -}}

{{- define "sensorcast-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sensorcast-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "sensorcast-operator.sparkServiceAccountName" -}}
{{- default (printf "%s-spark" .Release.Name | trunc 63 | trimSuffix "-") .Values.sparkServiceAccount.name -}}
{{- end -}}

{{/* The namespaces the operator watches (a list); empty when cluster-wide. */}}
{{- define "sensorcast-operator.namespaces" -}}
{{- if not .Values.clusterWide -}}
{{- $list := .Values.watchNamespaces | default (list .Release.Namespace) -}}
{{- toYaml $list -}}
{{- end -}}
{{- end -}}

{{- define "sensorcast-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* Restricted Pod Security Standard: pod and container security contexts. */}}
{{- define "sensorcast-operator.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsGroup }}
fsGroup: {{ .Values.runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "sensorcast-operator.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsGroup }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
