{{/* Names, labels and security contexts of the grafana chart. */}}
{{- define "grafana.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "grafana.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "grafana.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "grafana.selectorLabels" -}}
app.kubernetes.io/name: {{ include "grafana.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "grafana.labels" -}}
helm.sh/chart: {{ include "grafana.chart" . }}
{{ include "grafana.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sensorcast
{{- end -}}

{{- define "grafana.adminSecret" -}}
{{- default (printf "%s-admin" (include "grafana.fullname" .)) .Values.admin.existingSecret -}}
{{- end -}}

{{- define "grafana.image" -}}{{ printf "%s:%s" .Values.image.repository .Values.image.tag }}{{- end -}}
{{- define "grafana.url" -}}http://{{ include "grafana.fullname" . }}.{{ .Release.Namespace }}.svc:{{ .Values.service.port }}{{- end -}}

{{- define "grafana.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsGroup }}
fsGroup: {{ .Values.runAsGroup }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "grafana.containerSecurityContext" -}}
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

{{/* The admin credentials: Grafana reads them from the mounted Secret's files (GF_<KEY>__FILE), so the password is
in no environment variable. */}}
{{- define "grafana.adminEnv" -}}
- name: GF_SECURITY_ADMIN_USER__FILE
  value: /etc/grafana-admin/admin-user
- name: GF_SECURITY_ADMIN_PASSWORD__FILE
  value: /etc/grafana-admin/admin-password
{{- end -}}

{{- define "grafana.adminMount" -}}
- {name: admin, mountPath: /etc/grafana-admin, readOnly: true}
{{- end -}}

{{- define "grafana.adminVolume" -}}
- name: admin
  secret:
    secretName: {{ include "grafana.adminSecret" . }}
    defaultMode: 0440
{{- end -}}
