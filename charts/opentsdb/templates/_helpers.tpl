{{/* Names, labels, security contexts and config of the opentsdb chart. */}}
{{- define "opentsdb.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "opentsdb.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "opentsdb.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "opentsdb.selectorLabels" -}}
app.kubernetes.io/name: {{ include "opentsdb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "opentsdb.labels" -}}
helm.sh/chart: {{ include "opentsdb.chart" . }}
{{ include "opentsdb.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sensorcast
{{- end -}}

{{- define "opentsdb.image" -}}{{ printf "%s:%s" .Values.image.repository .Values.image.tag }}{{- end -}}
{{- define "opentsdb.url" -}}http://{{ include "opentsdb.fullname" . }}.{{ .Release.Namespace }}.svc:{{ .Values.service.port }}{{- end -}}

{{- define "opentsdb.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsGroup }}
fsGroup: {{ .Values.runAsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "opentsdb.containerSecurityContext" -}}
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

{{- define "opentsdb.property" -}}
<property><name>{{ index . 0 }}</name><value>{{ index . 1 }}</value></property>
{{- end -}}

{{/* Every container of the pod: config read-only, /tmp writable, the data PVC. */}}
{{- define "opentsdb.volumeMounts" -}}
- name: config
  mountPath: /etc/opentsdb
  readOnly: true
- name: tmp
  mountPath: /tmp
- name: data
  mountPath: /data
{{- end -}}

{{/* Environment of every container: where the image's entrypoint finds its config. */}}
{{- define "opentsdb.env" -}}
- name: HBASE_CONF_DIR
  value: /etc/opentsdb
- name: TSD_CONF
  value: /etc/opentsdb/opentsdb.conf
- name: HADOOP_USER_NAME
  value: opentsdb
{{- end -}}
